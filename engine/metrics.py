"""Threshold metrics: one table of the built-in metrics, what each reads and in which unit.

The builder reads a threshold's limit in its metric's unit, the compiler refuses
a metric that is neither in :data:`METRICS` nor a counter, and the verdict
measures every metric through the same entry, on the whole run's statistics and
on a sliding window alike (each a :class:`Sample`). Nothing here imports Locust:
``validate`` uses the table too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

Unit = Literal["ms", "ratio", ""]
"""How a limit is given and a value shown: a response time, a fraction (given as 1% or 0.01), a plain number."""


class Sample(Protocol):
    """Statistics of some requests (at least one): the whole run's, or a sliding window's."""

    requests: int
    failures: int

    def percentile(self, fraction: float) -> float: ...

    def avg(self) -> float: ...

    def max(self) -> float | None: ...

    def min(self) -> float | None: ...

    def rps(self) -> float: ...


@dataclass(frozen=True)
class Metric:
    """A built-in metric: its name in ``metric:``, its unit and how it reads a :class:`Sample`."""

    name: str
    unit: Unit
    read: Callable[[Sample], float | None]


def _percentile(name: str, fraction: float) -> Metric:
    return Metric(name, "ms", lambda sample: sample.percentile(fraction))


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        _percentile("p50", 0.5),
        _percentile("p90", 0.9),
        _percentile("p95", 0.95),
        _percentile("p99", 0.99),
        Metric("avg", "ms", lambda sample: sample.avg()),
        Metric("max", "ms", lambda sample: sample.max()),
        Metric("min", "ms", lambda sample: sample.min()),
        Metric("error_rate", "ratio", lambda sample: sample.failures / sample.requests),
        Metric("rps", "", lambda sample: sample.rps()),
        Metric("requests", "", lambda sample: float(sample.requests)),
        Metric("failures", "", lambda sample: float(sample.failures)),
    )
}
"""Every built-in metric by name, in the order the README and the schema list them."""


def unit(name: str) -> Unit:
    """The unit of a metric (a counter's is a plain number)."""
    metric = METRICS.get(name)
    return "" if metric is None else metric.unit
