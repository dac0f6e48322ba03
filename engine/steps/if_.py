"""The ``if`` step: ``then`` when a condition holds, else ``else``; also the ``if:`` guard on any step."""

from __future__ import annotations

from collections.abc import Sequence

from engine.model import IfStep, Step, Value
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram, label, run_steps, truthy
from engine.templates import Renderer, Scope


class IfProgram(StepProgram):
    """Run ``then`` when the condition holds, else ``otherwise``."""

    def __init__(
        self, spec: IfStep, condition: Renderer, then: list[StepProgram], otherwise: list[StepProgram]
    ) -> None:
        self.condition = condition
        self.then = then
        self.otherwise = otherwise
        self.label = label("if", spec.pos)
        self.source = str(spec.condition.raw)

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            holds = truthy(self.condition.render(scope))
        except Exception as exc:
            user.report_failure("IF", self.label, f"template error: {exc}", scope)
            return False
        return run_steps(self.then if holds else self.otherwise, user, scope)

    def blocks(self) -> Sequence[Sequence[StepProgram]]:
        return (self.then, self.otherwise)

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        """Both arms: ``then`` on the scope, ``else`` on a copy (the names both define go on)."""
        rehearsal.block(f"if {self.source}:", self.then, scope)
        if self.otherwise:
            rehearsal.block("else:", self.otherwise, dict(scope))


class If(StepKind[IfStep]):
    """``if: "{{ x }}"`` with ``then:`` (and ``else:``) steps."""

    name = "if"
    keys = ("then",)
    schema = "ifStep"
    model = IfStep
    program = IfProgram

    def build(self, node: MarkedDict, b: Building) -> IfStep | None:
        condition = Value(node["if"], b.pos(node, "if"))
        return IfStep(condition, b.steps(node["then"] or []), b.steps(node.get("else") or []), b.pos(node))

    def compile(self, step: IfStep, c: Compiling, known: set[str]) -> StepProgram:
        condition = c.condition(step.condition.raw, step.condition.pos, known)
        then, then_known = c.block(step.then, known)
        otherwise, else_known = c.block(step.otherwise, known)
        known |= then_known & else_known
        return IfProgram(step, condition, then, otherwise)

    def children(self, step: IfStep) -> Sequence[Sequence[Step]]:
        return (step.then, step.otherwise)


KIND = If()


def is_guard(node: MarkedDict) -> bool:
    """Whether ``node`` is a step with an ``if:`` guard (not an if block)."""
    return "if" in node and "then" not in node


def guard(node: MarkedDict, b: Building) -> IfStep | None:
    """A guarded step: an if block whose ``then`` is the step itself (and ``else`` as written)."""
    inner = b.kind(node)
    if inner is None:
        return None
    otherwise = b.steps(node.get("else") or [])
    return IfStep(Value(node["if"], b.pos(node, "if")), (inner,), otherwise, b.pos(node))
