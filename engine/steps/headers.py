"""The ``headers`` step: session headers for the rest of the user's life (null removes one)."""

from __future__ import annotations

from engine.model import HeadersStep, Value
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram
from engine.steps.header_merge import merge_headers
from engine.templates import Renderer, Scope


class HeadersProgram(StepProgram):
    """Set (or, with null, remove) session headers for the rest of the user's life."""

    def __init__(self, spec: HeadersStep, headers: Renderer) -> None:
        self.headers = headers
        self.where = f"headers step at line {spec.pos.line}"

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            values = self.headers.render(scope)
        except Exception as exc:
            user.report_failure("HEADERS", self.where, f"template error: {exc}", scope)
            return False
        user.session_headers = merge_headers(user.session_headers, values)
        user.header_cache = {}  # merges with the headers before are of no more use
        return True

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        values = rehearsal.value(self.headers, scope, "headers")
        if isinstance(values, dict):
            rehearsal.session_headers = merge_headers(rehearsal.session_headers, values)
            shown = ", ".join(f"{name}: {rehearsal.header(name, str(value), scope)}" for name, value in values.items())
            rehearsal.note(f"session headers: {shown}", scope)


class Headers(StepKind[HeadersStep]):
    """``headers: {Authorization: "Bearer {{ token }}"}``."""

    name = "headers"
    schema = "headersStep"
    model = HeadersStep
    program = HeadersProgram

    def build(self, node: MarkedDict, b: Building) -> HeadersStep | None:
        return HeadersStep(Value(node["headers"], b.pos(node, "headers")), b.pos(node))

    def compile(self, step: HeadersStep, c: Compiling, known: set[str]) -> StepProgram:
        c.secret_fields(step.headers.raw, step.headers.pos)
        return HeadersProgram(step, c.renderer(step.headers.raw, step.headers.pos, known))


KIND = Headers()
