"""Compiled steps: the hot path. One request = render -> send -> check -> save -> report.

Steps talk to the running user through the small :class:`Runner` protocol
(implemented in :mod:`engine.users`), so that nothing here imports Locust.
``run`` returns False when the journey run must end (a failed step without
``on_failure: continue``).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import random
import re
import time
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from time import monotonic
from typing import Any, Protocol
from urllib.parse import urlencode

from greenlet import getcurrent

from engine import diagnose, timeouts
from engine.counters import Counters
from engine.errors import Position
from engine.expect import Checks
from engine.extract import Saver, save_all
from engine.feeders import Exhausted, Feeder, FeederUnavailable
from engine.model import Assign, Choose, Feed, If, Log, Loop, Poll, Request, SetHeaders, Think
from engine.response import ResponseView
from engine.secrets import Secrets
from engine.sentinels import Sentinel
from engine.templates import Constant, Mapping_, Renderer, Scope, stats_name
from engine.timeouts import INFLIGHT, WATCH, RequestTimeout

log = logging.getLogger("engine.steps")
_JSON_TYPE = {"Content-Type": "application/json"}
_FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
_ABSOLUTE = re.compile(r"^https?://", re.IGNORECASE)


class _NoSession:
    """Stands for a user while a constant request is prepared at load time."""

    session_headers: dict[str, str] = {}


_NO_SESSION: Any = _NoSession()


_ABSENT = Sentinel("absent")


class StopRequested(Exception):
    """A step asks for its user to stop (a feeder ran out with ``on_exhausted: stop_user``)."""


def label(kind: str, pos: Position) -> str:
    """A stable stats name for a step that is not a request: ``loop (shop.yaml:42)``."""
    return f"{kind} ({Path(pos.file).name}:{pos.line})"


class Runner(Protocol):
    """What a step needs from the Locust user running it."""

    session_headers: dict[str, str]

    client: Any

    request_options: Mapping[tuple[float, bool], Mapping[str, Any]]
    """Keyword arguments for ``client.request`` besides name, data and headers (``catch_response=True``),
    by (timeout, allow_redirects): a lookup, not a call, on the hot path."""

    def transport_error(self, response: Any, timeout: float) -> str | None:
        """Why no response, or not all of it, arrived; None when it did (only its status is an error).

        Asked when the response has no status, or when the client recorded an error with it.
        """
        ...

    @property
    def secrets(self) -> Secrets:
        """The scenario's secret variables (to mask in messages and logs)."""
        ...

    def cookie(self, name: str) -> str | None: ...

    def think(self, seconds: float) -> None: ...

    def mask(self, text: str, scope: Scope) -> str:
        """``text`` with every secret value of ``scope`` and of the session headers masked."""
        ...

    def report_failure(self, method: str, name: str, message: str, scope: Scope, response_time: float = 0) -> None:
        """A failed request in Locust's stats, its message masked (see :meth:`mask`)."""
        ...


class StepProgram:
    """A compiled step."""

    def run(self, user: Runner, scope: Scope) -> bool:
        raise NotImplementedError


def run_steps(steps: list[StepProgram], user: Runner, scope: Scope) -> bool:
    """Run steps in order; False as soon as one says the run must end."""
    for step in steps:  # noqa: SIM110 (a plain loop, not all(genexpr): one frame less per step on the hot path)
        if not step.run(user, scope):
            return False
    return True


def header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def form_value(value: Any) -> Any:
    """A query or form value: booleans as true/false (as in headers), lists item by item."""
    if isinstance(value, list):
        return [form_value(item) for item in value]
    return header_text(value) if isinstance(value, bool) else value


def merge_headers(*layers: Mapping[str, Any]) -> dict[str, str]:
    """Later layers win; header names compare case-insensitively."""
    filled = [layer for layer in layers if layer]
    if len(filled) == 1 and all(isinstance(v, str) for v in filled[0].values()):
        return dict(filled[0])  # one layer of plain strings: nothing to merge
    merged: dict[str, str] = {}
    spelled: dict[str, str] = {}
    for layer in layers:
        for name, value in layer.items():
            key = name.lower()
            if key in spelled:
                del merged[spelled[key]]
            if value is None:
                spelled.pop(key, None)
                continue
            spelled[key] = name
            merged[name] = header_text(value)
    return merged


