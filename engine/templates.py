"""Templates: Jinja2 (sandboxed, strict about undefined names), compiled once.

:meth:`Templates.compile` turns any YAML value into a :class:`Renderer`:

* a string without ``{{``/``{%`` (and any structure of such strings) is a
  constant, returned as is;
* a string that is exactly one ``{{ expression }}`` renders to the
  expression's value, keeping its type (an int stays an int in a JSON body);
* any other template string renders to a string;
* mappings and lists render item by item.

Rendering takes a *scope*: one dict holding the built-ins and the user's
variables. It is passed to Jinja as the context itself, never copied.
"""

from __future__ import annotations

import os
import random as _random
import re
import uuid as _uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, meta, nodes

from engine.deadline import WATCH
from engine.errors import ErrorSink, Position, did_you_mean
from engine.model import Limits
from engine.sandbox import BoundedEnvironment, TemplateLimit, bounded_text
from engine.secrets import register
from engine.sentinels import Sentinel

Scope = dict[str, Any]
_MISSING = Sentinel("no default")
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_STATEMENT = re.compile(r"\{%.*?%\}", re.DOTALL)
_UNKNOWN = re.compile(r"No (filter|test) named '(\w+)'")


def env_var(name: str, default: Any = _MISSING, secret: bool = False) -> Any:
    """``env('NAME', default)``: an environment variable; without a default it must be set.

    ``env('NAME', secret=true)``: its value (or the default) is secret, masked in every message and log.
    """
    value = os.environ.get(name)
    if value is None:
        if default is _MISSING:
            raise LookupError(f"environment variable {name} is not set (give env() a default)")
        value = default
    if secret:
        register(value)
    return value


def now(fmt: str | None = None) -> str:
    """``now()``: the current UTC time as ISO 8601, or formatted with strftime ``fmt``."""
    moment = datetime.now(timezone.utc)
    return moment.strftime(fmt) if fmt else moment.isoformat()


def sample(items: Iterable[Any], k: int) -> list[Any]:
    """``sample(list, k)``: ``k`` different items in random order (all of them when there are fewer)."""
    seq = list(items)
    return _random.sample(seq, min(k, len(seq)))


def choice(items: Iterable[Any]) -> Any:
    """``choice(list)``: a random item."""
    seq = items if isinstance(items, (list, tuple, str)) else list(items)
    return _random.choice(seq)


BUILTINS: dict[str, Callable[..., Any]] = {
    "env": env_var,
    "uuid": lambda: str(_uuid.uuid4()),
    "randint": _random.randint,
    "random": _random.random,
    "choice": choice,
    "sample": sample,
    "now": now,
}
RESPONSE_NAMES = ("status", "headers", "json", "body", "elapsed_ms")


class Renderer:
    """A compiled value: ``render(scope)`` gives the value for one use.

    ``names`` are the variables it reads (with where each is first used) and
    ``attrs`` the ``name.attribute`` reads, so that the compiler can check both.
    """

    __slots__ = ("attrs", "names")
    constant = False

    def __init__(self, names: Mapping[str, Position], attrs: Mapping[tuple[str, str], Position] | None = None) -> None:
        self.names = dict(names)
        self.attrs = dict(attrs or {})

    def render(self, scope: Scope) -> Any:
        raise NotImplementedError


class Constant(Renderer):
    """A value without template syntax."""

    __slots__ = ("value",)
    constant = True

    def __init__(self, value: Any) -> None:
        super().__init__({})
        self.value = value

    def render(self, scope: Scope) -> Any:
        return self.value


