"""Stage 3: schema-valid plain data -> the frozen model of :mod:`engine.model`.

The scenario-level sections (users, journeys, data, load, thresholds ...) are
built here; each step is built by its kind (:mod:`engine.steps`). Also the checks
that JSON Schema cannot express well (unique user class names, one source per
feeder, one shape per profile). Problems are collected in an :class:`ErrorSink`.
"""

from __future__ import annotations

import locale as pylocale
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, get_args

from engine.durations import seconds
from engine.errors import INTERNAL_ERROR, ErrorSink, Position, did_you_mean
from engine.metrics import METRICS, unit
from engine.model import (
    Defaults,
    FeederSpec,
    Fragment,
    Journey,
    Limits,
    OnExhausted,
    Persona,
    Scenario,
    Step,
    Strategy,
    Threshold,
    Value,
    Wait,
)
from engine.profiles import Profile, Stage
from engine.source import MarkedDict
from engine.steps import KINDS, if_

PROFILE_KINDS = ("stages", "ramp", "step", "spike", "wave", "soak")
DURATION_PARAMS = frozenset({"up", "hold", "down", "every", "baseline_time", "peak_time", "recovery", "period", "ramp"})
_PLAIN_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_LIMIT = re.compile(r"^[0-9]+(?:\.[0-9]+)?(?:ms|s|m|%)?$")  # as the schema's threshold limits
_INVALID = (AttributeError, KeyError, TypeError, ValueError, IndexError)
T = TypeVar("T")


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


def _choice(value: Any, allowed: Any, default: Any) -> Any:
    """``value`` if it is one of the ``Literal`` type ``allowed``, else ``default`` (the schema reported it)."""
    return value if isinstance(value, str) and value in get_args(allowed) else default


class _Builder:
    def __init__(self, root: Any, path: Path, sink: ErrorSink, strict: bool) -> None:
        self.root = root
        self.path = path
        self.sink = sink
        self.file = str(path)
        self.library = False
        self.strict = strict  # the schema reported nothing: what cannot be built is a bug, not a consequence

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

    def lenient(self, convert: Callable[[Any], T], value: Any, default: T) -> T:
        """``convert(value)``, or ``default`` for a value the schema has already reported as invalid.

        Building goes on past such values so that the rest of the file (templates,
        JSONPaths, regexes) is still checked and every problem is reported at once.
        When the schema reported nothing, a value that does not convert is a bug: it raises.
        """
        if self.strict:
            return convert(value)
        try:
            return convert(value)
        except _INVALID:
            return default

    def assignments(self, node: Any) -> tuple[tuple[str, Value], ...]:
        if not isinstance(node, MarkedDict):
            return ()  # (a wrong type is reported by the schema)
        return tuple((str(k), Value(v, self.pos(node, k))) for k, v in node.items())

    # -- scenario ----------------------------------------------------------------
    def scenario(self) -> Scenario:
        data = self.root
        defaults_node = _mapping(data.get("defaults"))
        client = defaults_node.get("client", "http")
        defaults = Defaults(
            headers=self.value(defaults_node, "headers"),
            timeout=self.lenient(seconds, defaults_node.get("timeout", 60), 60.0),
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
            except _INVALID as exc:
                self.unbuilt(node, exc)
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
            except _INVALID as exc:
                self.unbuilt(node, exc)
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
            except _INVALID as exc:
                self.unbuilt(spec, exc)
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
            template_time=self.lenient(
                seconds, node.get("template_time", default.template_time), default.template_time
            ),
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
                    window=self.lenient(seconds, spec["for"], None) if "for" in spec else None,
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
        kind = unit(metric)
        if kind == "ms":
            if number is not None:
                return number  # a bare number is milliseconds, as Locust shows them
            if text.endswith("%"):
                self.sink.add(pos, f"{metric} is a response time: give it like 300ms or 2s, not {text}")
                return None
            return self.lenient(seconds, text, -1.0) * 1000
        if kind == "ratio":
            if text.endswith("%"):
                return self.lenient(float, text[:-1], 0.0) / 100
            if number is not None and number <= 1:
                return number
            self.sink.add(pos, f"{metric} is a rate: give it like 1% or 0.01, not {text}")
            return None
        if number is not None:
            return number
        if metric in METRICS:
            self.sink.add(pos, f"{metric} is a number: give it without a unit, not {text}")
            return None
        return math.nan

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
            except _INVALID as exc:
                self.unbuilt(jnode, exc)
        return Persona(
            name=name,
            pos=self.key_pos(self.root["users"], name),
            journeys=tuple(journeys),
            weight=self.lenient(int, node.get("weight", 1), 1),
            fixed_count=node.get("fixed_count"),
            client=node.get("client", client),
            wait=self.lenient(self.wait, node.get("wait"), Wait("constant", (0.0,))),
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
            weight=self.lenient(int, node.get("weight", 1), 1),
            fixed_count=node.get("fixed_count"),
            client=node.get("client", client),
            wait=self.lenient(self.wait, node.get("wait"), Wait("constant", (0.0,))),
            on_start=self.steps(node.get("on_start") or []),
            on_stop=self.steps(node.get("on_stop") or []),
        )

    def journey(self, name: str, node: MarkedDict) -> Journey:
        return Journey(
            name=str(name),
            weight=self.lenient(int, node.get("weight", 1), 1),
            tags=tuple(str(t) for t in node.get("tags") or ()),
            steps=self.steps(node.get("steps") or []),
            pos=self.pos(node),
        )

    # -- steps -------------------------------------------------------------------
    def steps(self, nodes: list[Any]) -> tuple[Step, ...]:
        """The steps of a list; one that cannot be built is left out (see :meth:`step`)."""
        built = []
        for node in nodes:
            step = self.step(node)
            if step is not None:
                built.append(step)
        return tuple(built)

    def step(self, node: Any) -> Step | None:
        """One step, through the kind registry; an ``if`` on a step that is not an if block guards it.

        After schema errors, a step that cannot be built is one of their consequences and is left out
        (the rest of the file is still checked). On a file the schema passed, a kind that cannot build
        its step is a bug in the engine: reported as an internal error at the step, never dropped.
        """
        try:
            if not isinstance(node, MarkedDict):
                raise TypeError(f"a step is a mapping, got {type(node).__name__}")
            return if_.guard(node, self) if if_.is_guard(node) else self.kind(node)
        except _INVALID as exc:
            self.unbuilt(node, exc)
            return None

    def kind(self, node: MarkedDict) -> Step | None:
        for kind in KINDS:
            if kind.matches(node):
                return kind.build(node, self)
        raise KeyError(f"no step kind has any of the keys {', '.join(map(str, node))}")

    def unbuilt(self, node: Any, exc: Exception) -> None:
        """A node that could not be built: after schema errors one of their consequences, left out so that
        the rest of the file is still checked; on a file the schema passed a bug, reported as such."""
        if not self.strict:
            return
        self.sink.add(
            self.pos(node),
            f"{INTERNAL_ERROR}: {type(exc).__name__}: {exc}",
            "this is a bug in the engine: please report it",
        )


def build(data: Any, path: Path, sink: ErrorSink, *, library: bool = False, strict: bool = True) -> Scenario:
    """Build the model of ``data`` read from ``path``; problems go to ``sink``.

    A ``library`` (a file that scenarios include) needs no users or journeys.
    ``strict`` says the schema found nothing wrong with ``data``: a node that cannot
    be built is then an internal error (see :meth:`_Builder.unbuilt`).
    """
    builder = _Builder(data, path, sink, strict)
    builder.library = library
    return builder.scenario()