class HeaderPlan:
    """A step's headers merged at load time, when only their values are templated.

    For a step without ``auth``, whose defaults are constant and whose header
    names differ (ignoring case), the layers below the session headers are merged
    once; a request fills in the step's values, as :func:`merge_headers` would
    (a value overrides a default of the same name, None removes it). Only for
    users without session headers, which would sit between the two.
    """

    __slots__ = ("base", "items")

    def __init__(self, below: list[Mapping[str, Any]], step: list[tuple[str, Renderer]]) -> None:
        self.base = merge_headers(*below)
        spelled = {name.lower(): name for name in self.base}
        self.items = [(name, spelled.get(name.lower()), renderer) for name, renderer in step]

    @classmethod
    def of(cls, below: list[Mapping[str, Any]], headers: Renderer | None) -> HeaderPlan | None:
        """The plan for a step's headers (None when they need the general merge)."""
        if headers is None:
            step: list[tuple[Any, Renderer]] = []
        elif isinstance(headers, Mapping_):
            step = list(headers.items)
        elif isinstance(headers, Constant) and isinstance(headers.value, dict):
            step = [(name, Constant(value)) for name, value in headers.value.items()]
        else:
            return None
        if len({str(name).lower() for name, _ in step}) != len(step):
            return None
        return cls(below, [(str(name), renderer) for name, renderer in step])

    def render(self, scope: Scope) -> dict[str, str]:
        headers = self.base.copy()
        for name, shadowed, renderer in self.items:
            value = renderer.render(scope)
            if shadowed is not None:
                headers.pop(shadowed, None)
            if value is not None:
                headers[name] = value if type(value) is str else header_text(value)
        return headers


class PollAttempt:
    """One attempt of a poll: the condition it waits for, whether it is the last, and whether it must go on."""

    __slots__ = ("last", "pending", "until")

    def __init__(self, until: Checks) -> None:
        self.until = until
        self.last = False
        self.pending = False


