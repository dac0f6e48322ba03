"""Marker values ("no value here") that print as plain words, never as ``<object object at 0x…>``."""

from __future__ import annotations

from typing import Any


class Sentinel:
    """A unique marker compared by identity (``value is MISSING``); its repr and str are its name.

    A bare ``object()`` would show as ``<object object at 0x7f…>`` wherever a marker slips into a
    message or a log line; this one reads as what it means. Copies are the marker itself.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __copy__(self) -> Sentinel:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Sentinel:
        return self
