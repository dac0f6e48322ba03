"""``locust-scenario dry-run``: every request of a scenario rendered as it would be sent; nothing is sent.

For each persona: its ``on_start``, each journey and ``on_stop``, in order,
with every branch shown (both arms of an ``if``, each ``choose`` branch, one
round of a loop, one attempt of a poll). Each request is rendered by the same
compiled program a run uses: method, URL with its query, the headers after
every layer merges (the client's defaults, body type, defaults, session
headers, the step's, auth) and the body as it goes on the wire. Values only a
run can give (what a request saves, ``now()``) are placeholders such as
``<saved: token from Login $.token>``; ``fake``, ``uuid()`` and the random
functions are seeded, so two dry runs print the same. Secret values are masked.
Three formats: readable text, an ``.http`` file, and curl commands.
"""

from __future__ import annotations

import random
import re
import shlex
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from engine.compiler import PersonaProgram, Program
from engine.secrets import mask_header, secret_name
from engine.steps import RequestProgram, StepProgram
from engine.steps.header_merge import CLIENT_HEADERS, merge_headers
from engine.templates import Renderer, Scope, seed_fake

FORMATS = ("text", "http", "curl")
_PLACEHOLDER = re.compile(r"<(?:saved|fed|item|at run time|not rendered): [^<>]*>")
_SCHEME = re.compile(r"(?:[A-Za-z][A-Za-z0-9-]*)?")


class Placeholder(str):
    """A value only a run gives, shown as ``<saved: token from Login $.token>``.

    A template may read an attribute or a key of it (``{{ user.id }}``): that is a
    placeholder too, so that the rest of the request still renders.
    """

    kind: str
    name: str
    origin: str

    def __new__(cls, kind: str, name: str, origin: str) -> Placeholder:
        made = super().__new__(cls, f"<{kind}: {name}{f' {origin}' if origin else ''}>")
        made.kind, made.name, made.origin = kind, name, origin
        return made

    def __getattr__(self, attribute: str) -> Placeholder:
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return Placeholder(self.kind, f"{self.name}.{attribute}", self.origin)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return Placeholder(self.kind, f"{self.name}[{key!r}]", self.origin)
        return super().__getitem__(key)


@dataclass
class Shown:
    """One line of a dry run: a title, a note or a request, at a depth."""

    depth: int
    kind: str  # "title", "note" or "request"
    text: str = ""
    method: str = ""
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    name: str = ""
    saves: list[str] = field(default_factory=list)


class DryRun:
    """Walks a compiled program, collecting :class:`Shown` lines (see :class:`engine.steps.base.Rehearsal`)."""

    def __init__(self, program: Program, host: str | None, seed: int) -> None:
        self.program = program
        self.host = host or program.host
        self.seed = seed
        self.rng = random.Random(seed)
        self.shown: list[Shown] = []
        self.depth = 0
        self.session_headers: dict[str, str] = {}

    # -- the Rehearsal protocol --------------------------------------------------------------------------------
    def note(self, text: str, scope: Scope) -> None:
        self.shown.append(Shown(self.depth, "note", self.mask(text, scope)))

    def block(self, title: str, steps: Sequence[StepProgram], scope: Scope) -> None:
        self.shown.append(Shown(self.depth, "title", self.mask(title, scope)))
        self.depth += 1
        try:
            for step in steps:
                step.rehearse(self, scope)
        finally:
            self.depth -= 1

    def value(self, renderer: Renderer, scope: Scope, what: str) -> Any:
        try:
            return renderer.render(scope)
        except Exception as exc:
            return Placeholder("not rendered", what, f"({exc})")

    def placeholder(self, kind: str, name: str, origin: str) -> Any:
        return Placeholder(kind, name, origin)

    def request(self, request: Any, scope: Scope) -> None:
        assert isinstance(request, RequestProgram)
        try:
            url, headers, body = request.prepared(self.session_headers, scope)
        except Exception as exc:
            self.note(f"{request.method.upper()} {request.name} (not rendered: {exc})", scope)
        else:
            url = absolute(self.host, url)
            headers = merge_headers(CLIENT_HEADERS, headers)
            saves = [f"{saver.var} <- {describe_source(saver.source, saver.arg)}" for saver in request.savers]
            self.shown.append(
                Shown(
                    self.depth,
                    "request",
                    method=request.method.upper(),
                    url=self.mask(url, scope),
                    headers={name: self.header(name, value, scope) for name, value in headers.items()},
                    body=None if body is None else self.mask(body, scope),
                    name=request.name,
                    saves=saves,
                )
            )
        for saver in request.savers:
            scope[saver.var] = Placeholder(
                "saved", saver.var, f"from {request.name} {describe_source(saver.source, saver.arg)}"
            )

    # -- the walk ---------------------------------------------------------------------------------------------
    def mask(self, text: str, scope: Scope) -> str:
        """``text`` with the values of secret variables masked (a placeholder is no secret)."""
        values = {name: value for name, value in scope.items() if not isinstance(value, Placeholder)}
        return self.program.secrets.mask(text, values)

    def header(self, name: str, value: str, scope: Scope) -> str:
        """A header as a log shows it (``Bearer ***``), unless its value is a scheme and placeholders only."""
        value = self.mask(value, scope)
        if not secret_name(name):
            return value
        rest = _PLACEHOLDER.sub("", value).strip()
        return value if _SCHEME.fullmatch(rest) else mask_header(name, value)

    def builtins(self) -> Scope:
        """The built-in names, seeded: the same values on every dry run."""
        scope = dict(self.program.builtins)
        rng = self.rng
        scope.update(
            uuid=lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            randint=rng.randint,
            random=rng.random,
            choice=lambda items: rng.choice(items if isinstance(items, (list, tuple, str)) else list(items)),
            sample=lambda items, k: (lambda seq: rng.sample(seq, min(k, len(seq))))(list(items)),
            now=lambda fmt=None: Placeholder("at run time", "now()" if fmt is None else f"now({fmt!r})", ""),
        )
        if "fake" in scope:
            seed_fake(scope["fake"], self.seed, 0)
        return scope

    def new_scope(self, setup_values: Scope) -> Scope:
        scope = self.builtins()
        for name, renderer in self.program.variables:
            scope[name] = self.value(renderer, scope, name)
        scope.update(setup_values)
        return scope

    def walk(self, personas: Sequence[str] = (), journeys: Sequence[str] = ()) -> list[Shown]:
        program = self.program
        setup_scope = self.new_scope({})
        if program.setup:
            self.block("setup (once, before the users start):", program.setup, setup_scope)
        setup_values = {name: setup_scope[name] for name in program.setup_names if name in setup_scope}
        for persona in program.personas:
            if personas and persona.persona.name not in personas:
                continue
            self.persona(persona, setup_values, journeys)
        if program.teardown:
            self.session_headers = {}
            self.block("teardown (once, after the users stop):", program.teardown, self.new_scope(setup_values))
        return self.shown

    def persona(self, persona: PersonaProgram, setup_values: Scope, journeys: Sequence[str]) -> None:
        spec = persona.persona
        self.session_headers = {}
        self.shown.append(Shown(0, "title", f"persona {spec.name} (weight {spec.weight}, client {spec.client}):"))
        self.depth = 1
        scope = self.new_scope(setup_values)
        if persona.on_start:
            self.block("on_start:", persona.on_start, scope)
        session = dict(self.session_headers)
        for journey in persona.journeys:
            if journeys and journey.journey.name not in journeys:
                continue
            self.session_headers = dict(session)
            self.block(f"journey {journey.journey.name} (weight {journey.journey.weight}):", journey.steps, dict(scope))
        if persona.on_stop:
            self.session_headers = dict(session)
            self.block("on_stop:", persona.on_stop, dict(scope))
        self.depth = 0


