"""The ``choose`` step: one branch, picked at random by weight."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from engine.model import ChooseStep, Step
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram, run_steps
from engine.templates import Scope


class ChooseProgram(StepProgram):
    """Run one branch, picked at random by weight."""

    def __init__(self, spec: ChooseStep, branches: list[list[StepProgram]]) -> None:
        self.branches = branches
        self.cumulative = list(itertools.accumulate(weight for weight, _ in spec.branches))
        self.weights = [weight for weight, _ in spec.branches]

    def run(self, user: Runner, scope: Scope) -> bool:
        (branch,) = random.choices(self.branches, cum_weights=self.cumulative)
        return run_steps(branch, user, scope)

    def blocks(self) -> Sequence[Sequence[StepProgram]]:
        return self.branches

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        """Every branch with its chance: the first on the scope, the others on copies."""
        total = sum(self.weights)
        for number, (weight, branch) in enumerate(zip(self.weights, self.branches, strict=True)):
            title = f"choose branch {number + 1} of {len(self.branches)} (weight {weight} of {total}):"
            rehearsal.block(title, branch, scope if number == 0 else dict(scope))


class Choose(StepKind[ChooseStep]):
    """``choose: [{weight: 3, steps: [...]}, ...]``."""

    name = "choose"
    schema = "chooseStep"
    model = ChooseStep
    program = ChooseProgram

    def build(self, node: MarkedDict, b: Building) -> ChooseStep | None:
        branches = tuple(
            (b.lenient(int, branch.get("weight", 1), 1), b.steps(branch.get("steps") or []))
            for branch in node["choose"]
            if isinstance(branch, dict)
        )
        if branches and not any(weight for weight, _ in branches):
            b.sink.add(b.pos(node, "choose"), "choose: every branch has weight 0")
        return ChooseStep(branches, b.pos(node))

    def compile(self, step: ChooseStep, c: Compiling, known: set[str]) -> StepProgram:
        branches = [c.block(branch, known) for _, branch in step.branches]
        if branches:
            known |= set.intersection(*(names for _, names in branches))
        return ChooseProgram(step, [program for program, _ in branches])

    def children(self, step: ChooseStep) -> Sequence[Sequence[Step]]:
        return [branch for _, branch in step.branches]


KIND = Choose()
