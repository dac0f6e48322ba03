"""The request step (``get`` ... ``options``): render -> send -> check -> save -> report, the hot path.

Also how a request and its ``expect`` and ``save`` are built from YAML (for
``graphql`` and ``poll`` too) and compiled once.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from time import monotonic
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import urlencode

from greenlet import getcurrent

from engine import diagnose, timeouts
from engine.counters import Counters
from engine.durations import seconds
from engine.errors import Position, did_you_mean
from engine.expect import Checks
from engine.extract import Saver, save_all
from engine.model import METHODS, Expectation, Extractor, GraphQL, Match, Probe, RequestStep, Value
from engine.response import ResponseView
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram, truthy
from engine.steps.header_merge import HeaderPlan, form_value, merge_headers, over_layer
from engine.templates import RESPONSE_NAMES, Constant, Mapping_, Renderer, Scope, stats_name
from engine.timeouts import INFLIGHT, WATCH, RequestTimeout

log = logging.getLogger("engine.steps")
_JSON_TYPE = {"Content-Type": "application/json"}
_FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
_ABSOLUTE = re.compile(r"^https?://", re.IGNORECASE)
_STATUS_CLASS = re.compile(r"^[1-5]xx$")
SOURCES = ("jsonpath", "header", "cookie", "regex", "status", "body")
POOL_SIZE = 1000


class _Session:
    """Stands for a user where only its session headers matter: a constant request prepared at load, a dry run."""

    client_layer: Mapping[str, str] = MappingProxyType({})  # the engine's headers alone

    def __init__(self, session_headers: dict[str, str]) -> None:
        self.session_headers = session_headers
        self.header_cache: dict[Any, dict[str, str]] = {}


_NO_SESSION: Any = _Session({})


# -- build -------------------------------------------------------------------------
def build_request(method: str, node: MarkedDict, b: Building, on_failure: str | None = None) -> RequestStep:
    """A request (``method`` ``graphql``: a GraphQL operation, sent as a POST)."""
    bodies = [k for k in ("json", "form", "body", "graphql") if k in node]
    if len(bodies) > 1:
        b.sink.add(
            b.key_pos(node, bodies[1]),
            f"a request has one body: found both '{bodies[0]}' and '{bodies[1]}'",
        )
    expect = node.get("expect")
    graphql: GraphQL | None = None
    if method == "graphql":
        spec = node["graphql"]
        url = Value(spec.get("url", "/graphql"), b.pos(spec, "url") if "url" in spec else b.pos(node, method))
        graphql = GraphQL(
            query=Value(spec["query"], b.pos(spec, "query")),
            variables=b.value(spec, "variables"),
            operation=str(spec["operation"]) if "operation" in spec else None,
        )
        method = "post"
    else:
        url = Value(node[method], b.pos(node, method))
    name = node.get("name")
    if isinstance(name, str) and ("{{" in name or "{%" in name):
        b.sink.add(
            b.pos(node, "name"),
            "name: is a fixed row in Locust's statistics, not a template",
            "write a fixed name, or leave name out for the path with each {{ x }} shown as {x}",
        )
    return RequestStep(
        method=method.upper(),
        url=url,
        graphql=graphql,
        service=str(node["service"]) if "service" in node else None,
        pos=b.pos(node),
        name=node["name"] if isinstance(node.get("name"), str) else None,  # the schema reports others
        params=b.value(node, "params"),
        headers=b.value(node, "headers"),
        json=b.value(node, "json"),
        form=b.value(node, "form"),
        body=b.value(node, "body"),
        auth=b.value(node, "auth"),
        timeout=b.lenient(seconds, node["timeout"], None) if "timeout" in node else None,
        allow_redirects=node.get("allow_redirects"),
        expect=build_expectation(expect, b) if isinstance(expect, MarkedDict) else None,
        save=build_extractors(node.get("save"), b),
        counters=b.assignments(node.get("count")),
        on_failure="continue" if (on_failure or node.get("on_failure")) == "continue" else "stop",
    )


def _is_status(value: Any) -> bool:
    """A status code (int) or class ("2xx") that the compiler can use."""
    if isinstance(value, str):
        return _STATUS_CLASS.match(value) is not None
    return isinstance(value, int) and not isinstance(value, bool)


def build_extractors(node: Any, b: Building) -> tuple[Extractor, ...]:
    """``save:``: one extractor per variable."""
    built = []
    if not isinstance(node, dict):
        return ()
    for var, spec in node.items():
        pos = b.pos(node, var)
        if isinstance(spec, str):
            if spec.startswith("$"):  # else reported by the schema
                built.append(Extractor(str(var), "jsonpath", spec, None, pos))
            continue
        sources = [s for s in SOURCES if isinstance(spec, dict) and s in spec]
        if not sources:
            continue  # not an extractor: reported by the schema
        if len(sources) > 1:
            b.sink.add(
                b.key_pos(spec, sources[1]),
                f"an extractor reads one source: found both '{sources[0]}' and '{sources[1]}'",
            )
            continue
        source = sources[0]
        if source == "jsonpath" and not str(spec[source]).startswith("$"):
            continue  # reported by the schema
        if "group" in spec and source != "regex":
            b.sink.add(b.key_pos(spec, "group"), "'group' only applies to a regex extractor")
        arg = spec[source]
        built.append(
            Extractor(
                var=str(var),
                source=source,  # type: ignore[arg-type]
                arg="" if arg is True else str(arg),
                pick=spec.get("pick"),
                pos=b.pos(spec, source),
                group=spec.get("group"),
                default=b.value(spec, "default"),
                share=_share(spec.get("share"), b),
            )
        )
    return tuple(built)


def _share(spec: Any, b: Building) -> int | None:
    if spec is True:
        return POOL_SIZE
    if isinstance(spec, dict):
        return b.lenient(int, spec.get("max", POOL_SIZE), POOL_SIZE)
    return None


def build_expectation(node: MarkedDict, b: Building) -> Expectation:
    """``expect:`` (also a poll's ``until:``)."""
    status = node.get("status")
    statuses = tuple(status) if isinstance(status, list) else (() if status is None else (status,))
    statuses = tuple(s for s in statuses if _is_status(s))  # the schema reports the others
    contains = node.get("body_contains")
    contains_values: tuple[Value, ...] = ()
    if isinstance(contains, list):
        positions = getattr(contains, "item_pos", [])
        contains_values = tuple(
            Value(c, positions[i] if i < len(positions) else b.pos(node, "body_contains"))
            for i, c in enumerate(contains)
        )
    elif contains is not None:
        contains_values = (Value(contains, b.pos(node, "body_contains")),)
    return Expectation(
        pos=b.pos(node),
        status=statuses,
        json=tuple(p for p in _probes(node.get("json"), b) if p.key.startswith("$")),  # the schema reports others
        headers=_probes(node.get("headers"), b),
        body_contains=contains_values,
        body_matches=b.value(node, "body_matches"),
        max_ms=b.lenient(float, node["max_ms"], None) if "max_ms" in node else None,
        schema=b.value(node, "schema") if isinstance(node.get("schema"), (dict, bool, str)) else None,
    )


def _probes(node: Any, b: Building) -> tuple[Probe, ...]:
    built = []
    if not isinstance(node, dict):
        return ()
    for key, spec in node.items():
        pos = b.key_pos(node, key)
        if isinstance(spec, dict):
            ops = [op for op in spec if isinstance(op, str)]  # the schema reports the others
            matches = tuple(Match(op, Value(spec[op], b.pos(spec, op))) for op in ops)
        else:
            matches = (Match("eq", Value(spec, b.pos(node, key))),)
        built.append(Probe(str(key), pos, matches))
    return tuple(built)


# -- compile -----------------------------------------------------------------------
def compile_request(step: RequestStep, c: Compiling, known: set[str], name: str | None = None) -> RequestProgram:
    """A request's program; ``name`` overrides its stats name (a poll's)."""
    url = c.renderer(step.url.raw, step.url.pos, known)
    renderers: dict[str, Renderer] = {}
    for field_name in ("params", "headers", "json", "form", "body", "auth"):
        value = getattr(step, field_name)
        if value is not None:
            renderers[field_name] = c.renderer(value.raw, value.pos, known)
    if step.graphql is not None:
        graphql = step.graphql
        parts: list[tuple[Any, Renderer]] = [("query", c.renderer(graphql.query.raw, graphql.query.pos, known))]
        if graphql.variables is not None:
            parts.append(("variables", c.renderer(graphql.variables.raw, graphql.variables.pos, known)))
        if graphql.operation is not None:
            parts.append(("operationName", Constant(graphql.operation)))
        renderers["json"] = Mapping_(parts)
    for secret_field in (step.headers, step.params):
        if secret_field is not None:
            c.secret_fields(secret_field.raw, secret_field.pos)
    if step.auth is not None:  # [user, password]: the password (a single template: all of it)
        raw = step.auth.raw
        c.secret_value(raw[1] if isinstance(raw, list) and len(raw) == 2 else raw, step.auth.pos)
    for extractor in step.save:
        if extractor.source == "cookie":
            c.secrets.add(extractor.var)
    base_dir = Path(step.pos.file).parent
    is_graphql = step.graphql is not None
    checks = Checks(step.expect, base_dir, c.templates, c.sink, graphql=is_graphql, files=c.files, secrets=c.secrets)
    c.check_names(checks.renderers(), known | set(RESPONSE_NAMES))
    savers = [Saver(spec, c.templates, c.sink, c.pools) for spec in step.save]
    for saver in savers:
        if saver.default is not None:
            c.check_names(saver.default, known | set(RESPONSE_NAMES))
    known.update(saver.var for saver in savers)
    base: str | None = None
    if step.service is not None:
        if step.service not in c.services and step.service not in dict(c.scenario.services):
            hint = did_you_mean(step.service, c.services) or "declare it under services:"
            c.sink.add(step.pos, f"unknown service '{step.service}'", hint)
        base = c.services.get(step.service)
    if name is None and step.name is None and step.graphql is not None and step.graphql.operation:
        name = f"graphql {step.graphql.operation}"
    counters = [
        (counter, c.renderer(value.raw, value.pos, known | set(RESPONSE_NAMES))) for counter, value in step.counters
    ]
    defaults = c.scenario.defaults
    compiled = RequestProgram(
        step,
        url,
        renderers,
        checks,
        savers,
        c.default_headers,
        timeout=step.timeout if step.timeout is not None else defaults.timeout,
        allow_redirects=step.allow_redirects if step.allow_redirects is not None else defaults.allow_redirects,
        base=base,
        name=name,
        counters=counters,
        tally=c.counters,
    )
    c.request_names.add(compiled.name)
    return compiled


# -- run ---------------------------------------------------------------------------
class PollAttempt:
    """One attempt of a poll: the condition it waits for, whether it is the last, and whether it must go on."""

    __slots__ = ("last", "pending", "until")

    def __init__(self, until: Checks) -> None:
        self.until = until
        self.last = False
        self.pending = False


class RequestProgram(StepProgram):
    """Send one request, check it, save values from it and report it to Locust."""

    def __init__(
        self,
        spec: RequestStep,
        url: Renderer,
        renderers: dict[str, Renderer],
        checks: Checks,
        savers: list[Saver],
        default_headers: Renderer | None,
        timeout: float,
        allow_redirects: bool,
        base: str | None = None,
        name: str | None = None,
        counters: list[tuple[str, Renderer]] | None = None,
        tally: Counters | None = None,
    ) -> None:
        self.counters = counters or []
        self.tally = tally
        self.secrets = checks.secrets  # the scenario's: what a failure's message and log mask
        self.method = spec.method
        self.name = name or spec.name or stats_name(str(spec.url.raw))
        self.url = url
        self.base = base
        self.params = renderers.get("params")
        self.headers = renderers.get("headers")
        self.default_headers = default_headers
        self.auth = renderers.get("auth")
        self.body_kind = next((k for k in ("json", "form", "body") if k in renderers), None)
        self.body = renderers.get(self.body_kind) if self.body_kind else None
        self.timeout = timeout
        self.allow_redirects = allow_redirects
        self.send_key = (timeout, allow_redirects)
        self.checks = checks
        self.savers = savers
        self.keep_going = spec.on_failure == "continue"
        self.header_plan: HeaderPlan | None = None
        # headers with no template (the step's, the defaults', no auth): merged once, and once per user and
        # version of its session headers, whatever the URL and body do
        self.constant_headers = all(r is None or r.constant for r in (self.headers, default_headers, self.auth))
        if self.constant_headers:
            try:
                self.below_session, self.above_session = self._layers({})
                self.plain_headers = merge_headers(*self.below_session, *self.above_session)
                self.session_only = not any(self.below_session) and not any(self.above_session)
            except Exception:  # invalid values (reported at load) fail at run time, as a failed request
                self.constant_headers = False
        renderers_used = (url, self.params, self.body)
        self.fixed = self.constant_headers and all(r is None or r.constant for r in renderers_used)
        if self.fixed:  # nothing templated: the URL, body and headers are the same on every request
            try:
                self.fixed_url, _, self.fixed_data = self._build(_NO_SESSION, {})
            except Exception:  # invalid values (reported at load) fail at run time, as a failed request
                self.fixed = False
        if not self.constant_headers and self.auth is None and (default_headers is None or default_headers.constant):
            self.header_plan = HeaderPlan.of(self._below({}), self.headers)

    def _prepare(self, user: Runner, scope: Scope) -> tuple[str, dict[str, str], str | None]:
        if self.fixed:
            return self.fixed_url, self._merged(user), self.fixed_data
        return self._build(user, scope)

    def _merged(self, user: Runner) -> dict[str, str]:
        """Constant headers merged with the user's session headers (cached per version of them), over its client's
        layer (cached for every user of that layer while they have no session headers)."""
        session = user.session_headers
        layer = user.client_layer
        if not session:
            if not layer:
                return self.plain_headers
            merged = user.layer_headers.get(self)
            if merged is None:
                merged = user.layer_headers[self] = over_layer(layer, self.plain_headers)
            return merged
        if self.session_only and not layer:  # no header of its own: the session headers as they are (copied)
            return session
        merged = user.header_cache.get(self)  # a headers step starts a new cache
        if merged is None:
            merged = merge_headers(*self.below_session, session, *self.above_session)
            if layer:
                merged = over_layer(layer, merged)
            user.header_cache[self] = merged
        return merged

    def _layers(self, scope: Scope) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
        """The header layers below the session headers (body type, defaults) and above them (step, auth)."""
        below = self._below(scope)
        above: list[Mapping[str, Any]] = []
        if self.headers is not None:
            above.append(self.headers.render(scope))
        if self.auth is not None:
            username, password = self.auth.render(scope)
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            above.append({"Authorization": f"Basic {token}"})
        return below, above

    def _below(self, scope: Scope) -> list[Mapping[str, Any]]:
        below: list[Mapping[str, Any]] = []
        if self.body_kind == "json":
            below.append(_JSON_TYPE)
        elif self.body_kind == "form":
            below.append(_FORM_TYPE)
        if self.default_headers is not None:
            below.append(self.default_headers.render(scope))
        return below

    def _build(self, user: Runner, scope: Scope) -> tuple[str, dict[str, str], str | None]:
        url = str(self.url.render(scope))
        if self.base is not None and not _ABSOLUTE.match(url):
            url = self.base + url
        if self.params is not None:
            params = {k: form_value(v) for k, v in self.params.render(scope).items() if v is not None}
            if params:
                url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        data: str | None = None
        if self.body is not None:
            value = self.body.render(scope)
            if self.body_kind == "json":
                data = json.dumps(value)
            elif self.body_kind == "form":
                data = urlencode({k: form_value(v) for k, v in value.items()}, doseq=True)
            else:
                data = str(value)
        if self.constant_headers:
            return url, self._merged(user), data
        if self.header_plan is not None and not user.session_headers:
            headers = self.header_plan.render(scope)
        else:
            below, above = self._layers(scope)
            headers = merge_headers(*below, user.session_headers, *above)
        layer = user.client_layer
        return url, over_layer(layer, headers) if layer else headers, data

    def exchange(self, user: Runner, scope: Scope, attempt: PollAttempt | None = None) -> bool:
        """Send, check, save, report; False when the journey run must end (a failure without ``continue``).

        Within a poll, ``attempt.pending`` tells that ``until`` does not hold yet
        and more attempts may follow. This frame and the ones below it are live
        while the request waits on its socket, so the request goes straight to the
        client (see :attr:`Runner.request_options`) and ``run`` is this very method.
        The request runs under its deadline (see :mod:`engine.timeouts`).
        """
        try:
            url, headers, data = self._prepare(user, scope)
        except Exception as exc:
            user.report_failure(self.method, self.name, f"template error: {exc}", scope)
            return self.keep_going
        options = user.request_options[self.send_key]
        if not WATCH.on:
            timeouts.watch()
        request = getcurrent()
        INFLIGHT[request] = monotonic() + self.timeout
        try:
            sent = user.client.request(self.method, url, name=self.name, data=data, headers=headers, **options)
        except RequestTimeout:  # past the deadline where the client does not catch it (it reports nothing then)
            return self.timed_out(user, scope)
        finally:
            INFLIGHT.pop(request, None)
        with sent as response:
            status = response.status_code
            meta = response.request_meta
            # no response at all, or not all of it (the fast client keeps the error of a body cut short)
            if not status or meta["exception"] is not None:
                broken = user.transport_error(response, self.timeout)
                if broken is not None:
                    self.failed(response, broken, url, headers, scope)
                    return self.keep_going
            view = ResponseView(response, status, meta["response_time"], user.cookie)
            problems: list[str] = []
            try:
                self.checks.check(view, scope, problems)
                if attempt is not None and not problems:
                    waiting: list[str] = []
                    attempt.until.check(view, scope, waiting)
                    if waiting and not attempt.last:
                        attempt.pending = True
                        response.success()
                        return True
                    if waiting:
                        problems.append("poll: still not " + "; ".join(waiting))
                if self.savers and not problems:  # a response that fails its checks is not worth saving from
                    save_all(self.savers, view, scope, problems)
            except Exception as exc:
                if log.isEnabledFor(logging.DEBUG):
                    self.log_raised(exc, user, scope)
                problems.append(f"check error: {exc}")
            if self.counters:
                self.count(view, scope)
            if problems:
                self.failed(response, "; ".join(problems), url, headers, scope)
                return self.keep_going
            response.success()
            return True

    run = exchange  # no frame of its own under the request

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        rehearsal.request(self, scope)

    def prepared(self, session_headers: dict[str, str], scope: Scope) -> tuple[str, dict[str, str], str | None]:
        """URL (with its query), merged headers and body as :meth:`exchange` would send them (for a dry run)."""
        session: Any = _Session(session_headers)
        return self._prepare(session, scope)

    def timed_out(self, user: Runner, scope: Scope) -> bool:
        """A request past its deadline that the client did not report: a failure taking the whole timeout."""
        message = f"request timed out after {self.timeout:g}s"
        user.report_failure(self.method, self.name, message, scope, self.timeout * 1000)
        return self.keep_going

    def failed(self, response: Any, message: str, url: str, headers: dict[str, str], scope: Scope) -> None:
        """The response fails with ``message`` (see :func:`diagnose.failure`; a method: one stack slot less here)."""
        diagnose.failure(response, message, self, url, headers, scope)

    def log_raised(self, exc: Exception, user: Runner, scope: Scope) -> None:
        """A check that raised, with its traceback, at DEBUG (secrets masked)."""
        trace = "".join(traceback.format_exception(exc))
        log.debug("check of %s %s raised: %s", self.method, self.name, user.mask(trace, scope))

    def count(self, response: ResponseView, scope: Scope) -> None:
        """``count:``: add 1 to each counter whose condition holds (or its value, when it is a number)."""
        assert self.tally is not None
        context = Checks.response_scope(response, scope)
        for name, renderer in self.counters:
            try:
                value = renderer.render(context)
            except Exception:
                log.debug("count %s of %s %s raised", name, self.method, self.name, exc_info=True)
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                amount: float = value
            else:
                amount = 1 if truthy(value) else 0
            if amount:
                self.tally.add(name, amount)


class Request(StepKind[RequestStep]):
    """``get: /path`` (or another method): one HTTP request."""

    name = "request"
    keys: ClassVar[tuple[str, ...]] = METHODS
    schema = "requestStep"
    model = RequestStep
    program = RequestProgram

    def build(self, node: MarkedDict, b: Building) -> RequestStep | None:
        methods = [m for m in METHODS if m in node]
        if len(methods) > 1:
            b.sink.add(
                b.key_pos(node, methods[1]),
                f"one step sends one request: found both '{methods[0]}' and '{methods[1]}'",
                "split it into two steps",
            )
            return None
        return build_request(methods[0], node, b)

    def compile(self, step: RequestStep, c: Compiling, known: set[str]) -> StepProgram:
        return compile_request(step, c, known)

    def defines(self, step: RequestStep) -> Iterable[tuple[str, Position]]:
        return ((extractor.var, extractor.pos) for extractor in step.save)

    def requests(self, step: RequestStep) -> Iterable[RequestStep]:
        return (step,)


KIND = Request()
