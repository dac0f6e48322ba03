"""What every step kind has: the kind protocol, the compiled step, and what both ask of their callers.

A step kind is one module of this package with one :class:`StepKind`: the YAML
keys that select it, its model dataclass, how it is built from YAML (through a
:class:`Building`), compiled into a :class:`StepProgram` (through a
:class:`Compiling`), the step lists it holds, the names it defines and the
requests it sends. The runtime talks to the Locust user through the small
:class:`Runner` protocol (implemented in :mod:`engine.users`), so that nothing
here imports Locust. ``run`` returns False when the journey run must end (a
failed step without ``on_failure: continue``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from engine.counters import Counters
from engine.errors import ErrorSink, Position
from engine.feeders import Feeder
from engine.files import Confinement
from engine.model import RequestStep, Scenario, Step, Value
from engine.pools import Pools
from engine.secrets import Secrets
from engine.source import MarkedDict
from engine.templates import Renderer, Scope, Templates

S = TypeVar("S")
T = TypeVar("T")


class StopRequested(Exception):
    """A step asks for its user to stop (a feeder ran out with ``on_exhausted: stop_user``)."""


def label(kind: str, pos: Position) -> str:
    """A stable stats name for a step that is not a request: ``loop (shop.yaml:42)``."""
    return f"{kind} ({Path(pos.file).name}:{pos.line})"


def truthy(value: Any) -> bool:
    """A condition's value as a boolean (the text "false" is false too)."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none")
    return bool(value)


class Runner(Protocol):
    """What a step needs from the Locust user running it."""

    session_headers: dict[str, str]
    """Replaced (never changed in place) by a ``headers`` step."""

    header_cache: dict[Any, dict[str, str]]
    """Per request with constant headers: its headers merged with the session headers (the clients copy the
    headers they are given, so one merged dict serves every request until the session headers change). A
    ``headers`` step starts a new one; it is read only while there are session headers."""

    @property
    def client_layer(self) -> Mapping[str, str]:
        """The lowest headers, which the engine merges into every request's itself (python-requests' session sends
        none of its own: see :class:`engine.users.ScenarioHttpUser`); empty where the client adds its own (fast)."""
        ...

    @property
    def layer_headers(self) -> dict[Any, dict[str, str]]:
        """Per request with constant headers: them over ``client_layer``, for users without session headers (one
        for every user of that layer; never written when the layer is empty)."""
        ...

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


class Rehearsal(Protocol):
    """What a step's ``rehearse`` asks of a dry run (:mod:`engine.dryrun`): nothing is sent, every branch is shown."""

    session_headers: dict[str, str]

    def note(self, text: str, scope: Scope) -> None:
        """A line at the current depth (secrets masked)."""
        ...

    def block(self, title: str, steps: Sequence[StepProgram], scope: Scope) -> None:
        """``title``, then ``steps`` rehearsed one level deeper."""
        ...

    def header(self, name: str, value: str, scope: Scope) -> str:
        """A header value as it may be shown (a secret one masked)."""
        ...

    def value(self, renderer: Renderer, scope: Scope, what: str) -> Any:
        """The rendered value, or a placeholder naming ``what`` when only a run can give it."""
        ...

    def placeholder(self, kind: str, name: str, origin: str) -> Any:
        """A value only a run gives: ``<saved: token from Login $.token>``."""
        ...

    def request(self, request: Any, scope: Scope) -> None:
        """A request rendered as it would be sent, and the values it would save (as placeholders)."""
        ...


class StepProgram:
    """A compiled step."""

    def run(self, user: Runner, scope: Scope) -> bool:
        raise NotImplementedError

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        """Show what the step would do, sending nothing (``locust-scenario dry-run``)."""
        raise NotImplementedError

    def blocks(self) -> Sequence[Sequence[StepProgram]]:
        """The compiled steps it holds (a poll: its request), for walks; none by default."""
        return ()


class NotLoaded(StepProgram):
    """Stands where a step could not be compiled: never run, since the scenario then does not load."""

    def run(self, user: Runner, scope: Scope) -> bool:
        return True

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        return None


