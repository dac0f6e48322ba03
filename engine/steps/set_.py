"""The ``set`` step: variables assigned in order (each may use the ones before)."""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import Position
from engine.model import SetStep
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram
from engine.templates import Renderer, Scope


class SetProgram(StepProgram):
    """Assign variables in order (each may use the ones before)."""

    def __init__(self, spec: SetStep, values: list[tuple[str, Renderer]]) -> None:
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

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        for name, renderer in self.values:
            scope[name] = rehearsal.value(renderer, scope, name)
            rehearsal.note(f"set {name} = {scope[name]}", scope)


class Set(StepKind[SetStep]):
    """``set: {qty: "{{ randint(1, 5) }}"}``."""

    name = "set"
    schema = "setStep"
    model = SetStep
    program = SetProgram

    def build(self, node: MarkedDict, b: Building) -> SetStep | None:
        return SetStep(b.assignments(node["set"]), b.pos(node))

    def compile(self, step: SetStep, c: Compiling, known: set[str]) -> StepProgram:
        values = []
        for name, value in step.values:
            values.append((name, c.renderer(value.raw, value.pos, known)))
            known.add(name)
        return SetProgram(step, values)

    def defines(self, step: SetStep) -> Iterable[tuple[str, Position]]:
        return ((name, value.pos) for name, value in step.values)


KIND = Set()
