"""Stage 3: schema-valid plain data -> the frozen model of :mod:`engine.model`.

Also the checks that JSON Schema cannot express well (one method per request,
one source per extractor, unique user class names). Problems are collected in
an :class:`ErrorSink`; a node that cannot be built is left out so that the rest
of the file is still checked.
"""

from __future__ import annotations

import locale as pylocale
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, get_args

from engine.errors import ErrorSink, Position, did_you_mean
from engine.model import (
    METHODS,
    Assign,
    Choose,
    Defaults,
    Expectation,
    Extractor,
    Feed,
    FeederSpec,
    Fragment,
    GraphQL,
    If,
    Journey,
    Limits,
    Log,
    Loop,
    Match,
    OnExhausted,
    Persona,
    Poll,
    Request,
    Scenario,
    SetHeaders,
    Step,
    Strategy,
    Target,
    Think,
    Threshold,
    Use,
    Value,
    Wait,
)
from engine.profiles import Profile, Stage
from engine.source import MarkedDict

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$")
SOURCES = ("jsonpath", "header", "cookie", "regex", "status", "body")
PROFILE_KINDS = ("stages", "ramp", "step", "spike", "wave", "soak")
DURATION_PARAMS = frozenset({"up", "hold", "down", "every", "baseline_time", "peak_time", "recovery", "period", "ramp"})
TIME_METRICS = frozenset({"p50", "p90", "p95", "p99", "avg", "max", "min"})
NUMBER_METRICS = frozenset({"rps", "requests", "failures"})
_PLAIN_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_LIMIT = re.compile(r"^[0-9]+(?:\.[0-9]+)?(?:ms|s|m|%)?$")  # as the schema's threshold limits
POOL_SIZE = 1000
_INVALID = (AttributeError, KeyError, TypeError, ValueError, IndexError)
_STATUS_CLASS = re.compile(r"^[1-5]xx$")
T = TypeVar("T")


def seconds(value: Any) -> float:
    """A schema-valid duration (number of seconds or "500ms"/"2s"/"1m"/"1h") in seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _is_status(value: Any) -> bool:
    """A status code (int) or class ("2xx") that the compiler can use."""
    if isinstance(value, str):
        return _STATUS_CLASS.match(value) is not None
    return isinstance(value, int) and not isinstance(value, bool)


def _plain_number(raw: Any) -> float | None:
    """A threshold limit without a unit (300, 0.5 or "300") as a float, else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str) and _PLAIN_NUMBER.match(raw):
        return float(raw)
    return None


def _mapping(node: Any) -> MarkedDict:
    """``node`` if it is a mapping, else an empty one (a wrong type is reported by the schema)."""
    return node if isinstance(node, MarkedDict) else MarkedDict()


def lenient(convert: Callable[[Any], T], value: Any, default: T) -> T:
    """``convert(value)``, or ``default`` for a value the schema has already reported as invalid.

    Building goes on past such values so that the rest of the file (templates,
    JSONPaths, regexes) is still checked and every problem is reported at once.
    """
    try:
        return convert(value)
    except _INVALID:
        return default


def _choice(value: Any, allowed: Any, default: Any) -> Any:
    """``value`` if it is one of the ``Literal`` type ``allowed``, else ``default`` (the schema reported it)."""
    return value if isinstance(value, str) and value in get_args(allowed) else default


