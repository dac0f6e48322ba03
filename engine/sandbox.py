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

from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.runtime import Context
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


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``~`` (concatenation) through the environment's bounded join."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


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
        for attribute in ("jinja_pass_arg",):
            if hasattr(func, attribute):
                setattr(bounded, attribute, getattr(func, attribute))
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
