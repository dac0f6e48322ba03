"""Helpers shared by the ``test_runtime_*`` files: scenario text builders and failure messages."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import engine.steps.poll

CLIENTS = ["http", "fast"]
ROOT = Path(__file__).resolve().parent.parent


def validate_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m engine validate ARGS`` as a real process, from the repository's root (bounded in time)."""
    command = [sys.executable, "-m", "engine", "validate", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)


def _block(text: str, indent: int) -> str:
    return textwrap.indent(textwrap.dedent(text).strip("\n"), " " * indent)


def scenario(
    steps: str,
    client: str = "http",
    *,
    defaults: dict[str, Any] | None = None,
    top: str = "",
    on_start: str = "",
    on_stop: str = "",
    user: str = "",
) -> str:
    """One user ``U`` with one journey ``j`` made of ``steps`` (a YAML list, any indentation).

    ``defaults`` are added to ``{client: ...}``; ``top`` is extra top-level YAML
    (vars, faker, ...); ``user`` extra keys of the user (wait, weight, ...).
    """
    parts = ["version: 1", f"defaults: {json.dumps({'client': client, **(defaults or {})})}"]
    if top:
        parts.append(_block(top, 0))
    parts += ["users:", "  U:"]
    if user:
        parts.append(_block(user, 4))
    if on_start:
        parts += ["    on_start:", _block(on_start, 6)]
    if on_stop:
        parts += ["    on_stop:", _block(on_stop, 6)]
    parts += ["    journeys:", "      j:", "        steps:", _block(steps, 10)]
    return "\n".join(parts) + "\n"


def messages(h: Any, name: str | None = None, method: str | None = None) -> list[str]:
    """The failure messages in Locust's error table (sorted), optionally of one request.

    Locust keeps the exception object itself in standalone mode, so the message
    is its first argument (the harness's ``errors()`` expects a string).
    """
    found = []
    for error in h.env.stats.errors.values():
        if (name is None or error.name == name) and (method is None or error.method == method):
            found.append(message(error.error))
    return sorted(found)


def occurrences(h: Any) -> dict[tuple[str, str, str], int]:
    """(method, name, message) -> how often Locust recorded that failure."""
    return {(e.method, e.name, message(e.error)): e.occurrences for e in h.env.stats.errors.values()}


def message(error: Any) -> str:
    if isinstance(error, BaseException) and error.args:
        return str(error.args[0])
    return str(error)


def counts(h: Any) -> dict[tuple[str, str], tuple[int, int]]:
    """(method, name) -> (requests, failures) of every stats row that saw a request."""
    return {
        (method, name): (entry.num_requests, entry.num_failures)
        for (name, method), entry in h.env.stats.entries.items()
        if entry.num_requests or entry.num_failures
    }


class Pauses:
    """A fake clock for one user's pauses: ``user.think`` records what it is asked and advances the
    clock instead of sleeping, and ``engine.steps.poll`` (max_time) reads that clock.

    A test of pauses then depends on no scheduling: ``requested`` is exact on a loaded machine.
    """

    def __init__(self, user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.requested: list[float] = []
        self.now = 0.0
        user.think = self.think
        monkeypatch.setattr(engine.steps.poll, "time", self)

    def think(self, seconds: float) -> None:
        self.requested.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now