class Bounds:
    """Where a template is written (for messages) and the limits its evaluation runs under."""

    __slots__ = ("loops", "size", "time", "where")

    def __init__(self, pos: Position, limits: Limits, loops: bool) -> None:
        self.where = f"{Path(pos.file).name}:{pos.line}"
        self.time = limits.template_time
        self.size = limits.template_size
        self.loops = loops  # a loop may write more than any one value it builds: its output is counted

    def run(self, func: Callable[[Any], Iterable[str]], context: Any, join: Callable[[Iterable[str]], Any]) -> Any:
        """``join(func(context))`` as one evaluation under the deadline (:data:`WATCH`) and the size limit."""
        watch = WATCH
        if not watch.watching:
            watch.watch()
        watch.limit = self.time
        watch.seq += 1
        watch.busy = watch.seq
        try:
            return join(func(context))
        except (TemplateLimit, MemoryError, RecursionError) as exc:
            raise _beyond(exc, self) from None
        finally:
            watch.busy = 0

    def joiner(self) -> Callable[[Iterable[str]], str]:
        """How a text template's pieces are joined: counted when it loops."""
        if self.loops:
            size = self.size
            return lambda chunks: bounded_text(chunks, size)
        return "".join


def _beyond(exc: BaseException, bounds: Bounds) -> TemplateLimit:
    """A limit the evaluation went beyond, as a message that names the template's place."""
    if isinstance(exc, TemplateLimit):
        return type(exc)(f"{exc} ({bounds.where})")
    what = "ran out of memory" if isinstance(exc, MemoryError) else "nests too deeply"
    return TemplateLimit(f"the template {what} ({bounds.where})")


class Text(Renderer):
    """A template string rendered to a string."""

    __slots__ = ("_bounds", "_func", "_join", "_template")

    def __init__(
        self,
        template: Any,
        names: Mapping[str, Position],
        attrs: Mapping[tuple[str, str], Position] | None = None,
        bounds: Bounds | None = None,
    ) -> None:
        super().__init__(names, attrs)
        self._template = template
        self._func = template.root_render_func
        self._bounds = bounds or Bounds(Position("<template>", 1, 1), Limits(), True)
        self._join = self._bounds.joiner()

    def render(self, scope: Scope) -> str:
        text: str = self._bounds.run(self._func, self._template.new_context(scope, shared=True), self._join)
        return text


# Runs an expression's template for its side effect (its "result").
_DRAIN: Callable[[Iterable[str]], None] = deque[str](maxlen=0).extend


class Expression(Renderer):
    """A string that is exactly one ``{{ expression }}``: renders to the value itself.

    ``builds`` is True when the expression makes a new list, dict or tuple (a literal,
    a filter or a call): an undefined value inside it must fail as well.
    """

    __slots__ = ("_bounds", "_builds", "_func", "_template")

    def __init__(
        self,
        template: Any,
        names: Mapping[str, Position],
        builds: bool = False,
        attrs: Mapping[tuple[str, str], Position] | None = None,
        bounds: Bounds | None = None,
    ) -> None:
        super().__init__(names, attrs)
        self._template = template
        self._func = template.root_render_func
        self._builds = builds
        self._bounds = bounds or Bounds(Position("<template>", 1, 1), Limits(), False)

    def render(self, scope: Scope) -> Any:
        context = self._template.new_context(scope, shared=True)
        self._bounds.run(self._func, context, _DRAIN)
        value = context.vars["result"]
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        if self._builds:
            _fail_on_undefined(value)
        return value


def plain(value: Any) -> Any:
    """A YAML value without its positions: plain dicts and lists, like a JSON response's (else a
    template error would name the loader's class: 'engine.source.MarkedDict object'). A value that
    is plain already is returned as it is.
    """
    if isinstance(value, dict):
        copy = {key: plain(item) for key, item in value.items()}
        return value if type(value) is dict and all(copy[k] is v for k, v in value.items()) else copy
    if isinstance(value, list):
        items = [plain(item) for item in value]
        return value if type(value) is list and all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _fail_on_undefined(value: Any) -> None:
    """Raise the error of the first undefined value inside a list, dict or tuple."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, dict):
        for item in value.values():
            _fail_on_undefined(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _fail_on_undefined(item)


class Lookup(Renderer):
    """``{{ name }}`` alone: the variable's value, without building a Jinja context."""

    __slots__ = ("name",)

    def __init__(self, name: str, names: Mapping[str, Position]) -> None:
        super().__init__(names)
        self.name = name

    def render(self, scope: Scope) -> Any:
        try:
            return scope[self.name]
        except KeyError:
            raise UndefinedError(f"'{self.name}' is undefined") from None


