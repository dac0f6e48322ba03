"""The Jinja environment templates run in: sandboxed, and bounded in the size of what they build.

Jinja's sandbox already keeps templates away from modules, frames and files, and limits
``range()`` to 100,000 items. This environment also refuses, before building it, any value
larger than ``limits.template_size`` items (characters of a text, items of a list) or any integer
of more than :data:`MAX_INT_BITS` bits: repetition (``'ab' * 10**9``), powers (``9**(9**9)``),
concatenation (``+`` and ``~``), printf-style and ``str.format`` widths, the padding filters
and methods (``center``, ``indent``, ``ljust``, ...), ``lipsum`` and ``fake`` calls that take a
size. Because these operators are intercepted, Jinja no longer folds them at compile time, so
a scenario cannot exhaust memory while it is loaded either. Time is bounded by
:mod:`engine.deadline`.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.nodes import Concat
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import SandboxedEnvironment, SandboxedFormatter
from markupsafe import Markup

from engine.model import Limits

MAX_INT_BITS = 100_000
"""The largest integer a template may compute: 100,000 bits (about 30,000 digits)."""


class TemplateLimit(Exception):
    """A template went beyond a limit: the step fails with this message."""


def _too_big(what: str, size: float, limit: int) -> TemplateLimit:
    return TemplateLimit(
        f"{what} would build {size:,.0f} characters or items, over the limit of {limit:,} "
        "(raise it with limits: {template_size: N})"
    )


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


# printf-style conversions: %(name)-*.*d and so on; the widths and precisions are what can explode.
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsab%])")
_FORMAT_WIDTH = re.compile(r"(\d+)(?:[,_])?(?:\.(\d+))?[a-zA-Z%]?$")


def printf_widths(text: str, args: Any) -> Iterable[int]:
    """The widths and precisions a ``%`` format would pad to (``*`` taken from ``args``)."""
    values = list(args) if isinstance(args, tuple) else [args]
    index = 0
    for match in _PRINTF.finditer(text):
        for group in (match.group(1), match.group(2)):
            if group == "*":
                if index < len(values) and isinstance(values[index], int):
                    yield abs(values[index])
                index += 1
            elif group:
                yield int(group)
        if match.group(3) != "%":
            index += 1


class _BoundedFormatter(SandboxedFormatter):
    """``str.format`` in the sandbox, with the width and precision of each field bounded."""

    def __init__(self, env: BoundedEnvironment) -> None:
        super().__init__(env)
        self._limit = env.limits.template_size

    def format_field(self, value: Any, format_spec: str) -> Any:
        match = _FORMAT_WIDTH.search(format_spec)
        if match:
            widest = max(int(match.group(1)), int(match.group(2) or 0))
            if widest > self._limit:
                raise _too_big(f"format field '{{:{format_spec[:20]}}}'", widest, self._limit)
        return super().format_field(value, format_spec)


def written(node: nodes.Node) -> str | None:
    """An expression as an author writes it (``tokens``, ``user.id``, ``rows[0]['name']``), or None
    for one too intricate to name briefly (a call, a filter, an operator)."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Const) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
        return repr(node.value)
    if isinstance(node, nodes.Getattr):
        base = written(node.node)
        return None if base is None else f"{base}.{node.attr}"
    if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Slice):
        base, key = written(node.node), written(node.arg)
        return None if base is None or key is None else f"{base}[{key}]"
    return None


def missing(obj: Any, name: Any, base: str, key: str | None, attribute: bool = False) -> str:
    """Why ``base[key]`` or ``base.name`` is undefined, naming what the template wrote, never the value
    a variable key had: the message is the same for every value (stable), and no secret is in it."""
    sequence = isinstance(obj, (list, tuple, str)) and not attribute
    what = "key" if isinstance(obj, Mapping) else "item" if sequence else "attribute"
    subject = f"'{base}'" if base else "the value"
    if key is None:  # a key or attribute written in the template
        return f"{subject} has no {what} {name!r}"
    return f"{subject} has no {what} given by {key}"


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``~`` (concatenation) through the environment's bounded join, and
    lookups (``a.b``, ``a[b]``) that tell the environment how they were written, for their messages."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    @optimizeconst
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        if self.environment.is_async:  # pragma: no cover (the engine's environment is synchronous)
            super().visit_Getattr(node, frame)
            return
        self.write("environment.getattr(")
        self.visit(node.node, frame)
        self.write(f", {node.attr!r}, {written(node.node) or ''!r})")

    @optimizeconst
    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        if self.environment.is_async or isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        arg = written(node.arg)
        key = None if isinstance(node.arg, nodes.Const) else f"'{arg}'" if arg else "an expression"
        self.write("environment.getitem(")
        self.visit(node.node, frame)
        self.write(", ")
        self.visit(node.arg, frame)
        self.write(f", {written(node.node) or ''!r}, {key!r})")


