"""Stage 3 types: a scenario as frozen dataclasses (no Locust, no Jinja).

Values that may hold templates are kept as :class:`Value`: the raw YAML data
(nested containers still carry their positions) and where it was written, so
that the compiler can report a template problem at its exact place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.errors import Position
from engine.profiles import Profile

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
Pick = Literal["first", "last", "random", "all"] | int
Source = Literal["jsonpath", "header", "cookie", "regex", "status", "body"]


@dataclass(frozen=True)
class Value:
    """A YAML value that may contain templates, and where it was written."""

    raw: Any
    pos: Position


@dataclass(frozen=True)
class Wait:
    """A Locust wait_time: constant, between, pacing or throughput (seconds / per second)."""

    kind: Literal["constant", "between", "pacing", "throughput"]
    args: tuple[float, ...]


@dataclass(frozen=True)
class Extractor:
    """``save``: where a value comes from in a response and which match to keep."""

    var: str
    source: Source
    arg: str
    pick: Pick | None
    pos: Position
    group: int | str | None = None
    default: Value | None = None
    share: int | None = None  # publish into the pool of this name, keeping at most this many values


@dataclass(frozen=True)
class Match:
    """One operator check on a value: ``op`` against ``expected`` (a template value)."""

    op: str
    expected: Value


@dataclass(frozen=True)
class Probe:
    """A JSONPath or header name with the checks its value must pass."""

    key: str
    pos: Position
    matches: tuple[Match, ...]


@dataclass(frozen=True)
class Expectation:
    """``expect``: what a correct response looks like."""

    pos: Position
    status: tuple[int | str, ...] = ()
    json: tuple[Probe, ...] = ()
    headers: tuple[Probe, ...] = ()
    body_contains: tuple[Value, ...] = ()
    body_matches: Value | None = None
    max_ms: float | None = None
    schema: Value | None = None


@dataclass(frozen=True)
class RequestStep:
    """A request step."""

    method: str
    url: Value
    pos: Position
    name: str | None = None
    params: Value | None = None
    headers: Value | None = None
    json: Value | None = None
    form: Value | None = None
    body: Value | None = None
    auth: Value | None = None
    timeout: float | None = None
    allow_redirects: bool | None = None
    expect: Expectation | None = None
    save: tuple[Extractor, ...] = ()
    on_failure: Literal["stop", "continue"] = "stop"
    service: str | None = None
    graphql: GraphQL | None = None
    counters: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True)
class GraphQL:
    """A GraphQL operation sent by a request step."""

    query: Value
    variables: Value | None = None
    operation: str | None = None


@dataclass(frozen=True)
class ThinkStep:
    """A pause between steps: ``low`` seconds, or a random time in [low, high]."""

    low: float
    high: float
    pos: Position


@dataclass(frozen=True)
class HeadersStep:
    """Session headers set (or removed, for None) for the rest of the user's life."""

    headers: Value
    pos: Position


@dataclass(frozen=True)
class SetStep:
    """``set``: variables assigned in order."""

    values: tuple[tuple[str, Value], ...]
    pos: Position


@dataclass(frozen=True)
class LogStep:
    """``log``: a templated message written to Locust's log."""

    message: Value
    pos: Position


@dataclass(frozen=True)
class IfStep:
    """Run ``then`` when ``condition`` holds, else ``otherwise`` (also a guarded step: ``then`` is that step)."""

    condition: Value
    then: tuple[Step, ...]
    otherwise: tuple[Step, ...]
    pos: Position


@dataclass(frozen=True)
class LoopStep:
    """Repeat steps ``count`` times, ``over`` a list, or ``while`` a condition holds; at most ``max`` rounds."""

    kind: Literal["count", "over", "while"]
    arg: Value
    steps: tuple[Step, ...]
    pos: Position
    item: str = "item"
    index: str = "index"
    max: int = 1000


@dataclass(frozen=True)
class ChooseStep:
    """Run one branch, picked at random by weight."""

    branches: tuple[tuple[int, tuple[Step, ...]], ...]
    pos: Position


