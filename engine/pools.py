"""Shared pools: process-wide, bounded lists of values that users publish and read.

A ``save`` with ``share:`` publishes into the pool named after its variable;
every user of the process reads it as ``shared.NAME`` (the newest values last).
They replace the hand-written module-level "SharedData" lists of locustfiles,
with a bound: a pool keeps at most its ``max`` most recent values.
"""

from __future__ import annotations

from collections import deque
from typing import Any


class Pools:
    """The pools of one process, read in templates as ``shared.NAME``."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self._pools: dict[str, deque[Any]] = {name: deque(maxlen=size) for name, size in sizes.items()}

    def publish(self, name: str, value: Any) -> None:
        """Add a value (or, for a list, each of its items) to a pool."""
        pool = self._pools[name]
        if isinstance(value, list):
            pool.extend(value)
        else:
            pool.append(value)

    def __getattr__(self, name: str) -> deque[Any]:
        try:
            return self._pools[name]
        except KeyError:
            raise AttributeError(f"no shared pool '{name}'") from None

    def __getitem__(self, name: str) -> deque[Any]:
        return self.__getattr__(name)

    def names(self) -> list[str]:
        return sorted(self._pools)
