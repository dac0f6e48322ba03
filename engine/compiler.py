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
_HOST_HINT = "host is rendered once at load time, before vars: it can only use env() and the other built-ins"


def defined_names(steps: Iterable[Step]) -> dict[str, Position]:
    """The names a sequence of steps saves or sets, each with where it is first defined."""
    found: dict[str, Position] = {}
    for step in steps:
        if isinstance(step, Request):
            for extractor in step.save:
                found.setdefault(extractor.var, extractor.pos)
        elif isinstance(step, Assign):
            for name, value in step.values:
                found.setdefault(name, value.pos)
    return found


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


def _out_of_reach(saved: dict[str, dict[str, Position]], skip: str | None = None) -> dict[str, str]:
    """Hints for names saved by journeys other than ``skip``: journeys do not share values."""
    hints: dict[str, str] = {}
    for journey, names in saved.items():
        for name in names:
            if journey != skip:
                hints.setdefault(
                    name,
                    f"it is saved in journey '{journey}', and journeys do not share values: "
                    "save it in on_start to share it",
                )
    return hints


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
        # For "undefined variable" hints: the names the step sequence being compiled defines (maybe
        # after their use), and hints for names defined where the current steps cannot see them.
        self.sequence_names: dict[str, Position] = {}
        self.elsewhere: dict[str, str] = {}

    def check_names(self, names: dict[str, Position], known: set[str], fallback: str = _UNDEFINED_HINT) -> None:
        if not self.names_checked:
            return
        for name, pos in names.items():
            if name not in known and name not in self.builtin_names:
                self.sink.add(pos, f"undefined variable '{name}'", self.undefined_hint(name, known, fallback))

    def undefined_hint(self, name: str, known: set[str], fallback: str) -> str:
        later = self.sequence_names.get(name)
        if later is not None:
            return (
                f"it is defined later, at line {later.line}: vars and steps run in order, so define it before this use"
            )
        if name in self.elsewhere:
            return self.elsewhere[name]
        return did_you_mean(name, sorted(known | self.builtin_names)) or fallback

    def renderer(self, raw: Any, pos: Position, known: set[str]) -> Renderer:
        compiled = self.templates.compile(raw, pos, self.sink)
        self.check_names(compiled.names, known)
        return compiled

    def program(self) -> Program:
        scenario = self.scenario
        host: str | None = None
        probe: Scope = self.templates.builtins()
        if scenario.host is not None:
            errors = len(self.sink.errors)
            compiled = self.templates.compile(scenario.host.raw, scenario.host.pos, self.sink)
            self.check_names(compiled.names, set(), fallback=_HOST_HINT)
            if len(self.sink.errors) == errors:
                host = self._try_render(compiled, probe, scenario.host.pos, "host")
        known: set[str] = set()
        variables = []
        self.sequence_names = {name: value.pos for name, value in scenario.vars}
        for name, value in scenario.vars:
            compiled = self.renderer(value.raw, value.pos, known)
            variables.append((name, compiled))
            known.add(name)
        self.sequence_names = {}
        personas = [self.persona(persona, known) for persona in scenario.personas]
        program = Program(scenario, self.templates, host, variables, personas)
        if not self.sink.errors:  # (building ``fake`` would fail on an unknown locale, already reported)
            program.builtins = self.templates.builtins()
            scope = dict(program.builtins)
            for (name, compiled), (_, value) in zip(variables, scenario.vars, strict=True):
                scope[name] = self._try_render(compiled, scope, value.pos, f"vars.{name}")
            fake = program.builtins.get("fake")
            if fake is not None and scenario.faker_seed is not None:
                fake.seed_instance(scenario.faker_seed)  # users start the seeded sequence afresh
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
        saved = {journey.name: defined_names(journey.steps) for journey in persona.journeys}
        journeys = []
        for journey in persona.journeys:
            self.elsewhere = _out_of_reach(saved, skip=journey.name)
            journeys.append(JourneyProgram(journey, self.steps(journey.steps, set(known))))
        self.elsewhere = _out_of_reach(saved)
        on_stop = self.steps(persona.on_stop, set(known))
        self.elsewhere = {}
        return PersonaProgram(persona, on_start, on_stop, journeys)

    def check_default_headers(self) -> None:
        """``defaults.headers`` are rendered for every request, before any step: they may use ``vars`` only."""
        if self.default_headers is None:
            return
        for persona in self.scenario.personas:
            for steps in (persona.on_start, *(j.steps for j in persona.journeys), persona.on_stop):
                for name, pos in defined_names(steps).items():
                    self.elsewhere.setdefault(
                        name,
                        f"it is saved by the step at line {pos.line}, but defaults.headers can only use vars: "
                        "send this header with a headers: step after that step",
                    )
        self.check_names(self.default_headers.names, {name for name, _ in self.scenario.vars})
        self.elsewhere = {}

    def steps(self, steps: tuple[Step, ...], known: set[str]) -> list[StepProgram]:
        """Compile steps in order; names they save or set are added to ``known``."""
        self.sequence_names = defined_names(steps)
        compiled = [self.step(step, known) for step in steps]
        self.sequence_names = {}
        return compiled

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
    compiler.check_default_headers()
    return compiler.program()
