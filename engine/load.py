"""The pipeline in one call: files -> source/compose -> validate -> build -> compile (-> Locust classes)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.build import build
from engine.compiler import Program, compile_library, compile_scenario
from engine.compose import INCLUDABLE, NO_OVERRIDES, SHARED, Composed, Overrides, compose
from engine.errors import INTERNAL_ERROR, ErrorSink, Position, ScenarioError, ScenarioErrors
from engine.source import pos_of
from engine.validate import describe


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a scenario loads.

    A load makes many objects and frees few: each automatic collection would walk
    all of them again, which made loading superlinear in the scenario's size
    (0.7 ms a step at 250 steps, 0.93 at 5,000). What a load leaves as garbage is
    collected at the next collection after it. The file limits bound what can pile up.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class Plan:
    """A loaded scenario: its program, its Locust user classes and a digest of its source."""

    program: Program
    digest: str
    user_classes: dict[str, type] = field(default_factory=dict)
    shape: type | None = None

    def exports(self) -> dict[str, type]:
        """What the locustfile puts into its globals: the user classes, and the load shape if any."""
        return {**self.user_classes, **({self.shape.__name__: self.shape} if self.shape else {})}


@gc_paused()
def compile_file(path: str | Path, overrides: Overrides = NO_OVERRIDES) -> tuple[Program, str]:
    """Read (with includes and overrides), validate, build and compile one scenario.

    Raises :class:`ScenarioErrors` with every problem found. Returns the program
    and a digest of every file it was read from. Does not import Locust: this is
    all ``python -m engine validate`` needs.
    """
    path = Path(path)
    return compile_composed(path, compose(path, overrides))


def compile_composed(path: Path, composed: Composed) -> tuple[Program, str]:
    """:func:`compile_file` for a scenario already read and composed."""
    data = composed.data
    if not isinstance(data, dict):
        if composed.problems:
            raise ScenarioErrors(composed.problems)
        what = "an empty file" if data is None else describe(data)
        message = f"expected a scenario: a mapping with version: 1 and users: or journeys:, got {what}"
        raise ScenarioErrors([ScenarioError(pos_of(data, Position(str(path), 1, 1)), message)])
    sink = ErrorSink()
    sink.errors.extend(composed.problems)
    with _guarded(path, sink):
        scenario = build(data, path, sink, strict=not composed.problems)
        # With schema errors some steps were left out, so names they define would look undefined: a name
        # that the file spells anywhere as a key or a plain word might be one of them, and is not reported.
        # A problem with an include (missing, a cycle, an error in it) leaves its vars unknown: no names checked.
        unsure = frozenset(words(data)) if composed.problems else None
        included = any(p.pos.file != str(path) or p.message.startswith("include") for p in composed.problems)
        program = compile_scenario(scenario, sink, check_names=not included, unsure=unsure, files=composed.confinement)
    sink.raise_if_any()
    return program, composed.digest


@contextmanager
def _guarded(path: Path, sink: ErrorSink) -> Iterator[None]:
    """Build and compile trust what the schema checked: a crash after schema errors is one of their
    consequences, so those errors are the answer. A crash on a file the schema passed is a bug in the
    engine, reported as such (never "ok", never a traceback)."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, RecursionError) as exc:
        if sink.errors:
            raise ScenarioErrors(sink.errors) from None
        where = Position(str(path), 1, 1)
        message = f"{INTERNAL_ERROR}: {type(exc).__name__}: {exc}"
        raise ScenarioErrors([ScenarioError(where, message, "this is a bug in the engine: please report it")]) from exc


def words(node: Any) -> Iterator[str]:
    """Every mapping key and every string value of a document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from words(value)
    elif isinstance(node, list):
        for item in node:
            yield from words(item)
    elif isinstance(node, str):
        yield node


@gc_paused()
def check_file(path: str | Path, overrides: Overrides = NO_OVERRIDES) -> list[ScenarioError]:
    """Every problem of one scenario file (empty when it is valid)."""
    try:
        compile_file(path, overrides)
    except ScenarioErrors as exc:
        return exc.errors
    return []


def library_contents(data: Any) -> str | None:
    """What a library defines ("fragments login, sign_up; vars password"), or None for a scenario.

    A library is a file that scenarios include: no users or journeys, only what an include may
    define, and at least one of vars, fragments, data, services or environments.
    """
    if not isinstance(data, dict) or "users" in data or "journeys" in data:
        return None
    if any(key not in INCLUDABLE and not str(key).startswith("x-") for key in data):
        return None
    parts = [f"{section} {', '.join(map(str, data[section]))}" for section in SHARED if data.get(section)]
    return "; ".join(parts) or None


@gc_paused()
def check(path: str | Path, overrides: Overrides = NO_OVERRIDES) -> tuple[list[ScenarioError], str | None]:
    """Every problem of one file, checked as a scenario or, when it is one, as a library.

    Returns the problems and, for a library, what it defines.
    """
    path = Path(path)
    composed = compose(path, overrides)
    contents = library_contents(composed.data)
    if contents is not None:
        return _check_library(path, composed), contents
    try:
        compile_composed(path, composed)
    except ScenarioErrors as exc:
        return exc.errors, None
    return [], None


def _check_library(path: Path, composed: Composed) -> list[ScenarioError]:
    sink = ErrorSink()
    sink.errors.extend(composed.problems)
    try:
        with _guarded(path, sink):
            scenario = build(composed.data, path, sink, library=True, strict=not composed.problems)
            compile_library(scenario, sink, composed.confinement)
    except ScenarioErrors as exc:
        return exc.errors
    return sorted({str(e): e for e in sink.errors}.values(), key=ScenarioError.sort_key)


def load_plan(
    path: str | Path,
    module: str = "locustfile",
    tags: list[str] | None = None,
    exclude_tags: list[str] | None = None,
    overrides: Overrides = NO_OVERRIDES,
) -> Plan:
    """Load a scenario all the way to Locust user classes."""
    from engine.users import user_classes

    program, digest = compile_file(path, overrides)
    classes = user_classes(program, module, tags, exclude_tags)
    plan = Plan(program, digest, classes)
    if program.scenario.profiles:
        from engine.shape import shape_class

        scenario = program.scenario
        plan.shape = shape_class(scenario.profiles, scenario.default_profile, classes, module)
    return plan


def settle() -> None:
    """Free what only loading needed, once the plan is built, before any user starts: the schema and its compiled
    check (rebuilt if another file loads) and the load's own garbage, which collection skipped while it ran
    (:func:`gc_paused`). Users then reuse that memory instead of growing the process (the locustfile calls this)."""
    from engine import validate

    validate.release()
    gc.collect()
