"""The ``loop`` step: repeat steps ``count`` times, ``over`` a list, or ``while`` a condition holds."""

from __future__ import annotations

from collections.abc import Sequence

from engine.model import LoopStep, Step, Value
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram, label, run_steps, truthy
from engine.templates import Constant, Renderer, Scope


class LoopProgram(StepProgram):
    """Repeat steps ``count`` times, ``over`` a list, or ``while`` a condition holds; never past ``max`` rounds."""

    def __init__(self, spec: LoopStep, arg: Renderer, steps: list[StepProgram]) -> None:
        self.kind = spec.kind
        self.arg = arg
        self.steps = steps
        self.item = spec.item
        self.index = spec.index
        self.max = spec.max
        self.label = label("loop", spec.pos)
        self.source = str(spec.arg.raw)

    def fail(self, user: Runner, message: str, scope: Scope) -> bool:
        user.report_failure("LOOP", self.label, message, scope)
        return False

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            value = self.arg.render(scope)
        except Exception as exc:
            return self.fail(user, f"template error: {exc}", scope)
        if self.kind == "count":
            if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
                return self.fail(user, "loop count is not a whole number", scope)
            if int(value) > self.max:
                return self.fail(user, f"loop count: more than {self.max} rounds (raise max)", scope)
            for index in range(int(value)):
                scope[self.index] = index
                if not run_steps(self.steps, user, scope):
                    return False
            return True
        if self.kind == "over":
            if not isinstance(value, (list, tuple)):
                return self.fail(user, "loop over: the value is not a list", scope)
            if len(value) > self.max:
                return self.fail(user, f"loop over: more than {self.max} items (raise max)", scope)
            for index, item in enumerate(value):
                scope[self.index], scope[self.item] = index, item
                if not run_steps(self.steps, user, scope):
                    return False
            return True
        index = 0
        while True:
            try:
                holds = truthy(self.arg.render(scope)) if index else truthy(value)
            except Exception as exc:
                return self.fail(user, f"template error: {exc}", scope)
            if not holds:
                return True
            if index >= self.max:
                return self.fail(user, f"loop while: still true after {self.max} rounds", scope)
            scope[self.index] = index
            if not run_steps(self.steps, user, scope):
                return False
            index += 1

    def blocks(self) -> Sequence[Sequence[StepProgram]]:
        return (self.steps,)

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        """One round: index 0, and over a list its first item (a placeholder when only a run gives the list)."""
        scope[self.index] = 0
        if self.kind == "over":
            items = rehearsal.value(self.arg, scope, f"loop over {self.source}")
            first = items[0] if isinstance(items, (list, tuple)) and items else None
            scope[self.item] = (
                first if first is not None else rehearsal.placeholder("item", self.item, f"of {self.source}")
            )
        rehearsal.block(f"loop {self.kind} {self.source} (one round shown, at most {self.max}):", self.steps, scope)


class Loop(StepKind[LoopStep]):
    """``loop: {count: 3}`` (or ``over:``, ``while:``) with ``steps:``."""

    name = "loop"
    schema = "loopStep"
    model = LoopStep
    program = LoopProgram

    def build(self, node: MarkedDict, b: Building) -> LoopStep | None:
        spec = node["loop"]
        kinds = [k for k in ("count", "over", "while") if k in spec]
        if len(kinds) != 1:
            if len(kinds) > 1:
                message = f"a loop has one of count, over, while: found '{kinds[0]}' and '{kinds[1]}'"
                b.sink.add(b.key_pos(spec, kinds[1]), message)
            return None
        kind = kinds[0]
        for key, applies in (("as", "over"), ("max", None)):
            if key in spec and applies and kind != applies:
                b.sink.add(b.key_pos(spec, key), f"'{key}' only applies to a loop over a list")
        return LoopStep(
            kind=kind,  # type: ignore[arg-type]
            arg=Value(spec[kind], b.pos(spec, kind)),
            steps=b.steps(node.get("steps") or []),
            pos=b.pos(node),
            item=str(spec.get("as", "item")),
            index=str(spec.get("index", "index")),
            max=b.lenient(int, spec.get("max", 1000), 1000),
        )

    def compile(self, step: LoopStep, c: Compiling, known: set[str]) -> StepProgram:
        if step.kind == "while":
            arg = c.condition(step.arg.raw, step.arg.pos, known)
        else:
            arg = c.renderer(step.arg.raw, step.arg.pos, known)
        extra = [step.index, step.item] if step.kind == "over" else [step.index]
        for name in extra:
            if name in c.loop_names:
                which = "as:" if name == step.item and step.kind == "over" else "index:"
                message = f"loop variable '{name}' is also an enclosing loop's: the inner loop would overwrite it"
                c.sink.add(step.pos, message, f"name it differently with {which}")
        c.loop_names.extend(extra)
        body, body_known = c.block(step.steps, known, extra)
        del c.loop_names[-len(extra) :]
        count = arg.value if step.kind == "count" and isinstance(arg, Constant) else None
        if isinstance(count, int) and count > step.max:
            c.sink.add(step.arg.pos, f"loop count {count} is more than max {step.max}", "raise max: to allow it")
        elif isinstance(count, int) and count > 0:
            known |= body_known  # the body surely runs
        return LoopProgram(step, arg, body)

    def children(self, step: LoopStep) -> Sequence[Sequence[Step]]:
        return (step.steps,)


KIND = Loop()
