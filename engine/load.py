"""The pipeline in one call: file -> source -> validate -> build -> compile (-> Locust classes)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from engine.build import build
from engine.compiler import Program, compile_scenario
from engine.errors import ErrorSink, Position, ScenarioError, ScenarioErrors
from engine.source import pos_of, read_file
from engine.validate import describe, validate


@dataclass
class Plan:
    """A loaded scenario: its program, its Locust user classes and a digest of its source."""

    program: Program
    digest: str
    user_classes: dict[str, type] = field(default_factory=dict)


def compile_file(path: str | Path) -> tuple[Program, str]:
    """Read, validate, build and compile one scenario; raise :class:`ScenarioErrors` on any problem.

    Does not import Locust: this is all ``python -m engine validate`` needs.
    """
    path = Path(path)
    data = read_file(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    if not isinstance(data, dict):
        what = "an empty file" if data is None else describe(data)
        message = f"expected a scenario: a mapping with version: 1 and users: or journeys:, got {what}"
        raise ScenarioErrors([ScenarioError(pos_of(data, Position(str(path), 1, 1)), message)])
    problems = validate(data)
    sink = ErrorSink()
    sink.errors.extend(problems)
    scenario = build(data, path, sink)
    # With schema errors some steps were left out, so names they define would look undefined.
    program = compile_scenario(scenario, sink, check_names=not problems)
    sink.raise_if_any()
    return program, digest


def check_file(path: str | Path) -> list[ScenarioError]:
    """Every problem of one scenario file (empty when it is valid)."""
    try:
        compile_file(path)
    except ScenarioErrors as exc:
        return exc.errors
    return []


def load_plan(
    path: str | Path,
    module: str = "locustfile",
    tags: list[str] | None = None,
    exclude_tags: list[str] | None = None,
) -> Plan:
    """Load a scenario all the way to Locust user classes."""
    from engine.users import user_classes

    program, digest = compile_file(path)
    return Plan(program, digest, user_classes(program, module, tags, exclude_tags))