def run_steps(steps: list[StepProgram], user: Runner, scope: Scope) -> bool:
    """Run steps in order; False as soon as one says the run must end."""
    for step in steps:  # noqa: SIM110 (a plain loop, not all(genexpr): one frame less per step on the hot path)
        if not step.run(user, scope):
            return False
    return True


class Building(Protocol):
    """What a kind's ``build`` asks of the builder (:mod:`engine.build`): positions, values, nested steps."""

    sink: ErrorSink

    def pos(self, node: Any, key: Any = None) -> Position: ...

    def key_pos(self, node: Any, key: Any) -> Position: ...

    def value(self, node: MarkedDict, key: str) -> Value | None: ...

    def lenient(self, convert: Callable[[Any], T], value: Any, default: T) -> T:
        """``convert(value)``; ``default`` only when the schema has reported the value already."""
        ...

    def assignments(self, node: Any) -> tuple[tuple[str, Value], ...]:
        """A mapping of names to values, in order (none for what is not a mapping)."""
        ...

    def steps(self, nodes: list[Any]) -> tuple[Step, ...]: ...

    def kind(self, node: MarkedDict) -> Step | None:
        """The step ``node`` is, ignoring an ``if:`` guard on it."""
        ...


class Compiling(Protocol):
    """What a kind's ``compile`` asks of the compiler (:mod:`engine.compiler`): templates, names, state."""

    scenario: Scenario
    sink: ErrorSink
    templates: Templates
    files: Confinement
    secrets: Secrets
    pools: Pools
    counters: Counters
    services: dict[str, str]
    feeders: dict[str, Feeder]
    columns: dict[str, tuple[str, tuple[str, ...]]]
    default_headers: Renderer | None
    request_names: set[str]
    using: list[str]
    loop_names: list[str]

    def renderer(self, raw: Any, pos: Position, known: set[str]) -> Renderer:
        """A compiled template whose names must be in ``known``."""
        ...

    def condition(self, raw: Any, pos: Position, known: set[str]) -> Renderer: ...

    def check_names(self, renderer: Renderer, known: set[str]) -> None: ...

    def secret_fields(self, raw: Any, pos: Position) -> None: ...

    def secret_value(self, raw: Any, pos: Position) -> None: ...

    def steps(self, steps: Iterable[Step], known: set[str]) -> list[StepProgram]: ...

    def block(
        self, steps: Iterable[Step], known: set[str], extra: Iterable[str] = ()
    ) -> tuple[list[StepProgram], set[str]]: ...

    def defined_names(self, steps: Iterable[Step]) -> dict[str, Position]: ...


class StepKind(Generic[S]):
    """One kind of step. Subclasses set the class attributes and implement ``build`` and ``compile``.

    ``compile`` adds to ``known`` the names the step surely defines, as the scope analysis goes.
    """

    name: ClassVar[str]
    """The kind's name, as the README's step reference lists it: its YAML key (``request`` for a request)."""
    keys: ClassVar[tuple[str, ...]] = ()
    """The YAML keys that select it (default: ``name`` alone)."""
    schema: ClassVar[str]
    """Its definition in the scenario schema (``#/definitions/<schema>``)."""
    model: ClassVar[type]
    program: ClassVar[type[StepProgram]]

    def matches(self, node: MarkedDict) -> bool:
        return any(key in node for key in self.keys or (self.name,))

    def build(self, node: MarkedDict, b: Building) -> S | None:
        """The model of ``node``; None when it is invalid (after telling ``b.sink`` why)."""
        raise NotImplementedError

    def compile(self, step: S, c: Compiling, known: set[str]) -> StepProgram:
        raise NotImplementedError

    def children(self, step: S) -> Sequence[Sequence[Step]]:
        """The step lists nested in it."""
        return ()

    def defines(self, step: S) -> Iterable[tuple[str, Position]]:
        """The names it saves, sets or feeds itself (not those of nested steps)."""
        return ()

    def requests(self, step: S) -> Iterable[RequestStep]:
        """The requests it sends itself (not those of nested steps)."""
        return ()

    def __repr__(self) -> str:
        return f"<step kind {self.name}>"
