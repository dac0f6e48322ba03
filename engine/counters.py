"""Custom counters: business metrics that steps increment (``count:``), kept out of request statistics.

Each process keeps its own totals; a worker hands its increments to the master
with every stats report (see :mod:`engine.verdict`), where they are summed.
"""

from __future__ import annotations


class Counters:
    """Named totals, plus the increments not yet reported to a master."""

    def __init__(self, names: list[str] | tuple[str, ...] = ()) -> None:
        self.totals: dict[str, float] = dict.fromkeys(names, 0)
        self._unreported: dict[str, float] = {}

    def add(self, name: str, amount: float = 1) -> None:
        self.totals[name] = self.totals.get(name, 0) + amount
        self._unreported[name] = self._unreported.get(name, 0) + amount

    def merge(self, increments: dict[str, float]) -> None:
        """Add increments reported by a worker."""
        for name, amount in increments.items():
            self.totals[name] = self.totals.get(name, 0) + amount

    def take_unreported(self) -> dict[str, float]:
        """The increments since the last call (for a worker's report to the master)."""
        increments, self._unreported = self._unreported, {}
        return increments

    def reset(self) -> None:
        for name in self.totals:
            self.totals[name] = 0
        self._unreported = {}
