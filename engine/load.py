"""The pipeline in one call: files -> source/compose -> validate -> build -> compile (-> Locust classes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.build import build
from engine.compiler import Program, compile_scenario
from engine.compose import NO_OVERRIDES, Overrides, compose
from engine.errors import ErrorSink, Position, ScenarioError, ScenarioErrors
from engine.source import pos_of
from engine.validate import describe


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


def compile_file(path: str | Path, overrides: Overrides = NO_OVERRIDES) -> tuple[Program, str]:
    """Read (with includes and overrides), validate, build and compile one scenario.

    Raises :class:`ScenarioErrors` with every problem found. Returns the program
    and a digest of every file it was read from. Does not import Locust: this is
    all ``python -m engine validate`` needs.
    """
    path = Path(path)
    composed = compose(path, overrides)
    data = composed.data
    if not isinstance(data, dict):
        if composed.problems:
            raise ScenarioErrors(composed.problems)
        what = "an empty file" if data is None else describe(data)
        message = f"expected a scenario: a mapping with version: 1 and users: or journeys:, got {what}"
        raise ScenarioErrors([ScenarioError(pos_of(data, Position(str(path), 1, 1)), message)])
    sink = ErrorSink()
    sink.errors.extend(composed.problems)
    scenario = build(data, path, sink)
    # With schema errors some steps were left out, so names they define would look undefined.
    program = compile_scenario(scenario, sink, check_names=not composed.problems)
    sink.raise_if_any()
    return program, composed.digest


def check_file(path: str | Path, overrides: Overrides = NO_OVERRIDES) -> list[ScenarioError]:
    """Every problem of one scenario file (empty when it is valid)."""
    try:
        compile_file(path, overrides)
    except ScenarioErrors as exc:
        return exc.errors
    return []


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