MAX_COUNT = 100_000
"""The most things (paragraphs, words, list items) one call may be asked to make, as for range()."""
# Parameter names that say "how many" (bounded by MAX_COUNT) or "how wide" (bounded by the size limit).
_COUNT_PARAMETER = re.compile(
    r"^(?:n|k|nb|count|times|repeat)$|^nb_|_nb$|elements$|words$|sentences$|paragraphs$|items$"
)
_WIDTH_PARAMETER = re.compile(r"^(?:width|length|size|tabsize|digits)$|chars$|digits$|length$|_size$")


class BoundedEnvironment(SandboxedEnvironment):
    """A sandboxed Jinja environment that refuses to build values beyond :class:`Limits`."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, limits: Limits | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.limits = limits or Limits()
        for name in ("center", "indent", "format", "replace", "wordwrap", "truncate"):
            self.filters[name] = self._bounded_filter(name, self.filters[name])
        lipsum: Any = self.globals["lipsum"]
        self.globals["lipsum"] = self._bounded_callable(lipsum)

    # -- lookups -----------------------------------------------------------------------------

    def getitem(self, obj: Any, argument: Any, base: str | None = None, key: str | None = None) -> Any:
        """``obj[argument]``; when missing, a message that names the expression (see :func:`missing`).

        ``base`` and ``key`` are how the template wrote the object and the key (None: Jinja itself
        looks up, e.g. in a filter's ``attribute=``).
        """
        try:
            return obj[argument]
        except (TypeError, LookupError):
            pass
        found = super().getitem(obj, argument)  # the sandbox's fallback to a safe attribute
        if base is not None and isinstance(found, Undefined) and found._undefined_hint is None:
            return self.undefined(hint=missing(obj, argument, base, key), obj=obj, name=argument)
        return found

    def getattr(self, obj: Any, attribute: str, base: str | None = None) -> Any:
        """``obj.attribute``, as the sandbox does; when missing, a message that names the expression."""
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                pass
        else:
            fmt = self.wrap_str_format(value)
            if fmt is not None:
                return fmt
            if self.is_safe_attribute(obj, attribute, value):
                return value
            return self.unsafe_undefined(obj, attribute)
        if base is None:
            return self.undefined(obj=obj, name=attribute)
        return self.undefined(hint=missing(obj, attribute, base, None, attribute=True), obj=obj, name=attribute)

    # -- operators ---------------------------------------------------------------------------

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limit = self.limits.template_size
        if operator == "*":
            length, times = (_length(left), right) if _length(left) is not None else (_length(right), left)
            if length is not None and isinstance(times, int) and length * times > limit:
                raise _too_big("repetition", length * times, limit)
            if isinstance(left, int) and isinstance(right, int) and _bits(left) + _bits(right) > MAX_INT_BITS:
                raise TemplateLimit(f"a product of more than {MAX_INT_BITS:,} bits is too large")
        elif operator == "**":
            ints = isinstance(left, int) and isinstance(right, int)
            if ints and abs(left) > 1 and right > 0 and right * math.log2(abs(left)) > MAX_INT_BITS:
                raise TemplateLimit(f"a power of more than {MAX_INT_BITS:,} bits is too large")
        elif operator == "+":
            a, b = _length(left), _length(right)
            if a is not None and b is not None and a + b > limit:
                raise _too_big("concatenation", a + b, limit)
        elif operator == "%" and isinstance(left, str):
            self._check_printf(left, right)
        return super().call_binop(context, operator, left, right)

    def _check_printf(self, text: str, args: Any) -> None:
        widest = max(printf_widths(text, args), default=0)
        if widest > self.limits.template_size:
            raise _too_big("a % format field", widest, self.limits.template_size)

    def bounded_concat(self, parts: Sequence[Any]) -> str:
        """``a ~ b``: the parts as text, joined, refused when longer than the size limit."""
        texts = [str(part) for part in parts]
        total = sum(len(text) for text in texts)
        if total > self.limits.template_size:
            raise _too_big("concatenation", total, self.limits.template_size)
        return "".join(texts)

    # -- calls -------------------------------------------------------------------------------

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if any(isinstance(v, int) and v > MAX_COUNT for v in (*args, *kwargs.values())):
            __self._check_sizes(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def _check_sizes(self, func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        """Refuse a count beyond MAX_COUNT (``n``, ``nb``, ...) or a width beyond the size limit."""
        name = getattr(func, "__name__", "function")
        try:
            bound = dict(inspect.signature(func).bind_partial(*args, **kwargs).arguments)
        except (TypeError, ValueError):  # no signature to read: any huge integer may be a width
            bound = {f"argument {i + 1}": v for i, v in enumerate((*args, *kwargs.values()))}
        limit = self.limits.template_size
        for parameter, value in bound.items():
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            if _COUNT_PARAMETER.search(parameter) and value > MAX_COUNT:
                raise TemplateLimit(f"{name}({parameter}={value}): at most {MAX_COUNT:,} can be made in one call")
            if (parameter.startswith("argument") or _WIDTH_PARAMETER.search(parameter)) and value > limit:
                raise _too_big(f"{name}({parameter}={value})", value, limit)

    def _bounded_callable(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def bounded(*args: Any, **kwargs: Any) -> Any:
            if any(isinstance(v, int) and v > MAX_COUNT for v in (*args, *kwargs.values())):
                self._check_sizes(func, args, kwargs)
            return func(*args, **kwargs)

        bounded.__name__ = getattr(func, "__name__", "function")
        return bounded

    def _bounded_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        limit = self.limits.template_size

        skip = 1 if hasattr(func, "jinja_pass_arg") else 0  # the context Jinja passes first, if any

        def bounded(*call_args: Any, **kwargs: Any) -> Any:
            value, args = call_args[skip], call_args[skip + 1 :]
            text = str(value) if not isinstance(value, str) else value
            if name == "format":
                self._check_printf(text, args or kwargs)
            elif name in ("center", "wordwrap", "truncate"):
                width = args[0] if args else kwargs.get("width", kwargs.get("length", 0))
                if isinstance(width, int) and width > limit:
                    raise _too_big(f"{name}({width})", width, limit)
            elif name == "indent":
                width = args[0] if args else kwargs.get("width", 4)
                lines = text.count("\n") + 1
                size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
                if size * lines + len(text) > limit:
                    raise _too_big("indent", size * lines + len(text), limit)
            elif name == "replace" and len(args) >= 2:
                old, new = str(args[0]), str(args[1])
                count = text.count(old) if old else len(text) + 1
                if len(text) + count * (len(new) - len(old)) > limit:
                    raise _too_big("replace", len(text) + count * (len(new) - len(old)), limit)
            return func(*call_args, **kwargs)

        bounded.__name__ = getattr(func, "__name__", name)
        if skip:  # Jinja passes the same context to the wrapper as to the filter
            bounded.jinja_pass_arg = func.jinja_pass_arg  # type: ignore[attr-defined]
        return bounded

    # -- str.format ------------------------------------------------------------------------

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed ``str.format``/``format_map``, with each field's width bounded."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None or isinstance(value.__self__, Markup):
            return wrapped
        text: str = value.__self__
        vformat = _BoundedFormatter(self).vformat
        is_format_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return str(vformat(text, args, kwargs))

        return bounded


def bounded_text(chunks: Iterable[str], limit: int) -> str:
    """A template's output pieces joined, refused once they pass ``limit`` characters (for loops)."""
    parts: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise _too_big("the template's output", total, limit)
        parts.append(chunk)
    return "".join(parts)