class _Builder:
    def __init__(self, root: Any, path: Path, sink: ErrorSink) -> None:
        self.root = root
        self.path = path
        self.sink = sink
        self.file = str(path)
        self.library = False

    # -- helpers -----------------------------------------------------------------
    def pos(self, node: Any, key: Any = None) -> Position:
        if isinstance(node, MarkedDict) and key is not None:
            return node.value_pos.get(key, node.pos)
        return getattr(node, "pos", Position(self.file, 1, 1))

    def key_pos(self, node: Any, key: Any) -> Position:
        if isinstance(node, MarkedDict):
            return node.key_pos.get(key, node.pos)
        return self.pos(node)

    def value(self, node: MarkedDict, key: str) -> Value | None:
        if key not in node:
            return None
        return Value(node[key], self.pos(node, key))

    # -- scenario ----------------------------------------------------------------
    def scenario(self) -> Scenario:
        data = self.root
        defaults_node = _mapping(data.get("defaults"))
        client = defaults_node.get("client", "http")
        defaults = Defaults(
            headers=self.value(defaults_node, "headers"),
            timeout=lenient(seconds, defaults_node.get("timeout", 60), 60.0),
            verify_tls=bool(defaults_node.get("verify_tls", True)),
            allow_redirects=bool(defaults_node.get("allow_redirects", True)),
        )
        faker = _mapping(data.get("faker"))
        locale = faker.get("locale", "en_US")
        if not isinstance(locale, (str, list)):
            locale = "en_US"  # reported by the schema
        elif "locale" in faker:
            self.check_locales(faker)
        users, solos = _mapping(data.get("users")), _mapping(data.get("journeys"))
        personas: list[Persona] = []
        for name, node in users.items():
            try:
                personas.append(self.persona(name, node, client))
            except _INVALID:
                continue
        for name, node in solos.items():
            if name in users:
                self.sink.add(
                    self.key_pos(solos, name),
                    f"'{name}' is both a user and a top-level journey",
                    "user class names must be unique: rename one",
                )
                continue
            try:
                personas.append(self.solo(name, node, client))
            except _INVALID:
                continue
        if not users and not solos and not self.library:
            self.sink.add(
                self.pos(data),
                "a scenario needs users: or journeys:",
                "a file with only vars, fragments, data or services can be included by a scenario, not run",
            )
        return Scenario(
            services=self.assignments(_mapping(data.get("services"))),
            fragments=self.fragments(_mapping(data.get("fragments"))),
            feeders=self.feeders(_mapping(data.get("data"))),
            setup=self.steps(data.get("setup") or []),
            teardown=self.steps(data.get("teardown") or []),
            profiles=self.profiles(_mapping(_mapping(data.get("load")).get("profiles"))),
            default_profile=_mapping(data.get("load")).get("default"),
            default_profile_pos=self.pos(data["load"], "default") if "default" in _mapping(data.get("load")) else None,
            thresholds=self.thresholds(data.get("thresholds")),
            path=self.path,
            name=str(data.get("name") or self.path.stem),
            pos=self.pos(data),
            description=str(data.get("description") or ""),
            host=self.value(data, "host"),
            vars=self.assignments(_mapping(data.get("vars"))),
            defaults=defaults,
            faker_locale=(locale,) if isinstance(locale, str) else tuple(str(item) for item in locale),
            faker_seed=faker.get("seed") if isinstance(faker.get("seed"), int) else None,
            personas=tuple(personas),
            limits=self.limits(_mapping(data.get("limits"))),
            secrets=self.secrets(data.get("secrets")),
        )

    def check_locales(self, faker: MarkedDict) -> None:
        """Faker fails on an unknown locale only when ``fake`` is first used: report it here instead."""
        from faker.config import AVAILABLE_LOCALES

        node = faker["locale"]
        items = [(node, self.pos(faker, "locale"))] if isinstance(node, str) else zip(node, node.item_pos, strict=True)
        for locale, pos in items:
            if not isinstance(locale, str):
                continue
            normal = pylocale.normalize(locale.replace("-", "_")).split(".")[0]  # as Faker does
            if normal not in AVAILABLE_LOCALES:
                self.sink.add(pos, f"unknown Faker locale '{locale}'", did_you_mean(locale, AVAILABLE_LOCALES))

    def fragments(self, node: MarkedDict) -> dict[str, Fragment]:
        built = {}
        for name, spec in node.items():
            params: tuple[tuple[str, Value | None], ...] = ()
            steps: Any = spec
            if isinstance(spec, MarkedDict):
                declared = spec.get("params") or []
                if isinstance(declared, MarkedDict):
                    params = tuple((str(k), Value(v, self.pos(declared, k))) for k, v in declared.items())
                elif isinstance(declared, list):
                    params = tuple((str(k), None) for k in declared)
                steps = spec.get("steps") or []
            if isinstance(steps, list):
                built[str(name)] = Fragment(str(name), params, self.steps(steps), self.key_pos(node, name))
        return built

    def feeders(self, node: MarkedDict) -> tuple[FeederSpec, ...]:
        built = []
        for name, spec in node.items():
            if not isinstance(spec, MarkedDict):
                continue
            sources = [k for k in ("csv", "json", "rows") if k in spec]
            if len(sources) != 1:
                if len(sources) > 1:
                    self.sink.add(
                        self.key_pos(spec, sources[1]),
                        f"a feeder reads one source: found both '{sources[0]}' and '{sources[1]}'",
                    )
                continue
            source = sources[0]
            if "delimiter" in spec and source != "csv":
                self.sink.add(self.key_pos(spec, "delimiter"), "'delimiter' only applies to a csv feeder")
            built.append(
                FeederSpec(
                    name=str(name),
                    source=source,  # type: ignore[arg-type]
                    pos=self.pos(spec, source),
                    path=str(spec[source]) if source != "rows" else None,
                    rows=tuple(spec[source]) if source == "rows" else (),
                    strategy=_choice(spec.get("strategy"), Strategy, "sequential"),
                    on_exhausted=_choice(spec.get("on_exhausted"), OnExhausted, "stop_user"),
                    delimiter=str(spec.get("delimiter", ",")),
                )
            )
        return tuple(built)

    def profiles(self, node: MarkedDict) -> tuple[Profile, ...]:
        built = []
        for name, spec in node.items():
            try:
                built.append(self.profile(str(name), spec))
            except _INVALID:
                continue  # reported by the schema
        return tuple(built)

    def secrets(self, node: Any) -> tuple[tuple[tuple[str, ...], Position], ...]:
        """``secrets: [password, shopper.password]``: variables, or keys of one (the schema reports malformed items)."""
        if not isinstance(node, list):
            return ()
        positions = getattr(node, "item_pos", None) or [self.pos(node)] * len(node)
        return tuple(
            (tuple(item.split(".")), pos)
            for item, pos in zip(node, positions, strict=False)
            if isinstance(item, str) and item and "" not in item.split(".")
        )

    def limits(self, node: dict[str, Any]) -> Limits:
        default = Limits()
        size = node.get("template_size")
        return Limits(
            template_size=size if isinstance(size, int) and not isinstance(size, bool) else default.template_size,
            template_time=lenient(seconds, node.get("template_time", default.template_time), default.template_time),
        )

    def profile(self, name: str, spec: MarkedDict) -> Profile:
        kinds = [k for k in PROFILE_KINDS if k in spec]
        if len(kinds) > 1:
            self.sink.add(self.key_pos(spec, kinds[1]), f"a profile has one shape: found '{kinds[0]}' and '{kinds[1]}'")
        kind = kinds[0]
        if kind == "stages":
            stages = tuple(
                Stage(
                    duration=seconds(stage["duration"]),
                    users=int(stage["users"]),
                    spawn_rate=float(stage.get("spawn_rate", max(int(stage["users"]), 1))),
                    personas=tuple(stage["personas"]) if "personas" in stage else None,
                    pos=self.pos(stage, "personas") if "personas" in stage else None,
                )
                for stage in spec["stages"]
            )
            return Profile(name, kind, {}, stages)
        params: dict[str, Any] = {}
        for key, value in spec[kind].items():
            params[key] = seconds(value) if key in DURATION_PARAMS else value
        if kind == "step":
            params.setdefault("start", params["add"])
        if kind == "spike":
            params.setdefault("baseline_time", 60.0)
            params.setdefault("recovery", 60.0)
        if kind == "soak":
            params.setdefault("ramp", 60.0)
        return Profile(name, kind, params)

    def thresholds(self, node: Any) -> tuple[Threshold, ...]:
        built = []
        for spec in node if isinstance(node, list) else []:
            if not isinstance(spec, MarkedDict) or "metric" not in spec:
                continue
            bounds = [b for b in ("below", "above") if b in spec]
            if len(bounds) != 1:
                if len(bounds) > 1:
                    self.sink.add(self.key_pos(spec, "above"), "a threshold has either below or above, not both")
                continue
            if "request" in spec and "journey" in spec:
                self.sink.add(self.key_pos(spec, "journey"), "a threshold applies to a request or a journey, not both")
            if "method" in spec and "request" not in spec:
                self.sink.add(self.key_pos(spec, "method"), "'method' only applies with request:")
            bound = bounds[0]
            metric = str(spec["metric"])
            limit = self.limit(metric, spec[bound], self.pos(spec, bound))
            if limit is None:
                continue
            method = f"{spec['method']} " if "method" in spec else ""
            scope = f" for {method}{spec['request']}" if "request" in spec else ""
            scope = f" for journey {spec['journey']}" if "journey" in spec else scope
            window = f" over {spec['for']}" if "for" in spec else ""
            built.append(
                Threshold(
                    metric=metric,
                    bound=bound,  # type: ignore[arg-type]
                    limit=limit,
                    text=f"{metric} {bound} {spec[bound]}{scope}{window}",
                    pos=self.pos(spec),
                    limit_pos=self.pos(spec, bound),
                    request=str(spec["request"]) if "request" in spec else None,
                    method=spec.get("method"),
                    journey=str(spec["journey"]) if "journey" in spec else None,
                    window=lenient(seconds, spec["for"], None) if "for" in spec else None,
                    abort=bool(spec.get("abort", False)),
                )
            )
        return tuple(built)

    def limit(self, metric: str, raw: Any, pos: Position) -> float | None:
        """A threshold's limit in the metric's unit: ms for times, a fraction for error_rate, else a number.

        For a metric that is not built in (a counter, or a typo the compiler reports
        as an unknown metric) a limit with a unit is NaN: the compiler says which.
        """
        text = str(raw)
        number = _plain_number(raw)
        if number is None and not _LIMIT.match(text):
            return None  # not a number, time or percentage: reported by the schema
        if metric in TIME_METRICS:
            if number is not None:
                return number  # a bare number is milliseconds, as Locust shows them
            if text.endswith("%"):
                self.sink.add(pos, f"{metric} is a response time: give it like 300ms or 2s, not {text}")
                return None
            return lenient(seconds, text, -1.0) * 1000
        if metric == "error_rate":
            if text.endswith("%"):
                return lenient(float, text[:-1], 0.0) / 100
            if number is not None and number <= 1:
                return number
            self.sink.add(pos, f"error_rate is a rate: give it like 1% or 0.01, not {text}")
            return None
        if number is not None:
            return number
        if metric in NUMBER_METRICS:
            self.sink.add(pos, f"{metric} is a number: give it without a unit, not {text}")
            return None
        return math.nan

    def assignments(self, node: MarkedDict) -> tuple[tuple[str, Value], ...]:
        return tuple((str(k), Value(v, self.pos(node, k))) for k, v in node.items())

    def wait(self, node: Any) -> Wait:
        if node is None:
            return Wait("constant", (0.0,))
        if not isinstance(node, dict):
            return Wait("constant", (seconds(node),))
        ((kind, arg),) = node.items()
        if kind == "between":
            low, high = seconds(arg[0]), seconds(arg[1])
            if low > high:
                self.sink.add(self.pos(node, kind), "between: the minimum is larger than the maximum")
            return Wait("between", (low, high))
        if kind == "throughput":
            return Wait("throughput", (float(arg),))
        return Wait(kind, (seconds(arg),))

    def persona(self, name: str, node: MarkedDict, client: str) -> Persona:
        journeys = []
        for jname, jnode in (node.get("journeys") or {}).items():
            try:
                journeys.append(self.journey(jname, jnode))
            except _INVALID:
                continue
        return Persona(
            name=name,
            pos=self.key_pos(self.root["users"], name),
            journeys=tuple(journeys),
            weight=lenient(int, node.get("weight", 1), 1),
            fixed_count=node.get("fixed_count"),
            client=node.get("client", client),
            wait=lenient(self.wait, node.get("wait"), Wait("constant", (0.0,))),
            on_start=self.steps(node.get("on_start") or []),
            on_stop=self.steps(node.get("on_stop") or []),
        )

    def solo(self, name: str, node: MarkedDict, client: str) -> Persona:
        journey = Journey(
            name=name,
            weight=1,
            tags=tuple(node.get("tags") or ()),
            steps=self.steps(node.get("steps") or []),
            pos=self.key_pos(self.root["journeys"], name),
        )
        return Persona(
            name=name,
            pos=journey.pos,
            journeys=(journey,),
            weight=lenient(int, node.get("weight", 1), 1),
            fixed_count=node.get("fixed_count"),
            client=node.get("client", client),
            wait=lenient(self.wait, node.get("wait"), Wait("constant", (0.0,))),
            on_start=self.steps(node.get("on_start") or []),
            on_stop=self.steps(node.get("on_stop") or []),
        )

    def journey(self, name: str, node: MarkedDict) -> Journey:
        return Journey(
            name=str(name),
            weight=lenient(int, node.get("weight", 1), 1),
            tags=tuple(str(t) for t in node.get("tags") or ()),
            steps=self.steps(node.get("steps") or []),
            pos=self.pos(node),
        )

    # -- steps -------------------------------------------------------------------
    def steps(self, nodes: list[Any]) -> tuple[Step, ...]:
        built = []
        for node in nodes:
            if not isinstance(node, MarkedDict):
                continue
            try:
                step = self.step(node)
            except _INVALID:  # schema errors are reported already; keep checking the rest
                continue
            if step is not None:
                built.append(step)
        return tuple(built)

    def step(self, node: MarkedDict) -> Step | None:
        """One step; an ``if`` on a step that is not an if block guards it (with ``else``)."""
        if "if" in node and "then" not in node:
            inner = self.kind(node)
            if inner is None:
                return None
            otherwise = self.steps(node.get("else") or [])
            return If(Value(node["if"], self.pos(node, "if")), (inner,), otherwise, self.pos(node))
        return self.kind(node)

    def kind(self, node: MarkedDict) -> Step | None:
        pos = self.pos(node)
        if "then" in node:
            condition = Value(node["if"], self.pos(node, "if"))
            return If(condition, self.steps(node["then"] or []), self.steps(node.get("else") or []), pos)
        if "loop" in node:
            return self.loop(node)
        if "choose" in node:
            branches = tuple(
                (lenient(int, branch.get("weight", 1), 1), self.steps(branch.get("steps") or []))
                for branch in node["choose"]
                if isinstance(branch, dict)
            )
            if branches and not any(weight for weight, _ in branches):
                self.sink.add(self.pos(node, "choose"), "choose: every branch has weight 0")
            return Choose(branches, pos)
        if "poll" in node:
            return self.poll(node)
        if "use" in node:
            args = _mapping(node.get("with"))
            return Use(str(node["use"]), tuple((str(k), Value(v, self.pos(args, k))) for k, v in args.items()), pos)
        if "feed" in node:
            spec = node["feed"]
            if isinstance(spec, dict):
                return Feed(str(spec["from"]), str(spec.get("as", spec["from"])), pos)
            return Feed(str(spec), str(spec), pos)
        if "graphql" in node and not any(m in node for m in METHODS):
            return self.request("graphql", node)
        methods = [m for m in METHODS if m in node]
        if len(methods) > 1:
            self.sink.add(
                self.key_pos(node, methods[1]),
                f"one step sends one request: found both '{methods[0]}' and '{methods[1]}'",
                "split it into two steps",
            )
            return None
        if methods:
            return self.request(methods[0], node)
        if "think" in node:
            think = node["think"]
            if isinstance(think, dict):
                low, high = (seconds(v) for v in think["between"])
                if low > high:
                    self.sink.add(self.pos(node, "think"), "between: the minimum is larger than the maximum")
                return Think(low, high, pos)
            return Think(seconds(think), seconds(think), pos)
        if "headers" in node:
            return SetHeaders(Value(node["headers"], self.pos(node, "headers")), pos)
        if "set" in node:
            return Assign(self.assignments(node["set"]), pos)
        if "log" in node:
            return Log(Value(node["log"], self.pos(node, "log")), pos)
        return None

    def loop(self, node: MarkedDict) -> Loop | None:
        spec = node["loop"]
        kinds = [k for k in ("count", "over", "while") if k in spec]
        if len(kinds) != 1:
            if len(kinds) > 1:
                message = f"a loop has one of count, over, while: found '{kinds[0]}' and '{kinds[1]}'"
                self.sink.add(self.key_pos(spec, kinds[1]), message)
            return None
        kind = kinds[0]
        for key, applies in (("as", "over"), ("max", None)):
            if key in spec and applies and kind != applies:
                self.sink.add(self.key_pos(spec, key), f"'{key}' only applies to a loop over a list")
        return Loop(
            kind=kind,  # type: ignore[arg-type]
            arg=Value(spec[kind], self.pos(spec, kind)),
            steps=self.steps(node.get("steps") or []),
            pos=self.pos(node),
            item=str(spec.get("as", "item")),
            index=str(spec.get("index", "index")),
            max=lenient(int, spec.get("max", 1000), 1000),
        )

    def poll(self, node: MarkedDict) -> Poll | None:
        spec = node["poll"]
        methods = [m for m in METHODS if m in spec]
        if len(methods) != 1:
            if len(methods) > 1:
                self.sink.add(
                    self.key_pos(spec, methods[1]),
                    f"one poll sends one request: found both '{methods[0]}' and '{methods[1]}'",
                )
            return None
        if "every" in spec and "backoff" in spec:
            self.sink.add(self.key_pos(spec, "backoff"), "a poll has either every or backoff, not both")
        request = self.request(methods[0], spec, on_failure=node.get("on_failure", "stop"))
        until = self.expectation(spec["until"]) if isinstance(spec.get("until"), MarkedDict) else None
        if until is None:
            return None
        backoff = _mapping(spec.get("backoff"))
        every = lenient(seconds, backoff.get("initial", spec.get("every", 1)), 1.0)
        return Poll(
            request=request,
            until=until,
            pos=self.pos(node),
            every=every,
            factor=lenient(float, backoff.get("factor", 2 if backoff else 1), 1.0),
            max_pause=lenient(seconds, backoff["max"], None) if "max" in backoff else None,
            max_attempts=lenient(int, spec.get("max_attempts", 10), 10),
            max_time=lenient(seconds, spec["max_time"], None) if "max_time" in spec else None,
        )

    def request(self, method: str, node: MarkedDict, on_failure: str | None = None) -> Request:
        bodies = [k for k in ("json", "form", "body", "graphql") if k in node]
        if len(bodies) > 1:
            self.sink.add(
                self.key_pos(node, bodies[1]),
                f"a request has one body: found both '{bodies[0]}' and '{bodies[1]}'",
            )
        expect = node.get("expect")
        graphql: GraphQL | None = None
        if method == "graphql":
            spec = node["graphql"]
            url = Value(spec.get("url", "/graphql"), self.pos(spec, "url") if "url" in spec else self.pos(node, method))
            graphql = GraphQL(
                query=Value(spec["query"], self.pos(spec, "query")),
                variables=self.value(spec, "variables"),
                operation=str(spec["operation"]) if "operation" in spec else None,
            )
            method = "post"
        else:
            url = Value(node[method], self.pos(node, method))
        name = node.get("name")
        if isinstance(name, str) and ("{{" in name or "{%" in name):
            self.sink.add(
                self.pos(node, "name"),
                "name: is a fixed row in Locust's statistics, not a template",
                "write a fixed name, or leave name out for the path with each {{ x }} shown as {x}",
            )
        return Request(
            method=method.upper(),
            url=url,
            graphql=graphql,
            service=str(node["service"]) if "service" in node else None,
            pos=self.pos(node),
            name=node["name"] if isinstance(node.get("name"), str) else None,  # the schema reports others
            params=self.value(node, "params"),
            headers=self.value(node, "headers"),
            json=self.value(node, "json"),
            form=self.value(node, "form"),
            body=self.value(node, "body"),
            auth=self.value(node, "auth"),
            timeout=lenient(seconds, node["timeout"], None) if "timeout" in node else None,
            allow_redirects=node.get("allow_redirects"),
            expect=self.expectation(expect) if isinstance(expect, MarkedDict) else None,
            save=self.extractors(node.get("save")),
            counters=self.assignments(_mapping(node.get("count"))),
            on_failure="continue" if (on_failure or node.get("on_failure")) == "continue" else "stop",
        )

    def extractors(self, node: Any) -> tuple[Extractor, ...]:
        built = []
        if not isinstance(node, dict):
            return ()
        for var, spec in node.items():
            pos = self.pos(node, var)
            if isinstance(spec, str):
                if spec.startswith("$"):  # else reported by the schema
                    built.append(Extractor(str(var), "jsonpath", spec, None, pos))
                continue
            sources = [s for s in SOURCES if isinstance(spec, dict) and s in spec]
            if not sources:
                continue  # not an extractor: reported by the schema
            if len(sources) > 1:
                self.sink.add(
                    self.key_pos(spec, sources[1]),
                    f"an extractor reads one source: found both '{sources[0]}' and '{sources[1]}'",
                )
                continue
            source = sources[0]
            if source == "jsonpath" and not str(spec[source]).startswith("$"):
                continue  # reported by the schema
            if "group" in spec and source != "regex":
                self.sink.add(self.key_pos(spec, "group"), "'group' only applies to a regex extractor")
            arg = spec[source]
            built.append(
                Extractor(
                    var=str(var),
                    source=source,  # type: ignore[arg-type]
                    arg="" if arg is True else str(arg),
                    pick=spec.get("pick"),
                    pos=self.pos(spec, source),
                    group=spec.get("group"),
                    default=self.value(spec, "default"),
                    share=self.share(spec.get("share")),
                )
            )
        return tuple(built)

    @staticmethod
    def share(spec: Any) -> int | None:
        if spec is True:
            return POOL_SIZE
        if isinstance(spec, dict):
            return lenient(int, spec.get("max", POOL_SIZE), POOL_SIZE)
        return None

    def expectation(self, node: MarkedDict) -> Expectation:
        status = node.get("status")
        statuses = tuple(status) if isinstance(status, list) else (() if status is None else (status,))
        statuses = tuple(s for s in statuses if _is_status(s))  # the schema reports the others
        contains = node.get("body_contains")
        contains_values: tuple[Value, ...] = ()
        if isinstance(contains, list):
            positions = getattr(contains, "item_pos", [])
            contains_values = tuple(
                Value(c, positions[i] if i < len(positions) else self.pos(node, "body_contains"))
                for i, c in enumerate(contains)
            )
        elif contains is not None:
            contains_values = (Value(contains, self.pos(node, "body_contains")),)
        return Expectation(
            pos=self.pos(node),
            status=statuses,
            json=tuple(t for t in self.targets(node.get("json")) if t.key.startswith("$")),  # schema reports others
            headers=self.targets(node.get("headers")),
            body_contains=contains_values,
            body_matches=self.value(node, "body_matches"),
            max_ms=lenient(float, node["max_ms"], None) if "max_ms" in node else None,
            schema=self.value(node, "schema") if isinstance(node.get("schema"), (dict, bool, str)) else None,
        )

    def targets(self, node: Any) -> tuple[Target, ...]:
        built = []
        if not isinstance(node, dict):
            return ()
        for key, spec in node.items():
            pos = self.key_pos(node, key)
            if isinstance(spec, dict):
                ops = [op for op in spec if isinstance(op, str)]  # the schema reports the others
                matches = tuple(Match(op, Value(spec[op], self.pos(spec, op))) for op in ops)
            else:
                matches = (Match("eq", Value(spec, self.pos(node, key))),)
            built.append(Target(str(key), pos, matches))
        return tuple(built)


def build(data: Any, path: Path, sink: ErrorSink, *, library: bool = False) -> Scenario:
    """Build the model of schema-valid ``data`` read from ``path``; problems go to ``sink``.

    A ``library`` (a file that scenarios include) needs no users or journeys.
    """
    builder = _Builder(data, path, sink)
    builder.library = library
    return builder.scenario()
