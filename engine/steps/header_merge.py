"""Header layers merged as HTTP wants them: later layers win, names compare case-insensitively.

The lowest layer is :data:`CLIENT_HEADERS`, which both clients send by default.

Also how query and form values are written (booleans as ``true``/``false``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from requests.structures import CaseInsensitiveDict

from engine import __version__
from engine.templates import Constant, Mapping_, Renderer, Scope

CLIENT_HEADERS: dict[str, str] = {"User-Agent": f"locust-scenarios/{__version__}", "Accept": "*/*"}
"""What both clients send unless ``defaults.headers`` or a step's ``headers`` say otherwise: the lowest layer."""


def header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def form_value(value: Any) -> Any:
    """A query or form value: booleans as true/false (as in headers), lists item by item."""
    if isinstance(value, list):
        return [form_value(item) for item in value]
    return header_text(value) if isinstance(value, bool) else value


def merge_headers(*layers: Mapping[str, Any]) -> dict[str, str]:
    """Later layers win; header names compare case-insensitively."""
    filled = [layer for layer in layers if layer]
    if len(filled) == 1 and all(isinstance(v, str) for v in filled[0].values()):
        return dict(filled[0])  # one layer of plain strings: nothing to merge
    merged: dict[str, str] = {}
    spelled: dict[str, str] = {}
    for layer in layers:
        for name, value in layer.items():
            key = name.lower()
            if key in spelled:
                del merged[spelled[key]]
            if value is None:
                spelled.pop(key, None)
                continue
            spelled[key] = name
            merged[name] = header_text(value)
    return merged


def over_layer(layer: Mapping[str, str], headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` over a client's lowest ``layer``, as python-requests merges a request's headers into its
    session's: a name keeps the layer's place and takes the request's spelling (None was already left out, so a
    client header is replaced, never removed, as on the fast client)."""
    merged = CaseInsensitiveDict(layer)
    merged.update(headers)
    return dict(merged.items())


class HeaderPlan:
    """A step's headers merged at load time, when only their values are templated.

    For a step without ``auth``, whose defaults are constant and whose header
    names differ (ignoring case), the layers below the session headers are merged
    once; a request fills in the step's values, as :func:`merge_headers` would
    (a value overrides a default of the same name, None removes it). Only for
    users without session headers, which would sit between the two.
    """

    __slots__ = ("base", "items")

    def __init__(self, below: list[Mapping[str, Any]], step: list[tuple[str, Renderer]]) -> None:
        self.base = merge_headers(*below)
        spelled = {name.lower(): name for name in self.base}
        self.items = [(name, spelled.get(name.lower()), renderer) for name, renderer in step]

    @classmethod
    def of(cls, below: list[Mapping[str, Any]], headers: Renderer | None) -> HeaderPlan | None:
        """The plan for a step's headers (None when they need the general merge)."""
        if headers is None:
            step: list[tuple[Any, Renderer]] = []
        elif isinstance(headers, Mapping_):
            step = list(headers.items)
        elif isinstance(headers, Constant) and isinstance(headers.value, dict):
            step = [(name, Constant(value)) for name, value in headers.value.items()]
        else:
            return None
        if len({str(name).lower() for name, _ in step}) != len(step):
            return None
        return cls(below, [(str(name), renderer) for name, renderer in step])

    def render(self, scope: Scope) -> dict[str, str]:
        headers = self.base.copy()
        for name, shadowed, renderer in self.items:
            value = renderer.render(scope)
            if shadowed is not None:
                headers.pop(shadowed, None)
            if value is not None:
                headers[name] = value if type(value) is str else header_text(value)
        return headers
