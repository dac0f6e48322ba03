"""Shared pools: process-wide, bounded lists of values that users publish and read.

A ``save`` with ``share:`` publishes into the pool named after its variable;
every user of the process reads it as ``shared.NAME`` (the newest values last).
They replace the hand-written module-level "SharedData" lists of locustfiles,
with a bound: a pool keeps at most its ``max`` most recent values.
"""

from __future__ import annotations

from typing import Any


class Pools:
    """The pools of one process, read in templates as ``shared.NAME``: plain lists.

    A pool is a ``list`` (JSON-serialisable, sliceable, ``| length``), trimmed in place
    on publish so it never holds more than its ``max`` values.
    """

    def __init__(self, sizes: dict[str, int]) -> None:
        self._pools: dict[str, list[Any]] = {name: [] for name in sizes}
        self._sizes = dict(sizes)

    def publish(self, name: str, value: Any) -> None:
        """Add a value (or, for a list, each of its items) to a pool, dropping the oldest past its max."""
        pool = self._pools[name]
        if isinstance(value, list):
            pool.extend(value)
        else:
            pool.append(value)
        excess = len(pool) - self._sizes[name]
        if excess > 0:
            del pool[:excess]

    def __getattr__(self, name: str) -> list[Any]:
        try:
            return self._pools[name]
        except KeyError:
            raise AttributeError(f"no shared pool '{name}'") from None

    def __getitem__(self, name: str) -> list[Any]:
        return self.__getattr__(name)

    def names(self) -> list[str]:
        return sorted(self._pools)