@dataclass(frozen=True)
class PollStep:
    """Repeat ``request`` until ``until`` holds: a pause between attempts, bounded in attempts and time."""

    request: RequestStep
    until: Expectation
    pos: Position
    every: float = 1.0
    factor: float = 1.0
    max_pause: float | None = None
    max_attempts: int = 10
    max_time: float | None = None


@dataclass(frozen=True)
class UseStep:
    """Run a fragment's steps here, with parameters."""

    fragment: str
    args: tuple[tuple[str, Value], ...]
    pos: Position


@dataclass(frozen=True)
class FeedStep:
    """Take the next row of a feeder into a variable."""

    feeder: str
    var: str
    pos: Position


Step = (
    RequestStep
    | ThinkStep
    | HeadersStep
    | SetStep
    | LogStep
    | IfStep
    | LoopStep
    | ChooseStep
    | PollStep
    | UseStep
    | FeedStep
)


@dataclass(frozen=True)
class Fragment:
    """A reusable step list with parameters (``None`` default: required)."""

    name: str
    params: tuple[tuple[str, Value | None], ...]
    steps: tuple[Step, ...]
    pos: Position


Strategy = Literal["sequential", "random", "shuffle", "circular", "unique"]
OnExhausted = Literal["stop_user", "recycle", "fail"]


@dataclass(frozen=True)
class FeederSpec:
    """``data.<name>``: where rows of test data come from and how users take them."""

    name: str
    source: Literal["csv", "json", "rows"]
    pos: Position
    path: str | None = None
    rows: tuple[Any, ...] = ()
    strategy: Strategy = "sequential"
    on_exhausted: OnExhausted = "stop_user"
    delimiter: str = ","


@dataclass(frozen=True)
class Journey:
    """Steps run in order once per pick; one weighted task of a user."""

    name: str
    weight: int
    tags: tuple[str, ...]
    steps: tuple[Step, ...]
    pos: Position


@dataclass(frozen=True)
class Persona:
    """A kind of simulated user: becomes one Locust user class."""

    name: str
    pos: Position
    journeys: tuple[Journey, ...]
    weight: int = 1
    fixed_count: int | None = None
    client: Literal["http", "fast"] = "http"
    wait: Wait = Wait("constant", (0.0,))
    on_start: tuple[Step, ...] = ()
    on_stop: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Defaults:
    """Settings applied to every request unless a step overrides them."""

    headers: Value | None = None
    timeout: float = 60.0
    verify_tls: bool = True
    allow_redirects: bool = True


@dataclass(frozen=True)
class Limits:
    """How far one template evaluation may go (``limits:``): items it builds, seconds it runs."""

    template_size: int = 10_000_000
    template_time: float = 1.0


@dataclass(frozen=True)
class Threshold:
    """A pass/fail criterion: ``metric`` below/above ``limit`` (ms for times, a fraction for rates)."""

    metric: str
    bound: Literal["below", "above"]
    limit: float
    text: str
    pos: Position
    limit_pos: Position
    request: str | None = None
    method: str | None = None
    journey: str | None = None
    window: float | None = None
    abort: bool = False


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file."""

    path: Path
    name: str
    pos: Position
    description: str = ""
    host: Value | None = None
    vars: tuple[tuple[str, Value], ...] = ()
    defaults: Defaults = field(default_factory=Defaults)
    faker_locale: tuple[str, ...] = ("en_US",)
    faker_seed: int | None = None
    personas: tuple[Persona, ...] = ()
    services: tuple[tuple[str, Value], ...] = ()
    fragments: dict[str, Fragment] = field(default_factory=dict)
    feeders: tuple[FeederSpec, ...] = ()
    setup: tuple[Step, ...] = ()
    teardown: tuple[Step, ...] = ()
    profiles: tuple[Profile, ...] = ()
    default_profile: str | None = None
    default_profile_pos: Position | None = None
    thresholds: tuple[Threshold, ...] = ()
    limits: Limits = field(default_factory=Limits)
    secrets: tuple[tuple[tuple[str, ...], Position], ...] = ()
    """``secrets:``: the variables (a name, or a name and keys below it) whose values are masked."""