class RequestStep(StepProgram):
    """Send one request, check it, save values from it and report it to Locust."""

    def __init__(
        self,
        spec: Request,
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
        renderers_used = (url, self.params, self.body, self.headers, default_headers, self.auth)
        self.fixed = all(r is None or r.constant for r in renderers_used)
        if self.fixed:  # nothing templated: the URL, body and headers are the same on every request
            try:
                self.fixed_url, self.fixed_headers, self.fixed_data = self._build(_NO_SESSION, {})
                session_below, session_above = self._layers({})
            except Exception:  # invalid values (reported at load) fail at run time, as a failed request
                self.fixed = False
            else:
                self.below_session = merge_headers(*session_below)
                self.above_session = merge_headers(*session_above)
        if not self.fixed and self.auth is None and (default_headers is None or default_headers.constant):
            self.header_plan = HeaderPlan.of(self._below({}), self.headers)

    def _prepare(self, user: Runner, scope: Scope) -> tuple[str, dict[str, str], str | None]:
        if self.fixed:
            session = user.session_headers
            if not session:
                return self.fixed_url, self.fixed_headers, self.fixed_data
            return self.fixed_url, merge_headers(self.below_session, session, self.above_session), self.fixed_data
        return self._build(user, scope)

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
        if self.header_plan is not None and not user.session_headers:
            return url, self.header_plan.render(scope), data
        below, above = self._layers(scope)
        headers = merge_headers(*below, user.session_headers, *above)
        return url, headers, data

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


class PollStep(StepProgram):
    """Repeat a request until ``until`` holds, pausing between attempts, within attempts and time bounds."""

    def __init__(self, spec: Poll, request: RequestStep, until: Checks) -> None:
        self.request = request
        self.until = until
        self.every = spec.every
        self.factor = spec.factor
        self.max_pause = spec.max_pause
        self.max_attempts = spec.max_attempts
        self.max_time = spec.max_time

    def run(self, user: Runner, scope: Scope) -> bool:
        started = time.monotonic()
        pause = self.every
        attempt = PollAttempt(self.until)
        attempts = 1
        while True:
            too_late = self.max_time is not None and time.monotonic() - started + pause > self.max_time
            attempt.last = attempts >= self.max_attempts or too_late
            attempt.pending = False
            goes_on = self.request.exchange(user, scope, attempt)
            if not attempt.pending:
                return goes_on
            user.think(pause)
            pause = pause * self.factor
            if self.max_pause is not None:
                pause = min(pause, self.max_pause)
            attempts += 1


class ThinkStep(StepProgram):
    """Pause; the user may be stopped gracefully meanwhile."""

    def __init__(self, spec: Think) -> None:
        self.low = spec.low
        self.high = spec.high

    def run(self, user: Runner, scope: Scope) -> bool:
        user.think(self.low if self.low == self.high else random.uniform(self.low, self.high))
        return True


class HeadersStep(StepProgram):
    """Set (or, with null, remove) session headers for the rest of the user's life."""

    def __init__(self, spec: SetHeaders, headers: Renderer) -> None:
        self.headers = headers
        self.where = f"headers step at line {spec.pos.line}"

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            values = self.headers.render(scope)
        except Exception as exc:
            user.report_failure("HEADERS", self.where, f"template error: {exc}", scope)
            return False
        user.session_headers = merge_headers(user.session_headers, values)
        return True


class SetStep(StepProgram):
    """Assign variables in order (each may use the ones before)."""

    def __init__(self, spec: Assign, values: list[tuple[str, Renderer]]) -> None:
        self.values = values
        self.where = f"set step at line {spec.pos.line}"

    def run(self, user: Runner, scope: Scope) -> bool:
        for name, renderer in self.values:
            try:
                scope[name] = renderer.render(scope)
            except Exception as exc:
                user.report_failure("SET", self.where, f"template error in {name}: {exc}", scope)
                return False
        return True


class LogStep(StepProgram):
    """Write a message to Locust's log."""

    def __init__(self, spec: Log, message: Renderer) -> None:
        self.message = message

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            text = str(self.message.render(scope))
        except Exception as exc:
            log.warning("log step: template error: %s", user.mask(str(exc), scope))
            return True
        if log.isEnabledFor(logging.INFO):
            log.info("%s", user.mask(text, scope))
        return True


def truthy(value: Any) -> bool:
    """A condition's value as a boolean (the text "false" is false too)."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none")
    return bool(value)


class IfStep(StepProgram):
    """Run ``then`` when the condition holds, else ``otherwise``."""

    def __init__(self, spec: If, condition: Renderer, then: list[StepProgram], otherwise: list[StepProgram]) -> None:
        self.condition = condition
        self.then = then
        self.otherwise = otherwise
        self.label = label("if", spec.pos)

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            holds = truthy(self.condition.render(scope))
        except Exception as exc:
            user.report_failure("IF", self.label, f"template error: {exc}", scope)
            return False
        return run_steps(self.then if holds else self.otherwise, user, scope)


class LoopStep(StepProgram):
    """Repeat steps ``count`` times, ``over`` a list, or ``while`` a condition holds; never past ``max`` rounds."""

    def __init__(self, spec: Loop, arg: Renderer, steps: list[StepProgram]) -> None:
        self.kind = spec.kind
        self.arg = arg
        self.steps = steps
        self.item = spec.item
        self.index = spec.index
        self.max = spec.max
        self.label = label("loop", spec.pos)

    def fail(self, user: Runner, message: str, scope: Scope) -> bool:
        user.report_failure("LOOP", self.label, message, scope)
        return False

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            value = self.arg.render(scope)
        except Exception as exc:
            return self.fail(user, f"template error: {exc}", scope)
        if self.kind == "count":
            if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
                return self.fail(user, "loop count is not a whole number", scope)
            if int(value) > self.max:
                return self.fail(user, f"loop count: more than {self.max} rounds (raise max)", scope)
            for index in range(int(value)):
                scope[self.index] = index
                if not run_steps(self.steps, user, scope):
                    return False
            return True
        if self.kind == "over":
            if not isinstance(value, (list, tuple)):
                return self.fail(user, "loop over: the value is not a list", scope)
            if len(value) > self.max:
                return self.fail(user, f"loop over: more than {self.max} items (raise max)", scope)
            for index, item in enumerate(value):
                scope[self.index], scope[self.item] = index, item
                if not run_steps(self.steps, user, scope):
                    return False
            return True
        index = 0
        while True:
            try:
                holds = truthy(self.arg.render(scope)) if index else truthy(value)
            except Exception as exc:
                return self.fail(user, f"template error: {exc}", scope)
            if not holds:
                return True
            if index >= self.max:
                return self.fail(user, f"loop while: still true after {self.max} rounds", scope)
            scope[self.index] = index
            if not run_steps(self.steps, user, scope):
                return False
            index += 1


class ChooseStep(StepProgram):
    """Run one branch, picked at random by weight."""

    def __init__(self, spec: Choose, branches: list[list[StepProgram]]) -> None:
        self.branches = branches
        self.cumulative = list(itertools.accumulate(weight for weight, _ in spec.branches))

    def run(self, user: Runner, scope: Scope) -> bool:
        (branch,) = random.choices(self.branches, cum_weights=self.cumulative)
        return run_steps(branch, user, scope)


class UseStep(StepProgram):
    """Run a fragment's steps with its parameters set as variables."""

    def __init__(self, name: str, args: list[tuple[str, Renderer]], steps: list[StepProgram], where: str) -> None:
        self.name = name
        self.args = args
        self.steps = steps
        self.label = where

    def run(self, user: Runner, scope: Scope) -> bool:
        """Parameters are variables during the fragment only; what it saves or sets stays."""
        values = {}
        for param, renderer in self.args:
            try:
                values[param] = renderer.render(scope)
            except Exception as exc:
                user.report_failure("USE", self.label, f"template error in {param}: {exc}", scope)
                return False
        before = {param: scope.get(param, _ABSENT) for param in values}
        scope.update(values)
        try:
            return run_steps(self.steps, user, scope)
        finally:
            for param, value in values.items():
                if scope.get(param, _ABSENT) is value:  # not re-assigned by the fragment: restore
                    if before[param] is _ABSENT:
                        del scope[param]
                    else:
                        scope[param] = before[param]


class FeedStep(StepProgram):
    """Take the next row of a feeder into a variable."""

    def __init__(self, spec: Feed, feeder: Feeder) -> None:
        self.feeder = feeder
        self.var = spec.var
        self.label = label("feed", spec.pos)

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            scope[self.var] = self.feeder.take()
        except Exhausted as exc:
            if exc.policy == "stop_user":
                raise StopRequested(str(exc)) from None
            user.report_failure("FEED", self.label, str(exc), scope)
            return False
        except FeederUnavailable as exc:  # a worker that the master could not serve
            user.report_failure("FEED", self.label, str(exc), scope)
            return False
        return True


def iter_requests(steps: list[StepProgram]) -> Iterator[RequestStep]:
    """Every request step in ``steps``, also inside blocks, polls and fragments."""
    for step in steps:
        if isinstance(step, RequestStep):
            yield step
        elif isinstance(step, PollStep):
            yield step.request
        elif isinstance(step, IfStep):
            yield from iter_requests(step.then)
            yield from iter_requests(step.otherwise)
        elif isinstance(step, (LoopStep, UseStep)):
            yield from iter_requests(step.steps)
        elif isinstance(step, ChooseStep):
            for branch in step.branches:
                yield from iter_requests(branch)
