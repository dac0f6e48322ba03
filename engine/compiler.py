"""Stage 4: model -> program. Templates, JSONPath, regexes, schemas and feeders are compiled here, once.

Also the scope analysis: a template may only use names defined before it —
built-ins, scenario ``vars``, values saved by ``setup``, values saved, set or
fed by earlier steps of the same journey, or by the user's ``on_start``. After
an ``if`` (or a ``choose``), only names every branch defines are known; a
fragment is checked at each ``use`` with its parameters. Everything found goes
to one :class:`ErrorSink`. The program is plain Python; :mod:`engine.users`
turns it into Locust classes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.counters import Counters
from engine.errors import ErrorSink, Position, did_you_mean
from engine.feeders import Feeder, FeederError, FeederHub, load_rows
from engine.files import Confinement
from engine.metrics import METRICS
from engine.model import Journey, Persona, Scenario, Step
from engine.pools import Pools
from engine.secrets import Secrets, secret_name
from engine.steps import StepProgram, defined_names, kind_of, requests_in
from engine.templates import (
    Constant,
    Expression,
    Lookup,
    Renderer,
    Scope,
    Templates,
)

_CONDITION = re.compile(r"^\s*\{\{.*\}\}\s*$")  # the schema's pattern for a condition (it reports the rest)
_UNDEFINED_HINT = "define it under vars:, save it in an earlier step, or assign it with set:"
_HOST_HINT = "host is rendered once at load time, before vars: it can only use env() and the other built-ins"


def counter_names(steps: Iterable[Step]) -> set[str]:
    """The counters that ``count:`` increments (also inside blocks)."""
    return {name for request in requests_in(steps) for name, _ in request.counters}


def shared_pools(steps: Iterable[Step]) -> dict[str, int]:
    """The pools that ``save ... share:`` publishes into (also inside blocks), with their sizes."""
    sizes: dict[str, int] = {}
    for request in requests_in(steps):
        for extractor in request.save:
            if extractor.share is not None:
                sizes[extractor.var] = max(sizes.get(extractor.var, 0), extractor.share)
    return sizes


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
    setup: list[StepProgram] = field(default_factory=list)
    teardown: list[StepProgram] = field(default_factory=list)
    setup_names: list[str] = field(default_factory=list)
    setup_values: Scope = field(default_factory=dict)
    feeders: FeederHub = field(default_factory=lambda: FeederHub({}))
    pools: Pools = field(default_factory=lambda: Pools({}))
    counters: Counters = field(default_factory=Counters)
    secrets: Secrets = field(default_factory=Secrets)
    journey_stats: Any = None  # a locust RequestStats of journey runs, made by engine.users
    _shared: tuple[Scope, Scope] | None = field(default=None, repr=False)

    @property
    def times_journeys(self) -> bool:
        """Whether journey runs are timed: only when a threshold reads them."""
        return any(threshold.journey is not None for threshold in self.scenario.thresholds)

    def shared_scope(self) -> Scope:
        """The variables of users that never change theirs (see :attr:`engine.users.ScenarioUser.shares_vars`): one
        dict for all of them while the setup values stay the same (each journey run copies it)."""
        cached = self._shared
        if cached is None or cached[0] != self.setup_values:
            cached = self._shared = (dict(self.setup_values), self.new_scope())
        return cached[1]

    @property
    def constant_vars(self) -> bool:
        """Every ``vars`` entry renders the same for every user."""
        return all(renderer.constant for _, renderer in self.variables)

    def new_scope(self) -> Scope:
        """The variables of a new user: built-ins, ``vars`` rendered in order, then what ``setup`` saved."""
        scope = dict(self.builtins)
        for name, renderer in self.variables:
            scope[name] = renderer.render(scope)
        scope.update(self.setup_values)
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
    def __init__(self, scenario: Scenario, sink: ErrorSink, check_names: bool, files: Confinement | None) -> None:
        self.scenario = scenario
        self.files = files or Confinement.around(scenario.path)
        self.sink = sink
        self.names_checked = check_names
        self.unsure: frozenset[str] | None = None  # names a step left out (schema errors) might define
        self.templates = Templates(scenario.faker_locale, scenario.faker_seed, scenario.limits)
        self.builtin_names = self.templates.builtin_names() | {"shared"}
        self.secrets = Secrets(path for path, _ in scenario.secrets)
        defaults = scenario.defaults
        self.default_headers = (
            self.templates.compile(defaults.headers.raw, defaults.headers.pos, sink) if defaults.headers else None
        )
        if defaults.headers is not None:
            self.secret_fields(defaults.headers.raw, defaults.headers.pos)
        # For "undefined variable" hints: the names the step sequence being compiled defines (maybe
        # after their use), and hints for names defined where the current steps cannot see them.
        self.var_names: dict[str, Position] = {}  # while vars compile: every var, for "defined later"
        self.frames: list[list[Any]] = []  # [steps, index] of each step sequence being compiled, outermost first
        self.elsewhere: dict[str, str] = {}
        self.services: dict[str, str] = {}
        self.feeders: dict[str, Feeder] = {}
        self.columns: dict[str, tuple[str, tuple[str, ...]]] = {}  # feed variable -> (feeder, columns)
        every_step = [*scenario.setup, *scenario.teardown, *(s for f in scenario.fragments.values() for s in f.steps)]
        for persona in scenario.personas:
            every_step += [*persona.on_start, *persona.on_stop, *(s for j in persona.journeys for s in j.steps)]
        self.every_step = every_step
        self.pools = Pools(shared_pools(every_step))
        self.counters = Counters(sorted(counter_names(every_step)))
        self.request_names: set[str] = set()
        self.using: list[str] = []  # fragments being compiled, to catch a fragment that uses itself
        self.loop_names: list[str] = []  # variables of the loops being compiled, to catch nested reuse

    # -- names -------------------------------------------------------------------
    def check_names(self, renderer: Renderer, known: set[str], fallback: str = _UNDEFINED_HINT) -> None:
        if not self.names_checked:
            return
        unsure = self.unsure
        for name, pos in renderer.names.items():
            if name not in known and name not in self.builtin_names and (unsure is None or name not in unsure):
                self.sink.add(pos, f"undefined variable '{name}'", self.undefined_hint(name, known, fallback))
        if unsure is not None:
            return  # pools and feeder columns may come from a step that could not be built
        for (name, attr), pos in renderer.attrs.items():
            if name == "shared" and "shared" not in known:
                if attr not in self.pools.names():
                    hint = did_you_mean(attr, self.pools.names()) or "publish it with share: true on a save"
                    self.sink.add(pos, f"no save shares a pool named '{attr}'", hint)
            elif name in self.columns and name in known:
                feeder, columns = self.columns[name]
                if attr not in columns:
                    hint = did_you_mean(attr, columns) or f"its columns: {', '.join(columns)}"
                    self.sink.add(pos, f"feeder '{feeder}' has no column '{attr}'", hint)

    def names_around(self) -> tuple[dict[str, Position], dict[str, Position]]:
        """The names earlier steps define, and those this step or a later one defines (every enclosing
        sequence, the innermost winning): worked out only for a hint, so compiling stays linear."""
        earlier: dict[str, Position] = {}
        later: dict[str, Position] = dict(self.var_names)
        for steps, index in self.frames:
            earlier.update(defined_names(steps[:index]))
            later.update(defined_names(steps[index:]))
        return earlier, later

    def undefined_hint(self, name: str, known: set[str], fallback: str) -> str:
        earlier_names, sequence_names = self.names_around()
        earlier = earlier_names.get(name)
        if earlier is not None:  # defined by an earlier step, and yet not known here
            return (
                f"it is defined at line {earlier.line} on some paths only, in a branch of an if or a choose "
                "or in a loop that may not run: define it on every path, or before the block"
            )
        later = sequence_names.get(name)
        if later is not None:
            return (
                f"it is defined later, at line {later.line}: vars and steps run in order, so define it before this use"
            )
        if name in self.elsewhere:
            return self.elsewhere[name]
        return did_you_mean(name, sorted(known | self.builtin_names)) or fallback

    def renderer(self, raw: Any, pos: Position, known: set[str]) -> Renderer:
        compiled = self.templates.compile(raw, pos, self.sink)
        self.check_names(compiled, known)
        return compiled

    # -- secrets -----------------------------------------------------------------
    def secret_fields(self, raw: Any, pos: Position) -> None:
        """The variables in secret headers or query parameters (``Authorization: Bearer {{ token }}``) are secret."""
        if isinstance(raw, dict):
            for name, value in raw.items():
                if secret_name(str(name)):
                    self.secret_value(value, pos)

    def secret_value(self, raw: Any, pos: Position) -> None:
        """Every variable a value reads is secret (the templates are compiled once: this reuses them)."""
        for name in self.templates.compile(raw, pos, ErrorSink()).names:
            if name not in self.builtin_names:
                self.secrets.add(name)

    def check_secrets(self, every_step: list[Step]) -> None:
        """Each name under ``secrets:`` must be a variable the scenario defines (a typo would leak)."""
        scenario = self.scenario
        defined = {name for name, _ in scenario.vars} | set(defined_names(every_step))
        defined |= {param for fragment in scenario.fragments.values() for param, _ in fragment.params}
        for path, pos in scenario.secrets:
            if path[0] not in defined and path[0].isidentifier():  # (not a name at all: the schema says so)
                hint = did_you_mean(path[0], defined) or "name a var, or a value a step saves, sets or feeds"
                self.sink.add(pos, f"secrets: no variable is named '{path[0]}'", hint)

    def condition(self, raw: Any, pos: Position, known: set[str]) -> Renderer:
        """A condition must be one ``{{ expression }}`` (or a boolean), never text that is always truthy.

        The schema reports any other shape (plain text, text before or after the braces, a number);
        only the template shows text between two expressions. Whitespace around the one expression
        is no text (a YAML block scalar ends with a newline).
        """
        shaped = isinstance(raw, str) and _CONDITION.search(raw) is not None
        if shaped:
            raw = raw.strip()
        compiled = self.renderer(raw, pos, known)
        if shaped and not isinstance(
            compiled, (Constant, Expression, Lookup)
        ):  # (a Constant: a syntax error, reported)
            self.sink.add(pos, "a condition must be one {{ expression }}, not text around it")
        return compiled

    # -- scenario ----------------------------------------------------------------
    def program(self) -> Program:
        scenario = self.scenario
        host: str | None = None
        probe: Scope = self.templates.builtins()
        if scenario.host is not None:
            host = self.load_time_value(scenario.host.raw, scenario.host.pos, probe, "host")
        for name, value in scenario.services:
            url = self.load_time_value(value.raw, value.pos, probe, f"services.{name}")
            self.services[name] = str(url).rstrip("/") if url is not None else ""
        known: set[str] = set()
        variables = []
        self.var_names = {name: value.pos for name, value in scenario.vars}
        for name, value in scenario.vars:
            compiled = self.renderer(value.raw, value.pos, known)
            variables.append((name, compiled))
            known.add(name)
        self.var_names = {}
        self.load_feeders()
        setup_known = set(known)
        setup = self.steps(scenario.setup, setup_known)
        setup_names = sorted(setup_known - known)
        known |= setup_known
        teardown = self.steps(scenario.teardown, set(known))
        personas = [self.persona(persona, known) for persona in scenario.personas]
        program = Program(
            scenario,
            self.templates,
            host,
            variables,
            personas,
            setup=setup,
            teardown=teardown,
            setup_names=setup_names,
            feeders=FeederHub(self.feeders),
            pools=self.pools,
            counters=self.counters,
            secrets=self.secrets,
        )
        self.check_load()
        if self.names_checked:
            self.check_secrets(self.every_step)
        if not self.sink.errors:  # (building ``fake`` would fail on an unknown locale, already reported)
            program.builtins = self.templates.builtins()
            program.builtins["shared"] = self.pools
            scope = dict(program.builtins)
            for (name, compiled), (_, value) in zip(variables, scenario.vars, strict=True):
                scope[name] = self._try_render(compiled, scope, value.pos, f"vars.{name}")
            fake = program.builtins.get("fake")
            if fake is not None and scenario.faker_seed is not None:
                fake.seed_instance(scenario.faker_seed)  # users start the seeded sequence afresh
        return program

    def check_load(self) -> None:
        """Profiles and thresholds must name things that exist."""
        scenario = self.scenario
        profiles = [profile.name for profile in scenario.profiles]
        if scenario.default_profile is not None and scenario.default_profile not in profiles:
            pos = scenario.default_profile_pos or scenario.pos
            hint = did_you_mean(scenario.default_profile, profiles) or "declare it under load.profiles"
            self.sink.add(pos, f"unknown profile '{scenario.default_profile}'", hint)
        personas = {persona.name for persona in scenario.personas}
        for profile in scenario.profiles:
            for stage in profile.stages:
                for name in stage.personas or ():
                    if name not in personas:
                        hint = did_you_mean(name, personas) or f"the users are: {', '.join(sorted(personas))}"
                        pos = stage.pos or scenario.pos
                        self.sink.add(pos, f"profile '{profile.name}': unknown persona '{name}'", hint)
        metrics = [*METRICS, *self.counters.totals]
        journeys = {j.name for p in scenario.personas for j in p.journeys}
        journeys |= {f"{p.name}.{j.name}" for p in scenario.personas for j in p.journeys}
        for threshold in scenario.thresholds:
            if threshold.metric not in metrics:
                hint = (
                    did_you_mean(threshold.metric, metrics)
                    or f"metrics: {', '.join(METRICS)}, or a counter from count:"
                )
                self.sink.add(threshold.pos, f"unknown metric '{threshold.metric}'", hint)
            elif math.isnan(threshold.limit):
                self.sink.add(threshold.limit_pos, f"counter '{threshold.metric}' is a number: give it without a unit")
            if threshold.metric in self.counters.totals and (threshold.request or threshold.journey):
                self.sink.add(threshold.pos, f"counter '{threshold.metric}' is counted for the whole run only")
            if threshold.metric in self.counters.totals and threshold.window is not None:
                self.sink.add(
                    threshold.pos,
                    f"counter '{threshold.metric}' is checked once, at the end of the run",
                    "a counter has no sliding window: remove for:",
                )
            if threshold.request is not None and threshold.request not in self.request_names:
                names = sorted(self.request_names)
                listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
                hint = did_you_mean(threshold.request, names) or f"request names: {listed}"
                self.sink.add(threshold.pos, f"no request is named '{threshold.request}'", hint)
            if threshold.journey is not None and threshold.journey not in journeys:
                hint = did_you_mean(threshold.journey, journeys) or "use JOURNEY or PERSONA.JOURNEY"
                self.sink.add(threshold.pos, f"no journey is named '{threshold.journey}'", hint)

    def load_time_value(self, raw: Any, pos: Position, probe: Scope, what: str) -> Any:
        """A value rendered once at load time (host, services): built-ins only."""
        errors = len(self.sink.errors)
        compiled = self.templates.compile(raw, pos, self.sink)
        self.check_names(compiled, set(), fallback=_HOST_HINT.replace("host", what))
        if len(self.sink.errors) == errors:
            return self._try_render(compiled, probe, pos, what)
        return None

    def load_feeders(self) -> None:
        for spec in self.scenario.feeders:
            try:
                rows, columns = load_rows(spec, Path(spec.pos.file).parent, self.files)
                self.feeders[spec.name] = Feeder(spec.name, rows, columns, spec.strategy, spec.on_exhausted)
            except FeederError as exc:
                self.sink.add(spec.pos, str(exc))

    def _try_render(self, compiled: Renderer, scope: Scope, pos: Position, what: str) -> Any:
        try:
            return compiled.render(scope)
        except Exception as exc:
            self.sink.add(pos, f"cannot render {what}: {self.secrets.mask(str(exc), scope)}")
            return None

    def persona(self, persona: Persona, scenario_names: set[str]) -> PersonaProgram:
        known = set(scenario_names)
        # A feed's columns are known where its variable is: not in other personas or journeys,
        # which may use the same name for something else.
        outer_columns = dict(self.columns)
        on_start = self.steps(persona.on_start, known)
        persona_columns = dict(self.columns)
        saved = {journey.name: defined_names(journey.steps) for journey in persona.journeys}
        journeys = []
        for journey in persona.journeys:
            self.elsewhere = _out_of_reach(saved, skip=journey.name)
            self.columns = dict(persona_columns)
            journeys.append(JourneyProgram(journey, self.steps(journey.steps, set(known))))
        self.elsewhere = _out_of_reach(saved)
        self.columns = dict(persona_columns)
        on_stop = self.steps(persona.on_stop, set(known))
        self.elsewhere = {}
        self.columns = outer_columns
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
        self.check_names(self.default_headers, {name for name, _ in self.scenario.vars})
        self.elsewhere = {}

    # -- steps -------------------------------------------------------------------
    def steps(self, steps: Iterable[Step], known: set[str]) -> list[StepProgram]:
        """Compile steps in order; names they surely define are added to ``known``."""
        steps = tuple(steps)
        frame: list[Any] = [steps, 0]  # where we are, for the hints of undefined names (see names_around)
        self.frames.append(frame)
        compiled = []
        try:
            for index, step in enumerate(steps):
                frame[1] = index
                compiled.append(self.step(step, known))
        finally:
            self.frames.pop()
        return compiled

    def block(
        self, steps: Iterable[Step], known: set[str], extra: Iterable[str] = ()
    ) -> tuple[list[StepProgram], set[str]]:
        """Compile a nested block; returns its program and the names known at its end."""
        inside = set(known) | set(extra)
        return self.steps(steps, inside), inside

    def step(self, step: Step, known: set[str]) -> StepProgram:
        return kind_of(step).compile(step, self, known)

    def defined_names(self, steps: Iterable[Step]) -> dict[str, Position]:
        return defined_names(steps)


def compile_scenario(
    scenario: Scenario,
    sink: ErrorSink,
    check_names: bool = True,
    unsure: frozenset[str] | None = None,
    files: Confinement | None = None,
) -> Program:
    """Compile a scenario; problems go to ``sink``.

    ``check_names=False`` skips the undefined-variable analysis. ``unsure`` is for a
    scenario whose schema already failed, so some steps could not be built: a name
    in it might be defined by one of those, and only the other undefined names are
    reported. ``files`` are the folders data and schema files may come from (the scenario's own).
    """
    compiler = _Compiler(scenario, sink, check_names, files)
    compiler.unsure = unsure
    compiler.check_default_headers()
    return compiler.program()


def compile_library(scenario: Scenario, sink: ErrorSink, files: Confinement | None = None) -> None:
    """Check a file that scenarios include: its vars, services, data and every fragment's steps.

    Names are not checked: a fragment may use what the including scenario defines.
    """
    compiler = _Compiler(scenario, sink, check_names=False, files=files)
    compiler.check_default_headers()
    compiler.program()
    known = {name for name, _ in scenario.vars}
    for name, fragment in scenario.fragments.items():
        compiler.using.append(name)
        compiler.steps(fragment.steps, known | {param for param, _ in fragment.params})
        compiler.using.pop()
