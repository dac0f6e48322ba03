"""Stage 4: model -> program. Templates, JSONPath, regexes and schemas are compiled here, once.

Also the scope analysis: a template may only use names defined before it —
built-ins, scenario ``vars``, values saved or set by earlier steps of the same
journey, or by the user's ``on_start``. Everything found goes to one
:class:`ErrorSink`. The program is plain Python; :mod:`engine.users` turns it
into Locust classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ErrorSink, Position, did_you_mean
from engine.expect import Checks
from engine.extract import Saver
from engine.model import Assign, Journey, Log, Persona, Request, Scenario, SetHeaders, Step, Think
from engine.steps import HeadersStep, LogStep, RequestStep, SetStep, StepProgram, ThinkStep
from engine.templates import Renderer, Scope, Templates

_UNDEFINED_HINT = "define it under vars:, save it in an earlier step, or assign it with set:"


@dataclass
class JourneyProgram:
    """A compiled journey."""

    journey: Journey
    steps: list[StepProgram]


@dataclass
class PersonaProgram:
    """A compiled persona: what one Locust user class runs."""

    persona: Persona
    on_start: list[StepProgram]
    on_stop: list[StepProgram]
    journeys: list[JourneyProgram]


@dataclass
class Program:
    """A compiled scenario."""

    scenario: Scenario
    templates: Templates
    host: str | None
    variables: list[tuple[str, Renderer]]
    personas: list[PersonaProgram] = field(default_factory=list)
    builtins: Scope = field(default_factory=dict)

    def new_scope(self) -> Scope:
        """The variables of a new user: built-ins, then ``vars`` rendered in order."""
        scope = dict(self.builtins)
        for name, renderer in self.variables:
            scope[name] = renderer.render(scope)
        return scope


class _Compiler:
    def __init__(self, scenario: Scenario, sink: ErrorSink, check_names: bool) -> None:
        self.scenario = scenario
        self.sink = sink
        self.names_checked = check_names
        self.templates = Templates(scenario.faker_locale, scenario.faker_seed)
        self.builtin_names = self.templates.builtin_names()
        defaults = scenario.defaults
        self.default_headers = (
            self.templates.compile(defaults.headers.raw, defaults.headers.pos, sink) if defaults.headers else None
        )
        self.base = scenario.path.parent

    def check_names(self, names: dict[str, Position], known: set[str]) -> None:
        if not self.names_checked:
            return
        for name, pos in names.items():
            if name not in known and name not in self.builtin_names:
                hint = did_you_mean(name, sorted(known | self.builtin_names)) or _UNDEFINED_HINT
                self.sink.add(pos, f"undefined variable '{name}'", hint)

    def renderer(self, raw: Any, pos: Position, known: set[str]) -> Renderer:
        compiled = self.templates.compile(raw, pos, self.sink)
        self.check_names(compiled.names, known)
        return compiled

    def program(self) -> Program:
        scenario = self.scenario
        host: str | None = None
        probe: Scope = self.templates.builtins()
        if scenario.host is not None:
            compiled = self.renderer(scenario.host.raw, scenario.host.pos, set())
            host = self._try_render(compiled, probe, scenario.host.pos, "host")
        known: set[str] = set()
        variables = []
        for name, value in scenario.vars:
            compiled = self.renderer(value.raw, value.pos, known)
            variables.append((name, compiled))
            known.add(name)
        personas = [self.persona(persona, known) for persona in scenario.personas]
        program = Program(scenario, self.templates, host, variables, personas)
        program.builtins = self.templates.builtins()
        if not self.sink.errors:
            scope = dict(program.builtins)
            for (name, compiled), (_, value) in zip(variables, scenario.vars, strict=True):
                scope[name] = self._try_render(compiled, scope, value.pos, f"vars.{name}")
        return program

    def _try_render(self, compiled: Renderer, scope: Scope, pos: Position, what: str) -> Any:
        try:
            return compiled.render(scope)
        except Exception as exc:
            self.sink.add(pos, f"cannot render {what}: {exc}")
            return None

    def persona(self, persona: Persona, scenario_names: set[str]) -> PersonaProgram:
        known = set(scenario_names)
        on_start = self.steps(persona.on_start, known)
        journeys = [JourneyProgram(j, self.steps(j.steps, set(known))) for j in persona.journeys]
        on_stop = self.steps(persona.on_stop, set(known))
        return PersonaProgram(persona, on_start, on_stop, journeys)

    def steps(self, steps: Iterable[Step], known: set[str]) -> list[StepProgram]:
        """Compile steps in order; names they save or set are added to ``known``."""
        return [self.step(step, known) for step in steps]

    def step(self, step: Step, known: set[str]) -> StepProgram:
        if isinstance(step, Request):
            return self.request(step, known)
        if isinstance(step, Think):
            return ThinkStep(step)
        if isinstance(step, SetHeaders):
            return HeadersStep(step, self.renderer(step.headers.raw, step.headers.pos, known))
        if isinstance(step, Assign):
            values = []
            for name, value in step.values:
                values.append((name, self.renderer(value.raw, value.pos, known)))
                known.add(name)
            return SetStep(step, values)
        if isinstance(step, Log):
            return LogStep(step, self.renderer(step.message.raw, step.message.pos, known))
        raise TypeError(f"unknown step {step!r}")

    def request(self, step: Request, known: set[str]) -> RequestStep:
        url = self.renderer(step.url.raw, step.url.pos, known)
        renderers: dict[str, Renderer] = {}
        for field_name in ("params", "headers", "json", "form", "body", "auth"):
            value = getattr(step, field_name)
            if value is not None:
                renderers[field_name] = self.renderer(value.raw, value.pos, known)
        checks = Checks(step.expect, self.base, self.templates, self.sink)
        self.check_names(checks.names, known)
        savers = [Saver(spec, self.templates, self.sink) for spec in step.save]
        for saver in savers:
            self.check_names(saver.names, known)
        known.update(saver.var for saver in savers)
        defaults = self.scenario.defaults
        return RequestStep(
            step,
            url,
            renderers,
            checks,
            savers,
            self.default_headers,
            timeout=step.timeout if step.timeout is not None else defaults.timeout,
            allow_redirects=step.allow_redirects if step.allow_redirects is not None else defaults.allow_redirects,
        )


def compile_scenario(scenario: Scenario, sink: ErrorSink, check_names: bool = True) -> Program:
    """Compile a scenario; problems go to ``sink``.

    ``check_names=False`` skips the undefined-variable analysis (used when the
    schema already failed and some steps could not be built).
    """
    compiler = _Compiler(scenario, sink, check_names)
    if compiler.default_headers is not None:
        compiler.check_names(compiler.default_headers.names, {name for name, _ in scenario.vars})
    return compiler.program()
