"""The ``use`` step: a fragment's steps run here, with its parameters as variables."""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import did_you_mean
from engine.model import UseStep
from engine.sentinels import Sentinel
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram, label, run_steps
from engine.templates import Renderer, Scope

_ABSENT = Sentinel("absent")


class UseProgram(StepProgram):
    """Run a fragment's steps with its parameters set as variables."""

    def __init__(self, name: str, args: list[tuple[str, Renderer]], steps: list[StepProgram], where: str) -> None:
        self.name = name
        self.args = args
        self.steps = steps
        self.label = where

    def run(self, user: Runner, scope: Scope) -> bool:
        """Parameters are variables during the fragment only; what it saves or sets stays."""
        values = {}
        for param, renderer in self.args:
            try:
                values[param] = renderer.render(scope)
            except Exception as exc:
                user.report_failure("USE", self.label, f"template error in {param}: {exc}", scope)
                return False
        before = {param: scope.get(param, _ABSENT) for param in values}
        scope.update(values)
        try:
            return run_steps(self.steps, user, scope)
        finally:
            for param, value in values.items():
                if scope.get(param, _ABSENT) is value:  # not re-assigned by the fragment: restore
                    if before[param] is _ABSENT:
                        del scope[param]
                    else:
                        scope[param] = before[param]

    def blocks(self) -> Sequence[Sequence[StepProgram]]:
        return (self.steps,)

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        for param, renderer in self.args:
            scope[param] = rehearsal.value(renderer, scope, param)
        rehearsal.block(f"use {self.name}:", self.steps, scope)


class Use(StepKind[UseStep]):
    """``use: login`` with ``with: {user: ...}``. The fragment is checked at each use, with its parameters."""

    name = "use"
    schema = "useStep"
    model = UseStep
    program = UseProgram

    def build(self, node: MarkedDict, b: Building) -> UseStep | None:
        return UseStep(str(node["use"]), b.assignments(node.get("with")), b.pos(node))

    def compile(self, step: UseStep, c: Compiling, known: set[str]) -> StepProgram:
        fragment = c.scenario.fragments.get(step.fragment)
        if fragment is None:
            hint = did_you_mean(step.fragment, c.scenario.fragments) or "define it in fragments: or include its file"
            c.sink.add(step.pos, f"unknown fragment '{step.fragment}'", hint)
            return UseProgram(step.fragment, [], [], label("use", step.pos))
        if step.fragment in c.using:
            chain = " -> ".join([*c.using, step.fragment])
            c.sink.add(step.pos, f"fragment '{step.fragment}' uses itself: {chain}")
            return UseProgram(step.fragment, [], [], label("use", step.pos))
        declared = dict(fragment.params)
        given = dict(step.args)
        for name, value in step.args:
            if name not in declared:
                hint = did_you_mean(name, declared) or (
                    f"its parameters: {', '.join(declared)}" if declared else "it takes no parameters"
                )
                c.sink.add(value.pos, f"fragment '{step.fragment}' has no parameter '{name}'", hint)
        args: list[tuple[str, Renderer]] = []
        for name, default in fragment.params:
            if name in given:
                args.append((name, c.renderer(given[name].raw, given[name].pos, known)))
            elif default is not None:
                args.append((name, c.renderer(default.raw, default.pos, known)))
            else:
                c.sink.add(step.pos, f"fragment '{step.fragment}' needs parameter '{name}'", "pass it in with:")
        c.using.append(step.fragment)
        inside = known | set(declared)
        steps = c.steps(fragment.steps, inside)
        c.using.pop()
        defined = set(c.defined_names(fragment.steps))
        known |= {name for name in inside if name not in declared or name in known or name in defined}
        return UseProgram(step.fragment, args, steps, label("use", step.pos))


KIND = Use()
