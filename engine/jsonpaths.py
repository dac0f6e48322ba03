"""JSONPath, compiled once: simple paths become plain indexing, the rest use jsonpath-ng.

``$.token``, ``$.user.id``, ``$[0].id`` and ``$['a b'][2]`` are *simple*: they
name at most one value and are looked up with ``[]``. Anything else (``*``,
``..``, slices, filters, unions) goes through :mod:`jsonpath_ng.ext` and names
a list of values; jsonpath-ng is imported only when a scenario has such a path
(it and its parser tables cost the process most of a MiB).
"""

from __future__ import annotations

import re
from typing import Any

from engine.sentinels import Sentinel

_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_][A-Za-z0-9_-]*)"""
    r"""|\[(?P<all>\*)\]"""
    r"""|\[(?P<index>-?[0-9]+)\]"""
    r"""|\[(?P<q>['"])(?P<quoted>[^'"]*)(?P=q)\]"""
)
_MULTI_NODES = frozenset({"Slice", "Descendants", "Where", "WhereNot", "Union", "Intersect", "Wildcard", "Filter"})


ALL: Any = Sentinel("[*]")  # a [*] step


class JsonPathError(ValueError):
    """An invalid JSONPath expression."""


class JsonPath:
    """A compiled JSONPath: :meth:`find` returns the list of matched values."""

    __slots__ = ("_expr", "_keys", "_names", "_spread", "multi", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._keys = _simple_keys(text)
        self._expr: Any = None
        if self._keys is None:
            from jsonpath_ng.ext import parse as parse_ext

            try:
                self._expr = parse_ext(text)
            except Exception as exc:  # jsonpath-ng raises several unrelated types
                raise JsonPathError(f"invalid JSONPath '{text}': {exc}") from None
            self.multi = _is_multi(self._expr)
        else:
            self.multi = ALL in self._keys
        keys = self._keys or (0,)
        self._names = all(type(key) is str for key in keys)  # $.a.b: plain indexing, a miss is a KeyError/TypeError
        self._spread = len(keys) == 2 and keys[0] is ALL and type(keys[1]) is str  # $[*].id

    def find(self, document: Any) -> list[Any]:
        """Every value the path names in ``document`` (at most one for a path without ``[*]``)."""
        keys = self._keys
        if keys is None:
            return [match.value for match in self._expr.find(document)]
        if self._names:  # JSON's types: a name on a list, a string, a number or null is a TypeError
            node = document
            try:
                for key in keys:
                    node = node[key]
            except (KeyError, TypeError):
                return []
            return [node]
        if self._spread and type(document) is list:
            name = keys[1]
            try:
                return [item[name] for item in document]
            except (KeyError, TypeError):  # an item without it, or not an object: the careful way
                pass
        if self.multi:
            return _expand(document, keys)
        node = document
        for key in keys:
            if isinstance(key, int):
                if not isinstance(node, list) or not -len(node) <= key < len(node):
                    return []
            elif not isinstance(node, dict) or key not in node:
                return []
            node = node[key]
        return [node]


def _expand(document: Any, keys: tuple[Any, ...]) -> list[Any]:
    """Plain indexing with ``[*]`` steps, as jsonpath-ng does it: a list's items, a dict's values."""
    nodes = [document]
    for key in keys:
        if key is ALL:
            nodes = [
                item
                for node in nodes
                for item in (node if isinstance(node, list) else node.values() if isinstance(node, dict) else ())
            ]
        elif isinstance(key, int):
            nodes = [node[key] for node in nodes if isinstance(node, list) and -len(node) <= key < len(node)]
        else:
            nodes = [node[key] for node in nodes if isinstance(node, dict) and key in node]
    return nodes


def _simple_keys(text: str) -> tuple[Any, ...] | None:
    """The steps of a path made of names, indexes, quoted keys and ``[*]`` only (None for any other)."""
    if not text.startswith("$"):
        raise JsonPathError(f"invalid JSONPath '{text}': it must start with $")
    keys: list[Any] = []
    position = 1
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            return None
        if match.group("name") is not None:
            keys.append(match.group("name"))
        elif match.group("all") is not None:
            keys.append(ALL)
        elif match.group("index") is not None:
            keys.append(int(match.group("index")))
        else:
            keys.append(match.group("quoted"))
        position = match.end()
    return tuple(keys)


def _is_multi(expr: Any) -> bool:
    """True when a parsed path can name more than one value."""
    from jsonpath_ng import jsonpath as ast

    if type(expr).__name__ in _MULTI_NODES:
        return True
    if isinstance(expr, ast.Fields) and (len(expr.fields) != 1 or expr.fields[0] == "*"):
        return True
    if isinstance(expr, ast.Index) and len(getattr(expr, "indices", (0,))) != 1:
        return True
    return any(_is_multi(child) for child in vars(expr).values() if isinstance(child, ast.JSONPath))
