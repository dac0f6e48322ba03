"""The ``log`` step: a templated message in Locust's log (INFO, secrets masked)."""

from __future__ import annotations

import logging

from engine.model import LogStep, Value
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram
from engine.templates import Renderer, Scope

log = logging.getLogger("engine.steps")


class LogProgram(StepProgram):
    """Write a message to Locust's log."""

    def __init__(self, spec: LogStep, message: Renderer) -> None:
        self.message = message

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            text = str(self.message.render(scope))
        except Exception as exc:
            log.warning("log step: template error: %s", user.mask(str(exc), scope))
            return True
        if log.isEnabledFor(logging.INFO):
            log.info("%s", user.mask(text, scope))
        return True

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        rehearsal.note(f"log: {rehearsal.value(self.message, scope, 'log')}", scope)


class Log(StepKind[LogStep]):
    """``log: "bought {{ qty }}"``."""

    name = "log"
    schema = "logStep"
    model = LogStep
    program = LogProgram

    def build(self, node: MarkedDict, b: Building) -> LogStep | None:
        return LogStep(Value(node["log"], b.pos(node, "log")), b.pos(node))

    def compile(self, step: LogStep, c: Compiling, known: set[str]) -> StepProgram:
        return LogProgram(step, c.renderer(step.message.raw, step.message.pos, known))


KIND = Log()
