"""User-facing load-time errors: every one carries a file, a line, a column and a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

INTERNAL_ERROR = "internal error"
"""How a message about a bug in the engine starts (never "ok", never a traceback)."""


@dataclass(frozen=True, order=True)
class Position:
    """Where a YAML node starts: 1-based line and column in a file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class ScenarioError(Exception):
    """One problem in a scenario, reported as ``file:line:col: message (hint)``."""

    def __init__(self, pos: Position, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.pos}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def sort_key(self) -> tuple[Position, str]:
        return (self.pos, self.message)


class ScenarioErrors(Exception):
    """Every problem found while loading a scenario, sorted by position."""

    def __init__(self, errors: list[ScenarioError]) -> None:
        unique = {str(e): e for e in errors}
        self.errors = sorted(unique.values(), key=ScenarioError.sort_key)
        super().__init__("\n".join(str(e) for e in self.errors))


class ErrorSink:
    """Collects errors across a stage so that all of them are reported together."""

    def __init__(self) -> None:
        self.errors: list[ScenarioError] = []

    def add(self, pos: Position, message: str, hint: str | None = None) -> None:
        self.errors.append(ScenarioError(pos, message, hint))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ScenarioErrors(self.errors)


def did_you_mean(word: object, choices: Iterable[object]) -> str | None:
    """A "did you mean 'x'?" hint for the closest of ``choices``, or None.

    A loose match (ratio under 0.75) must also start with the same letter, so that a
    transposition like 'gte' still finds 'get' but 'fetch' does not suggest 'patch'.
    """
    text = str(word)
    for close in difflib.get_close_matches(text, [str(c) for c in choices], n=3, cutoff=0.6):
        if close[:1].lower() == text[:1].lower() or difflib.SequenceMatcher(None, text, close).ratio() >= 0.75:
            return f"did you mean '{close}'?"
    return None
