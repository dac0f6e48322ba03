"""The ``think`` step: a pause (a stopping user stops here)."""

from __future__ import annotations

import random

from engine.durations import seconds
from engine.model import ThinkStep
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram
from engine.templates import Scope


class ThinkProgram(StepProgram):
    """Pause; the user may be stopped gracefully meanwhile."""

    def __init__(self, spec: ThinkStep) -> None:
        self.low = spec.low
        self.high = spec.high

    def run(self, user: Runner, scope: Scope) -> bool:
        user.think(self.low if self.low == self.high else random.uniform(self.low, self.high))
        return True

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        pause = f"{self.low:g}s" if self.low == self.high else f"{self.low:g}-{self.high:g}s"
        rehearsal.note(f"think {pause}", scope)


class Think(StepKind[ThinkStep]):
    """``think: 2`` or ``think: {between: [1, 3]}``."""

    name = "think"
    schema = "thinkStep"
    model = ThinkStep
    program = ThinkProgram

    def build(self, node: MarkedDict, b: Building) -> ThinkStep | None:
        think = node["think"]
        if isinstance(think, dict):
            low, high = (seconds(v) for v in think["between"])
            if low > high:
                b.sink.add(b.pos(node, "think"), "between: the minimum is larger than the maximum")
            return ThinkStep(low, high, b.pos(node))
        return ThinkStep(seconds(think), seconds(think), b.pos(node))

    def compile(self, step: ThinkStep, c: Compiling, known: set[str]) -> StepProgram:
        return ThinkProgram(step)


KIND = Think()