class Joined(Renderer):
    """Text and ``{{ name }}``s only (``/items/{{ id }}``), without a Jinja context.

    Rendered by ``str.format``, which prints a value as ``str`` does, as Jinja
    would (for every value a scope holds: text, numbers, booleans, None, lists,
    mappings, dates).
    """

    __slots__ = ("order", "pattern")

    def __init__(self, parts: list[str | Lookup], names: Mapping[str, Position]) -> None:
        super().__init__(names)
        self.pattern = "".join(
            part.replace("{", "{{").replace("}", "}}") if isinstance(part, str) else "{}" for part in parts
        )
        self.order = tuple(part.name for part in parts if not isinstance(part, str))

    def render(self, scope: Scope) -> str:
        try:
            return self.pattern.format(*[scope[name] for name in self.order])
        except KeyError as missing:
            raise UndefinedError(f"'{missing.args[0]}' is undefined") from None


class Mapping_(Renderer):
    """A mapping with at least one templated value."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[Any, Renderer]]) -> None:
        super().__init__(*_merged(item for _, item in items))
        self.items = items

    def render(self, scope: Scope) -> dict[Any, Any]:
        return {key: item.render(scope) for key, item in self.items}


class Sequence_(Renderer):
    """A list with at least one templated item."""

    __slots__ = ("items",)

    def __init__(self, items: list[Renderer]) -> None:
        super().__init__(*_merged(items))
        self.items = items

    def render(self, scope: Scope) -> list[Any]:
        return [item.render(scope) for item in self.items]


def _merged(renderers: Iterable[Renderer]) -> tuple[dict[str, Position], dict[tuple[str, str], Position]]:
    """The names and attributes of several renderers, each at its first use."""
    names: dict[str, Position] = {}
    attrs: dict[tuple[str, str], Position] = {}
    for renderer in renderers:
        for name, pos in renderer.names.items():
            names.setdefault(name, pos)
        for attr, pos in renderer.attrs.items():
            attrs.setdefault(attr, pos)
    return names, attrs


def attribute_reads(tree: nodes.Node) -> set[tuple[str, str]]:
    """``(name, attribute)`` for every ``name.attribute`` and ``name['attribute']`` in a template."""
    found = set()
    node: Any
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node.node, nodes.Name):
            continue
        if isinstance(node, nodes.Getattr):
            found.add((node.node.name, node.attr))
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.add((node.node.name, node.arg.value))
    return found


def has_template(text: str) -> bool:
    """True when ``text`` contains Jinja syntax."""
    return "{{" in text or "{%" in text or "{#" in text


_BLOCK_TAGS = frozenset({"if", "for", "with", "filter", "call", "macro", "block", "autoescape", "raw"})


def stats_name(text: str) -> str:
    """A path as written with each ``{{ expression }}`` shown as ``{name}`` (filters dropped).

    A block (``{% if x %}a{% else %}b{% endif %}``) shows as its opening tag, ``{if x}``: the
    text of one branch (or of all of them run together) would name requests it does not send.
    Other statements (``{% set y = 1 %}``) show as nothing.
    """

    def short(match: re.Match[str]) -> str:
        expression = " ".join(match.group(1).strip(" -").split())
        return "{" + expression.split("|")[0].strip() + "}"

    parts: list[str] = []
    depth, start = 0, 0
    for statement in _STATEMENT.finditer(text):
        if depth == 0:
            parts.append(_EXPRESSION.sub(short, text[start : statement.start()]))
        start = statement.end()
        words = statement.group(0)[2:-2].strip(" -+\n\t").split()
        tag = words[0] if words else ""
        if tag in _BLOCK_TAGS or (tag == "set" and "=" not in words):
            if depth == 0 and tag != "set":  # a block set assigns: nothing to show
                parts.append("{" + " ".join(words) + "}")
            depth += 1
        elif tag.startswith("end") and depth:
            depth -= 1
    if depth == 0:
        parts.append(_EXPRESSION.sub(short, text[start:]))
    return "".join(parts)


def seed_fake(fake: Any, seed: int | None, index: int) -> None:
    """Give the ``fake`` of process ``index`` (0: local or master, worker k: k + 1) its own stream.

    Without a seed the stream is fresh randomness (a forked ``--processes`` child would otherwise
    repeat its parent's); with one it is derived from the seed and the index, so a run is
    reproducible and no two processes draw the same values. Index 0 uses the seed as is.
    """
    if fake is not None:
        fake.seed_instance(None if seed is None else seed if index == 0 else f"{seed}/{index}")


class Templates:
    """The Jinja environment of one scenario and the compiler of its values."""

    def __init__(
        self, faker_locale: tuple[str, ...] = ("en_US",), faker_seed: int | None = None, limits: Limits | None = None
    ) -> None:
        self.limits = limits or Limits()
        self.env = BoundedEnvironment(
            self.limits, undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        self.faker_locale = faker_locale
        self.faker_seed = faker_seed
        self.uses_fake = False
        self._compiled: dict[str, tuple[str, Any, frozenset[str], frozenset[tuple[str, str]]]] = {}
        env = self.env  # what the shortcut of _analyse assumes of the lexer
        self._plain_lexer = (
            (env.block_start_string, env.variable_start_string, env.variable_end_string, env.comment_start_string)
            == ("{%", "{{", "}}", "{#")
            and env.line_statement_prefix is None
            and env.line_comment_prefix is None
            and env.keep_trailing_newline
            and env.newline_sequence == "\n"
            and not env.extensions
        )

    def builtins(self) -> Scope:
        """The names every scope starts with: Jinja's globals, the engine's functions, ``fake``."""
        scope: Scope = dict(self.env.globals)
        scope.update(BUILTINS)
        if self.uses_fake:
            scope["fake"] = self._faker()
        return scope

    def builtin_names(self) -> set[str]:
        return set(self.env.globals) | set(BUILTINS) | {"fake"}

    def _faker(self) -> Any:
        from faker import Faker

        fake = Faker(list(self.faker_locale))
        if self.faker_seed is not None:
            fake.seed_instance(self.faker_seed)
        return fake

    def _hint(self, error: TemplateSyntaxError) -> str | None:
        """A "did you mean" for an unknown filter or test."""
        unknown = _UNKNOWN.search(error.message or "")
        if unknown is None:
            return None
        known = self.env.filters if unknown.group(1) == "filter" else self.env.tests
        return did_you_mean(unknown.group(2), known)

    def compile(self, raw: Any, pos: Position, sink: ErrorSink) -> Renderer:
        """Compile a YAML value; syntax errors go to ``sink`` (the value then renders as is)."""
        if isinstance(raw, str):
            return self._string(raw, pos, sink)
        if isinstance(raw, dict):
            positions = getattr(raw, "value_pos", {})
            items = [(k, self.compile(v, positions.get(k, pos), sink)) for k, v in raw.items()]
            if all(item.constant for _, item in items):
                return Constant(plain(raw))
            return Mapping_(items)
        if isinstance(raw, list):
            positions = getattr(raw, "item_pos", [])
            parts = [self.compile(v, positions[i] if i < len(positions) else pos, sink) for i, v in enumerate(raw)]
            if all(part.constant for part in parts):
                return Constant(plain(raw))
            return Sequence_(parts)
        return Constant(raw)

    def _string(self, text: str, pos: Position, sink: ErrorSink) -> Renderer:
        """A renderer for one occurrence of ``text``; the analysis and Jinja code are shared by text."""
        if not has_template(text):
            return Constant(text)
        compiled = self._compiled.get(text)
        if compiled is None:
            try:
                compiled = self._analyse(text)
            except TemplateSyntaxError as exc:
                line = pos.line + (exc.lineno or 1) - 1
                sink.add(Position(pos.file, line, pos.col), f"template syntax error: {exc.message}", self._hint(exc))
                return Constant(text)
            self._compiled[text] = compiled
        kind, payload, names, reads = compiled
        at = dict.fromkeys(names, pos)
        attrs = dict.fromkeys(reads, pos)
        if kind == "lookup":
            return Lookup(payload, at)
        if kind == "joined":
            return Joined(payload, at)
        if kind == "expression":
            template, builds = payload
            return Expression(template, at, builds, attrs, Bounds(pos, self.limits, loops=False))
        template, loops = payload
        return Text(template, at, attrs, Bounds(pos, self.limits, loops))

    def _analyse(self, text: str) -> tuple[str, Any, frozenset[str], frozenset[tuple[str, str]]]:
        """Parse and compile a template once: (kind, what its renderer needs, names, attribute reads).

        A shortcut gives what Jinja would, for less: text and ``{{ name }}``s only are split without
        Jinja (:func:`_plain_parts`).
        """
        plain = _plain_parts(text) if self._plain_lexer else None
        if plain is not None:
            found = frozenset(p[0] for p in plain if isinstance(p, tuple) and p[0] not in self.env.globals)
            if "fake" in found:
                self.uses_fake = True
            if len(plain) == 1 and isinstance(plain[0], tuple):
                return "lookup", plain[0][0], found, frozenset()
            return "joined", [p if isinstance(p, str) else Lookup(p[0], {}) for p in plain], found, frozenset()
        tree = self.env.parse(text)
        names = frozenset(meta.find_undeclared_variables(tree))  # also finds unknown filters
        reads = frozenset(read for read in attribute_reads(tree) if read[0] in names)
        if "fake" in names:
            self.uses_fake = True
        body = tree.body
        outputs = body[0].nodes if len(body) == 1 and isinstance(body[0], nodes.Output) else None
        if outputs is not None and all(isinstance(n, (nodes.TemplateData, nodes.Name)) for n in outputs):
            if len(outputs) == 1 and isinstance(outputs[0], nodes.Name):
                return "lookup", outputs[0].name, names, reads  # "{{ token }}": the value itself
            parts: list[str | Lookup] = [
                n.data if isinstance(n, nodes.TemplateData) else Lookup(n.name, {})  # type: ignore[attr-defined]
                for n in outputs
            ]
            return "joined", parts, names, reads  # "/items/{{ id }}": text and names only
        if outputs is not None and len(outputs) == 1 and not isinstance(outputs[0], nodes.TemplateData):
            inner = text.strip()
            inner = inner[2:-2].strip("-")
            expression = self.env.compile_expression(inner, undefined_to_none=False)
            builds = any(True for _ in tree.find_all((nodes.List, nodes.Dict, nodes.Tuple, nodes.Filter, nodes.Call)))
            return "expression", (expression._template, builds), names, reads
        loops = any(True for _ in tree.find_all((nodes.For, nodes.Macro, nodes.CallBlock)))
        return "text", (self.env.from_string(text), loops), names, reads


# --- the shortcut of Templates._analyse (load time) ---------------------------------------------------------------

_PLAIN_BLOCK = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Words that Jinja reads as constants or operators, or that its code generator treats specially: left to Jinja.
_NOT_PLAIN = frozenset(
    {"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else", "self"}
    | {"loop", "super", "caller", "varargs", "kwargs"}
)


def _plain_parts(text: str) -> list[str | tuple[str]] | None:
    """``text`` as Jinja's lexer and parser see it when it is literal text and ``{{ name }}``s only: each
    piece of text, and each name as a 1-tuple. None for anything else (Jinja then parses it)."""
    if "\r" in text or "{%" in text or "{#" in text:  # (Jinja turns \r\n into \n in text)
        return None
    parts: list[str | tuple[str]] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            if pos < len(text):
                parts.append(text[pos:])
            return parts
        match = _PLAIN_BLOCK.match(text, start)
        if match is None or match[1] in _NOT_PLAIN:
            return None
        if start > pos:
            parts.append(text[pos:start])
        parts.append((match[1],))
        pos = match.end()
