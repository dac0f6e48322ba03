"""Load profiles: how many users to run at each moment of a test (pure functions of elapsed time).

A profile answers :meth:`Profile.at` with a :class:`Tick` (users, spawn rate,
and optionally which personas) or ``None`` when the test is over. The kinds:

* ``stages`` — a list of (duration, users, spawn_rate, personas), one after the other;
* ``ramp`` — up to ``users`` in ``up``, ``hold``, back to 0 in ``down``;
* ``step`` — start with ``start`` users, ``add`` more every ``every`` up to ``max``
  (then hold for one more step): the "find the breaking point" stress test;
* ``spike`` — ``baseline`` users, a jump to ``peak`` for ``peak_time``, back to
  baseline for ``recovery``, ``repeat`` times;
* ``wave`` — a sine between ``min_users`` and ``max_users`` with a ``period``, ``cycles`` times;
* ``soak`` — ramp to ``users`` in ``ramp``, then ``hold`` for a long time.

No Locust here: :mod:`engine.shape` turns a profile into a ``LoadTestShape``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Tick:
    """What the runner should have now: the answer to Locust's ``LoadTestShape.tick()``."""

    users: int
    spawn_rate: float
    personas: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Stage:
    duration: float
    users: int
    spawn_rate: float
    personas: tuple[str, ...] | None = None
    pos: Any = field(default=None, compare=False)  # where ``personas`` is written, for errors


@dataclass(frozen=True)
class Profile:
    """A named profile: a list of stages, or one of the parametric shapes."""

    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    stages: tuple[Stage, ...] = ()

    def duration(self) -> float:
        """The total length of the profile in seconds."""
        p = self.params
        if self.kind == "stages":
            return sum(stage.duration for stage in self.stages)
        if self.kind == "ramp":
            return float(p["up"] + p.get("hold", 0) + p.get("down", 0))
        if self.kind == "step":
            steps = math.ceil(max(p["max"] - p["start"], 0) / p["add"])
            return float((steps + 1) * p["every"])
        if self.kind == "spike":
            cycle = p["baseline_time"] + p["peak_time"] + p["recovery"]
            return float(cycle * p.get("repeat", 1))
        if self.kind == "wave":
            return float(p["period"] * p.get("cycles", 1))
        return float(p["ramp"] + p["hold"])  # soak

    def phase(self, t: float) -> str:
        """Which part of the profile runs ``t`` seconds in, in words: ``ramp up``, ``stage 2 of 4``, ``peak 1 of 3``."""
        p = self.params
        if self.kind == "stages":
            end, count = 0.0, len(self.stages)
            for number, stage in enumerate(self.stages, 1):
                end += stage.duration
                if t < end:
                    return f"stage {number} of {count}"
            return f"stage {count} of {count}"
        if self.kind == "ramp":
            up, hold = p["up"], p.get("hold", 0)
            return "ramp up" if t < up else "hold" if t < up + hold else "ramp down"
        if self.kind == "step":
            steps = math.ceil(max(p["max"] - p["start"], 0) / p["add"]) + 1
            return f"step {min(int(t // p['every']) + 1, steps)} of {steps}"
        if self.kind == "spike":
            cycle = p["baseline_time"] + p["peak_time"] + p["recovery"]
            repeat = p.get("repeat", 1)
            number, within = min(int(t // cycle) + 1, repeat), t % cycle
            part = (
                "baseline" if within < p["baseline_time"] else "peak" if within < cycle - p["recovery"] else "recovery"
            )
            return f"{part} {number} of {repeat}" if repeat > 1 else part
        if self.kind == "wave":
            cycles = p.get("cycles", 1)
            return f"cycle {min(int(t // p['period']) + 1, cycles)} of {cycles}"
        return "ramp up" if t < p["ramp"] else "hold"  # soak

    def at(self, t: float) -> Tick | None:
        """The target ``t`` seconds into the test, or None once the profile is over."""
        if t < 0 or t >= self.duration():
            return None
        p = self.params
        rate = p.get("spawn_rate")
        if self.kind == "stages":
            end = 0.0
            for stage in self.stages:
                end += stage.duration
                if t < end:
                    return Tick(stage.users, stage.spawn_rate, stage.personas)
            return None
        if self.kind == "ramp":
            users, up, hold = p["users"], p["up"], p.get("hold", 0)
            if t < up + hold:
                return Tick(users, rate or _per_second(users, up))
            return Tick(0, rate or _per_second(users, p.get("down", 0)))
        if self.kind == "step":
            users = min(p["start"] + p["add"] * int(t // p["every"]), p["max"])
            return Tick(users, rate or float(p["add"]))
        if self.kind == "spike":
            cycle = p["baseline_time"] + p["peak_time"] + p["recovery"]
            within = t % cycle
            peak = p["baseline_time"] <= within < p["baseline_time"] + p["peak_time"]
            return Tick(p["peak"] if peak else p["baseline"], rate or float(max(p["peak"] - p["baseline"], 1)))
        if self.kind == "wave":
            low, high = p["min_users"], p["max_users"]
            phase = 2 * math.pi * t / p["period"]
            users = round(low + (high - low) * (1 - math.cos(phase)) / 2)
            return Tick(users, rate or _per_second(high - low, p["period"] / 4))
        users = p["users"]  # soak
        if t < p["ramp"]:
            return Tick(users, rate or _per_second(users, p["ramp"]))
        return Tick(users, rate or float(users))


def clock(seconds: float) -> str:
    """``01:20``, or ``1:02:03`` from an hour on."""
    whole = int(seconds)
    hours, minutes, rest = whole // 3600, whole % 3600 // 60, whole % 60
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes:02d}:{rest:02d}"


def _per_second(users: int, seconds: float) -> float:
    """A spawn rate that reaches ``users`` in exactly ``seconds`` (fractional: 10 users in 30 s is 1/3 per second)."""
    return max(users, 1) / seconds if seconds > 0 else float(max(users, 1))