def absolute(host: str | None, url: str) -> str:
    """``url`` on ``host`` (as the clients join them), or as it is when it is absolute or there is no host."""
    if not host or url.lower().startswith(("http://", "https://")):
        return url
    return urljoin(host.rstrip("/") + "/", url.lstrip("/"))


def describe_source(source: str, arg: str) -> str:
    """Where a saved value comes from: ``$.token``, ``header Location``, ``status``."""
    if source == "jsonpath":
        return arg
    return f"{source} {arg}".strip()


# -- formats -----------------------------------------------------------------------------------------------------
def as_text(shown: Sequence[Shown], header: str) -> str:
    lines = [header]
    for line in shown:
        pad = "  " * line.depth
        if line.kind != "request":
            lines.append(pad + line.text)
            continue
        lines.append(f"{pad}{line.method} {line.url}    [stats name: {line.name}]")
        lines += [f"{pad}    {name}: {value}" for name, value in line.headers.items()]
        if line.body is not None:
            lines.append(f"{pad}    (body) {line.body}")
        lines += [f"{pad}    saves {save}" for save in line.saves]
    return "\n".join(lines) + "\n"


def _with_comments(shown: Sequence[Shown], header: str, request: Callable[[Shown], list[str]]) -> str:
    """Requests as ``request`` writes them; titles and notes as indented ``#`` comments."""
    lines = [f"# {header}"]
    for line in shown:
        lines += request(line) if line.kind == "request" else ["# " + "  " * line.depth + line.text]
    return "\n".join(lines) + "\n"


def _http_request(line: Shown) -> list[str]:
    lines = ["", f"### {line.name}", f"{line.method} {line.url}"]
    lines += [f"{name}: {value}" for name, value in line.headers.items()]
    if line.body is not None:
        lines += ["", line.body]
    return [*lines, *(f"# saves {save}" for save in line.saves), ""]


def _curl_request(line: Shown) -> list[str]:
    parts = ["curl", "-X", line.method, shlex.quote(line.url)]
    for name, value in line.headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if line.body is not None:
        parts += ["--data-raw", shlex.quote(line.body)]
    return [f"# {line.name}", " ".join(parts)]


def as_http(shown: Sequence[Shown], header: str) -> str:
    """An ``.http`` file (REST Client, JetBrains HTTP client): ``###`` between requests, the rest as comments."""
    return _with_comments(shown, header, _http_request)


def as_curl(shown: Sequence[Shown], header: str) -> str:
    """One ``curl`` command per request, the rest as comments."""
    return _with_comments(shown, header, _curl_request)


WRITERS: dict[str, Callable[[Sequence[Shown], str], str]] = {"text": as_text, "http": as_http, "curl": as_curl}


def dry_run(
    program: Program,
    *,
    host: str | None = None,
    personas: Sequence[str] = (),
    journeys: Sequence[str] = (),
    output: str = "text",
    seed: int | None = None,
) -> str:
    """The dry run of ``program`` in one of :data:`FORMATS`."""
    scenario = program.scenario
    run = DryRun(program, host, (scenario.faker_seed or 0) if seed is None else seed)
    shown = run.walk(personas, journeys)
    target = run.host or "no host (give -H URL; the paths are shown as written)"
    header = f"dry run of {scenario.path.name} (scenario {scenario.name}): nothing is sent; host {target}"
    return WRITERS[output](shown, header)
