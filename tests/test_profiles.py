"""Load profiles as pure functions of elapsed time: ``Profile.at(t)`` on a grid of instants (a fake clock).

The first half builds :class:`Profile` objects directly; the second half builds
them through the real pipeline (``engine.load.compile_file``) from a scenario's
``load:`` section, where durations are parsed and defaults filled in.
"""

from __future__ import annotations

import argparse
import math
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.load import compile_file
from engine.profiles import Profile, Stage, Tick, clock


def users(profile: Profile, times: list[float]) -> list[int | None]:
    """The users the profile wants at each instant (None once it is over)."""
    return [None if (target := profile.at(t)) is None else target.users for t in times]


def grid(end: float, step: float = 0.25) -> list[float]:
    return [i * step for i in range(int(end / step) + 1)]


def test_outside_the_profile_there_is_no_target() -> None:
    profile = Profile("smoke", "stages", {}, (Stage(2.0, 1, 1.0),))
    for t in (-1000.0, -1.0, -0.001, 2.0, 2.001, 3.0, 1e9):
        assert profile.at(t) is None, t
    assert profile.at(0) == Tick(1, 1.0, None)


# -- stages -------------------------------------------------------------------------------------------------------


def test_stages_play_one_after_the_other() -> None:
    profile = Profile(
        "s",
        "stages",
        {},
        (Stage(2.0, 1, 1.0), Stage(3.0, 5, 2.5, ("Buyer",)), Stage(1.0, 0, 10.0), Stage(0.5, 2, 4.0, ("A", "B"))),
    )
    assert profile.duration() == 6.5
    assert profile.at(0) == Tick(1, 1.0, None)
    assert profile.at(1.999) == Tick(1, 1.0, None)
    assert profile.at(2.0) == Tick(5, 2.5, ("Buyer",))  # a boundary belongs to the next stage
    assert profile.at(4.999) == Tick(5, 2.5, ("Buyer",))
    assert profile.at(5.0) == Tick(0, 10.0, None)
    assert profile.at(6.0) == Tick(2, 4.0, ("A", "B"))
    assert profile.at(6.499) == Tick(2, 4.0, ("A", "B"))
    assert profile.at(6.5) is None
    times = grid(7, 0.5)
    assert users(profile, times) == [1, 1, 1, 1, 5, 5, 5, 5, 5, 5, 0, 0, 2, None, None]


def test_a_zero_length_stage_is_skipped() -> None:
    profile = Profile("s", "stages", {}, (Stage(0.0, 9, 9.0), Stage(1.0, 3, 3.0)))
    assert profile.duration() == 1.0
    assert profile.at(0) == Tick(3, 3.0, None)


# -- ramp ---------------------------------------------------------------------------------------------------------


def test_ramp_up_hold_and_down_with_derived_spawn_rates() -> None:
    profile = Profile("r", "ramp", {"users": 12, "up": 4.0, "hold": 6.0, "down": 3.0})
    assert profile.duration() == 13.0
    # Up and hold: the target is the peak, reached in `up` (12 users / 4 s); down: 0, reached in `down`.
    for t in (0, 1, 3.99, 4, 9.99):
        assert profile.at(t) == Tick(12, 3.0), t
    for t in (10, 11.5, 12.99):
        assert profile.at(t) == Tick(0, 4.0), t
    assert profile.at(13) is None
    assert users(profile, grid(14, 1)) == [12] * 10 + [0] * 3 + [None, None]


def test_ramp_with_an_explicit_spawn_rate_and_without_hold_or_down() -> None:
    profile = Profile("r", "ramp", {"users": 10, "up": 5.0, "spawn_rate": 7})
    assert profile.duration() == 5.0
    assert profile.at(0) == Tick(10, 7)
    assert profile.at(4.9) == Tick(10, 7)
    assert profile.at(5) is None


def test_derived_spawn_rates_take_the_declared_time() -> None:
    # 10 users over 30 s: one user every 3 s (the rate used to be floored at 1/s: 10 users after 10 s).
    assert Profile("r", "ramp", {"users": 10, "up": 30.0}).at(15) == Tick(10, 1 / 3)
    slow = Profile("r", "ramp", {"users": 2, "up": 10.0, "hold": 1.0, "down": 20.0})
    assert slow.at(0) == Tick(2, 0.2)
    assert slow.at(11) == Tick(0, 0.1)
    assert Profile("s", "soak", {"users": 3, "ramp": 30.0, "hold": 1.0}).at(0) == Tick(3, 0.1)
    assert Profile("w", "wave", {"min_users": 0, "max_users": 2, "period": 40.0}).at(0) == Tick(0, 0.2)
    instant = Profile("r", "ramp", {"users": 6, "up": 0.0, "hold": 2.0})
    assert instant.at(0) == Tick(6, 6.0)  # no ramp time: everyone at once


# -- step ---------------------------------------------------------------------------------------------------------


def test_step_adds_users_up_to_max_then_holds_one_more_step() -> None:
    profile = Profile("s", "step", {"start": 2, "add": 3, "every": 10.0, "max": 10})
    # 2, 5, 8, then capped at 10 for one step; ceil((10 - 2) / 3) = 3 steps after the first.
    assert profile.duration() == 40.0
    assert users(profile, [0, 9.99, 10, 19.99, 20, 29.99, 30, 39.99, 40, 50]) == [2, 2, 5, 5, 8, 8, 10, 10, None, None]
    assert profile.at(0) == Tick(2, 3.0)  # derived rate: the users added per step, per second
    assert all(target is None or target.spawn_rate == 3.0 for target in map(profile.at, grid(45)))


def test_step_reaching_max_exactly_holds_it_for_one_step_then_ends() -> None:
    profile = Profile("s", "step", {"start": 0, "add": 5, "every": 2.0, "max": 10, "spawn_rate": 50})
    assert profile.duration() == 6.0
    assert users(profile, grid(7, 1)) == [0, 0, 5, 5, 10, 10, None, None]
    assert profile.at(4) == Tick(10, 50)


def test_step_starting_at_max_lasts_one_step() -> None:
    profile = Profile("s", "step", {"start": 8, "add": 2, "every": 3.0, "max": 5})
    assert profile.duration() == 3.0
    assert users(profile, [0, 2.9, 3]) == [5, 5, None]


# -- spike --------------------------------------------------------------------------------------------------------


def test_spike_baseline_peak_recovery_repeated() -> None:
    params = {"baseline": 2, "peak": 20, "baseline_time": 10.0, "peak_time": 5.0, "recovery": 15.0, "repeat": 2}
    profile = Profile("s", "spike", params)
    assert profile.duration() == 60.0
    times = [0, 9.99, 10, 14.99, 15, 29.99, 30, 39.99, 40, 44.99, 45, 59.99, 60]
    assert users(profile, times) == [2, 2, 20, 20, 2, 2, 2, 2, 20, 20, 2, 2, None]
    assert {profile.at(t).spawn_rate for t in grid(59.75)} == {18.0}  # type: ignore[union-attr]
    # Exactly two spikes, each peak_time long.
    peaks = [t for t in grid(60, 0.5) if (target := profile.at(t)) is not None and target.users == 20]
    assert len(peaks) == 2 * 10
    assert min(peaks) == 10 and max(peaks) == 44.5


def test_spike_once_by_default_with_an_explicit_rate() -> None:
    params = {"baseline": 1, "peak": 4, "baseline_time": 1.0, "peak_time": 1.0, "recovery": 1.0, "spawn_rate": 0.5}
    profile = Profile("s", "spike", params)
    assert profile.duration() == 3.0
    assert [profile.at(t) for t in (0, 1, 2, 3)] == [Tick(1, 0.5), Tick(4, 0.5), Tick(1, 0.5), None]


def test_a_spike_down_still_spawns_at_least_one_user_per_second() -> None:
    params = {"baseline": 5, "peak": 5, "baseline_time": 1.0, "peak_time": 1.0, "recovery": 1.0}
    assert Profile("s", "spike", params).at(1) == Tick(5, 1.0)


# -- wave ---------------------------------------------------------------------------------------------------------


def test_wave_between_min_and_max() -> None:
    profile = Profile("w", "wave", {"min_users": 2, "max_users": 10, "period": 20.0, "cycles": 2})
    assert profile.duration() == 40.0
    assert users(profile, [0, 5, 10, 15, 20, 25, 30, 35, 40]) == [2, 6, 10, 6, 2, 6, 10, 6, None]
    # derived rate: from min to max in a quarter period
    assert profile.at(0) == Tick(2, 8 / 5)
    for t in grid(39.9, 0.1):
        target = profile.at(t)
        assert target is not None and 2 <= target.users <= 10, t
        expected = 2 + 8 * (1 - math.cos(2 * math.pi * t / 20)) / 2
        assert abs(target.users - expected) <= 0.5 + 1e-9, t


def test_one_wave_ends_after_one_period() -> None:
    profile = Profile("w", "wave", {"min_users": 0, "max_users": 4, "period": 8.0, "cycles": 1, "spawn_rate": 9})
    assert users(profile, [0, 2, 4, 6, 7.99, 8]) == [0, 2, 4, 2, 0, None]
    assert profile.at(4) == Tick(4, 9)


# -- soak ---------------------------------------------------------------------------------------------------------


def test_soak_ramps_then_holds() -> None:
    profile = Profile("s", "soak", {"users": 120, "ramp": 60.0, "hold": 3600.0})
    assert profile.duration() == 3660.0
    assert profile.at(0) == Tick(120, 2.0)  # 120 users in 60 s
    assert profile.at(59.99) == Tick(120, 2.0)
    assert profile.at(60) is not None and profile.at(60).users == 120  # type: ignore[union-attr]
    assert users(profile, [0, 600, 1800, 3659.99, 3660]) == [120, 120, 120, 120, None]


def test_soak_with_an_explicit_rate() -> None:
    profile = Profile("s", "soak", {"users": 3, "ramp": 1.0, "hold": 2.0, "spawn_rate": 0.5})
    assert [profile.at(t) for t in (0, 1, 2.9, 3)] == [Tick(3, 0.5), Tick(3, 0.5), Tick(3, 0.5), None]


# -- through the pipeline -----------------------------------------------------------------------------------------

SCENARIO = """
version: 1
users:
  Buyer:
    journeys:
      buy:
        steps:
          - get: /items
  Browser:
    journeys:
      browse:
        steps:
          - get: /items/101
load:
  default: smoke
  profiles:
    smoke:
      description: a quick check
      stages:
        - {duration: 2s, users: 1}
        - {duration: 1.5, users: 3, spawn_rate: 0.5, personas: [Buyer]}
        - {duration: 500ms, users: 0}
        - {duration: 1m, users: 4, personas: [Buyer, Browser]}
    ramp: {ramp: {users: 10, up: 5s, hold: 1m, down: 2500ms}}
    ramp_fast: {ramp: {users: 10, up: 10, spawn_rate: 3}}
    step: {step: {add: 5, every: 30s, max: 20}}
    step_from_zero: {step: {start: 0, add: 5, every: 1m, max: 10, spawn_rate: 1}}
    spike: {spike: {baseline: 5, peak: 50, peak_time: 10s}}
    spikes: {spike: {baseline: 5, peak: 50, baseline_time: 1s, peak_time: 2s, recovery: 3s, repeat: 3}}
    wave: {wave: {min_users: 10, max_users: 30, period: 2m, cycles: 3}}
    soak: {soak: {users: 30, hold: 2h}}
    soak_fast: {soak: {users: 30, ramp: 10s, hold: 1h, spawn_rate: 5}}
    wave_once: {wave: {min_users: 1, max_users: 3, period: 4s}}
"""


@pytest.fixture
def profiles(tmp_path: Path) -> dict[str, Profile]:
    path = tmp_path / "load.yaml"
    path.write_text(textwrap.dedent(SCENARIO).lstrip("\n"), encoding="utf-8")
    program, _ = compile_file(path)
    assert program.scenario.default_profile == "smoke"
    return {profile.name: profile for profile in program.scenario.profiles}


def test_pipeline_keeps_every_profile_in_order(profiles: dict[str, Profile]) -> None:
    assert list(profiles) == [
        "smoke", "ramp", "ramp_fast", "step", "step_from_zero", "spike", "spikes", "wave", "soak", "soak_fast",
        "wave_once",
    ]  # fmt: skip
    assert [p.kind for p in profiles.values()] == [
        "stages", "ramp", "ramp", "step", "step", "spike", "spike", "wave", "soak", "soak", "wave"
    ]  # fmt: skip


def test_pipeline_stages_parse_durations_rates_and_personas(profiles: dict[str, Profile]) -> None:
    smoke = profiles["smoke"]
    assert smoke.stages == (
        Stage(2.0, 1, 1.0, None),  # default spawn rate: all the stage's users within a second
        Stage(1.5, 3, 0.5, ("Buyer",)),  # a bare number is seconds
        Stage(0.5, 0, 1.0, None),
        Stage(60.0, 4, 4.0, ("Buyer", "Browser")),
    )
    assert smoke.duration() == 64.0
    assert users(smoke, [0, 1.99, 2, 3.49, 3.5, 3.99, 4, 63.99, 64]) == [1, 1, 3, 3, 0, 0, 4, 4, None]
    assert smoke.at(2) == Tick(3, 0.5, ("Buyer",))
    assert smoke.at(10) == Tick(4, 4.0, ("Buyer", "Browser"))


def test_pipeline_ramp(profiles: dict[str, Profile]) -> None:
    ramp = profiles["ramp"]
    assert ramp.duration() == 67.5
    assert ramp.at(0) == Tick(10, 2.0)
    assert ramp.at(64.99) == Tick(10, 2.0)
    assert ramp.at(65) == Tick(0, 4.0)  # 10 users in 2.5 s
    assert ramp.at(67.5) is None
    fast = profiles["ramp_fast"]
    assert (fast.duration(), fast.at(0), fast.at(10)) == (10.0, Tick(10, 3), None)


def test_pipeline_step_starts_with_add_by_default(profiles: dict[str, Profile]) -> None:
    step = profiles["step"]
    assert step.params["start"] == 5
    assert step.duration() == 120.0  # 5, 10, 15, 20: three steps up, then the 20 held for one step
    assert users(step, [0, 29.9, 30, 60, 90, 119.9, 120]) == [5, 5, 10, 15, 20, 20, None]
    assert step.at(0) == Tick(5, 5.0)
    zero = profiles["step_from_zero"]
    assert zero.duration() == 180.0
    assert users(zero, [0, 60, 120, 179, 180]) == [0, 5, 10, 10, None]
    assert zero.at(60) == Tick(5, 1)


def test_pipeline_spike_defaults_a_minute_of_baseline_and_recovery(profiles: dict[str, Profile]) -> None:
    spike = profiles["spike"]
    assert spike.duration() == 130.0
    assert users(spike, [0, 59.9, 60, 69.9, 70, 129.9, 130]) == [5, 5, 50, 50, 5, 5, None]
    assert spike.at(60) == Tick(50, 45.0)
    spikes = profiles["spikes"]
    assert spikes.duration() == 18.0
    assert users(spikes, grid(18.5, 1)) == [5, 50, 50, 5, 5, 5] * 3 + [None]


def test_pipeline_wave(profiles: dict[str, Profile]) -> None:
    wave = profiles["wave"]
    assert wave.duration() == 360.0
    assert users(wave, [0, 60, 120, 180, 240, 300, 359.9, 360]) == [10, 30, 10, 30, 10, 30, 10, None]
    assert users(wave, [30, 90]) == [20, 20]
    assert wave.at(0) == Tick(10, 20 / 30)  # 20 users over a 30 s quarter period
    once = profiles["wave_once"]  # cycles: 1 by default
    assert once.duration() == 4.0
    assert users(once, [0, 1, 2, 3, 4]) == [1, 2, 3, 2, None]


def test_pipeline_soak_ramps_a_minute_by_default(profiles: dict[str, Profile]) -> None:
    soak = profiles["soak"]
    assert soak.duration() == 60.0 + 7200.0
    assert soak.at(0) == Tick(30, 0.5)  # 30 users in the default minute
    assert soak.at(7259) is not None and soak.at(7260) is None
    fast = profiles["soak_fast"]
    assert fast.duration() == 3610.0
    assert fast.at(0) == Tick(30, 5) and fast.at(3000) == Tick(30, 5)


def test_a_scenario_without_load_has_no_profiles(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("version: 1\njourneys:\n  j:\n    steps:\n      - get: /items\n", encoding="utf-8")
    program, _ = compile_file(path)
    assert program.scenario.profiles == ()
    assert program.scenario.default_profile is None


def test_plan_exports_the_shape_only_with_profiles(tmp_path: Path) -> None:
    from engine.load import load_plan
    from engine.shape import ScenarioShape

    path = tmp_path / "load.yaml"
    path.write_text(textwrap.dedent(SCENARIO).lstrip("\n"), encoding="utf-8")
    plan = load_plan(path, module="profiles_test_shape")
    assert plan.shape is not None and issubclass(plan.shape, ScenarioShape)
    exports = plan.exports()
    assert set(exports) == {"Buyer", "Browser", plan.shape.__name__}
    assert plan.shape.default_profile == "smoke"
    assert set(plan.shape.profiles) == {p.name for p in plan.program.scenario.profiles}
    assert plan.shape.classes == plan.user_classes

    plain = tmp_path / "plain.yaml"
    plain.write_text("version: 1\njourneys:\n  j:\n    steps:\n      - get: /items\n", encoding="utf-8")
    plain_plan = load_plan(plain, module="profiles_test_plain")
    assert plain_plan.shape is None
    assert set(plain_plan.exports()) == set(plain_plan.user_classes)


# -- the Locust shape, ticked with a fake clock ---------------------------------------------------------------------


class FakeEnvironment:
    def __init__(self, profile: str | None, user_classes: list[type], **options: Any) -> None:
        self.profile = profile
        self.user_classes = user_classes
        self.parsed_options = argparse.Namespace(**{"run_time": None, "num_users": None, "spawn_rate": None, **options})


class FakeRunner:
    def __init__(self, environment: FakeEnvironment) -> None:
        self.environment = environment


def shape_at(plan: Any, profile: str | None = None, **options: Any) -> Callable[[float], Any]:
    """The shape's tick at a given elapsed time, with --profile and -u/-r/-t as given."""
    assert plan.shape is not None
    shape = plan.shape()
    shape.runner = FakeRunner(FakeEnvironment(profile, list(plan.user_classes.values()), **options))

    def tick(elapsed: float) -> Any:
        shape.get_run_time = lambda: elapsed
        return shape.tick()

    return tick


@pytest.fixture
def plan(tmp_path: Path) -> Any:
    from engine.load import load_plan

    path = tmp_path / "load.yaml"
    path.write_text(textwrap.dedent(SCENARIO).lstrip("\n"), encoding="utf-8")
    return load_plan(path, module="profiles_test_tick")


def test_shape_plays_the_default_profile_with_its_personas(plan: Any) -> None:
    tick = shape_at(plan)
    buyer, browser = plan.user_classes["Buyer"], plan.user_classes["Browser"]
    # A stage without personas after one with personas names every class again (Locust would keep the last ones).
    assert tick(0) == (1, 1.0, [buyer, browser])
    assert tick(2) == (3, 0.5, [buyer])
    assert tick(3.6) == (0, 1.0, [buyer, browser])
    assert tick(4) == (4, 4.0, [buyer, browser])
    assert tick(64) is None  # the profile is over: the test ends


def test_shape_with_profile_option_and_run_time(plan: Any) -> None:
    ramp = shape_at(plan, "ramp")
    assert ramp(0) == (10, 2.0)  # no personas anywhere: Locust's two-element tick
    assert ramp(66) == (0, 4.0)
    assert ramp(67.5) is None
    capped = shape_at(plan, "soak", run_time=5)
    assert capped(4.9) == (30, 0.5)
    assert capped(5) is None  # -t caps the 2 h soak


def test_shape_without_a_profile_follows_users_spawn_rate_and_run_time(tmp_path: Path) -> None:
    from engine.load import load_plan

    path = tmp_path / "no_default.yaml"
    text = textwrap.dedent(SCENARIO).lstrip("\n").replace("  default: smoke\n", "")
    path.write_text(text, encoding="utf-8")
    plan = load_plan(path, module="profiles_test_no_default")
    tick = shape_at(plan, None, num_users=7, spawn_rate=2.5, run_time=3)
    assert tick(0) == (7, 2.5)
    assert tick(2.9) == (7, 2.5)
    assert tick(3) is None
    assert shape_at(plan, None)(1000) == (1, 1)  # Locust's defaults, and no end without -t
    assert shape_at(plan, "step_from_zero")(60) == (5, 1)


@pytest.mark.slow
def test_a_real_ramp_is_about_half_way_at_mid_ramp(target: Any, write_scenario: Callable[..., Path]) -> None:
    """4 users over 8 s on a real local runner: about 2 users at 4 s (the 1/s floor gave all 4 by then)."""
    import gevent
    from locust.env import Environment

    from engine.load import load_plan

    path = write_scenario(
        """
        version: 1
        journeys:
          j:
            steps:
              - get: /items
              - think: 1
        load:
          default: ramp
          profiles:
            ramp: {ramp: {users: 4, up: 8s, hold: 2s}}
        """
    )
    plan = load_plan(path, module="profiles_test_real_ramp")
    host = target.url
    for cls in plan.user_classes.values():
        cls.host = host
    env = Environment(user_classes=list(plan.user_classes.values()), host=host, shape_class=plan.shape())
    runner = env.create_local_runner()
    runner.start_shape()
    try:
        gevent.sleep(4.0)
        mid = runner.user_count
    finally:
        runner.quit()
    assert 1 <= mid <= 3, mid  # one user every 2 s: all 4 only at the end of the ramp


PERSONA_STAGES = """
version: 1
users:
  A:
    wait: {constant: 0.05}
    journeys:
      a:
        steps:
          - get: /items?category=Books
            name: by A
  B:
    wait: {constant: 0.05}
    journeys:
      b:
        steps:
          - get: /items?category=Home
            name: by B
load:
  default: switch
  profiles:
    switch:
      stages:
        - {duration: 1h, users: 2, personas: [A]}
        - {duration: 1h, users: 2, personas: [B]}
        - {duration: 1h, users: 3, personas: [A, B]}
"""


class ShapeClock:
    """The shape's elapsed time, set by the test (Locust's shape worker still ticks every real second)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def wait_until(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll ``check`` while gevent runs the users; generous for a loaded machine."""
    import gevent

    for _ in range(int(seconds / 0.05)):
        if check():
            return True
        gevent.sleep(0.05)
    return check()


@pytest.mark.slow
def test_a_stage_with_personas_stops_the_other_personas_and_starts_its_own(
    target: Any, write_scenario: Callable[..., Path]
) -> None:
    """{users: 2, personas: [A]} then {users: 2, personas: [B]}: B's users replace A's (Locust kept 2 A users)."""
    from locust.env import Environment

    from engine.load import load_plan
    from engine.shape import PersonaDispatcher

    plan = load_plan(write_scenario(PERSONA_STAGES), module="profiles_test_persona_stages")
    for cls in plan.user_classes.values():
        cls.host = target.url
    shape = plan.shape()
    clock = ShapeClock()
    shape.get_run_time = clock
    env = Environment(user_classes=list(plan.user_classes.values()), host=target.url, shape_class=shape)
    runner = env.create_local_runner()
    assert env.dispatcher_class is PersonaDispatcher  # the shape brought it when Locust attached the runner

    def running() -> dict[str, int]:
        return {name: count for name, count in runner.user_classes_count.items() if count}

    def requests(name: str) -> int:
        return int(env.stats.get(name, "GET").num_requests)

    runner.start_shape()
    try:
        assert wait_until(lambda: running() == {"A": 2} and requests("by A") > 0), running()
        assert requests("by B") == 0
        clock.now = 3600.0  # stage 2
        assert wait_until(lambda: running() == {"B": 2}), running()
        seen = requests("by B")
        assert wait_until(lambda: requests("by B") > seen), "B's users run"
        a_requests = requests("by A")
        assert wait_until(lambda: requests("by B") > seen + 4)
        assert requests("by A") == a_requests  # no A user is left running
        clock.now = 7200.0  # stage 3 names both: nobody is stopped, one more user by the weights
        assert wait_until(lambda: runner.user_count == 3), running()
        assert running().get("B", 0) >= 2
        clock.now = 10800.0  # the profile is over: the test stops
        assert wait_until(lambda: runner.user_count == 0), running()
    finally:
        runner.quit()


@pytest.mark.slow
def test_the_persona_dispatcher_switches_classes_on_every_worker(write_scenario: Callable[..., Path]) -> None:
    """What a master sends its workers: each worker's counts per class (Locust's real dispatcher, two nodes)."""
    from locust.dispatch import UsersDispatcher
    from locust.runners import WorkerNode

    from engine.load import load_plan
    from engine.shape import PersonaDispatcher

    plan = load_plan(write_scenario(PERSONA_STAGES), module="profiles_test_persona_dispatch")
    a, b = plan.user_classes["A"], plan.user_classes["B"]

    def dispatcher(kind: type) -> Any:
        return kind(worker_nodes=[WorkerNode("w1"), WorkerNode("w2")], user_classes=[a, b])

    locust_own, ours = dispatcher(UsersDispatcher), dispatcher(PersonaDispatcher)
    for each in (locust_own, ours):
        each.new_dispatch(4, 100, [a])
        assert list(each)[-1] == {"w1": {"A": 2, "B": 0}, "w2": {"A": 2, "B": 0}}
        each.new_dispatch(4, 100, [b])
    assert list(locust_own)[-1] == {"w1": {"A": 2, "B": 0}, "w2": {"A": 2, "B": 0}}  # why the engine has its own
    assert list(ours)[-1] == {"w1": {"A": 0, "B": 2}, "w2": {"A": 0, "B": 2}}
    ours.new_dispatch(4, 1, [a])  # a slow spawn rate: the B users stop at once, A's come one a second
    first = next(ours)
    assert {worker: counts["B"] for worker, counts in first.items()} == {"w1": 0, "w2": 0}
    assert sum(counts["A"] for counts in first.values()) == 1
    ours.new_dispatch(3, 100, None)  # no classes named: Locust's own dispatch (down to 3, by the last ones)
    assert sum(sum(counts.values()) for counts in list(ours)[-1].values()) == 3
    ours.new_dispatch(2, 100, [])  # every named persona left out by --tags: nobody runs
    assert list(ours)[-1] == {"w1": {"A": 0, "B": 0}, "w2": {"A": 0, "B": 0}}


def test_persona_stages_on_a_master_and_a_worker(target_url: str, write_scenario: Callable[..., Path]) -> None:
    """A real master and worker (private port): stage 2's personas replace stage 1's on the worker."""
    import os
    import socket
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    locust = str(Path(sys.executable).with_name("locust"))
    text = PERSONA_STAGES.replace("1h, users: 2, personas: [A]", "3s, users: 2, personas: [A]")
    text = text.replace("1h, users: 2, personas: [B]", "4s, users: 2, personas: [B]")
    text = text.replace("        - {duration: 1h, users: 3, personas: [A, B]}\n", "")
    path = write_scenario(text)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    base = [locust, "-f", str(root / "locustfile.py"), "--scenario", str(path)]
    worker = subprocess.Popen(
        [*base, "--worker", "--master-port", port, "--loglevel", "DEBUG"],
        cwd=path.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        master = subprocess.run(
            [
                *base, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                "--expect-workers", "1", "--expect-workers-max-wait", "30", "-H", target_url,
                "--headless", "-t", "60s", "--json", "--only-summary",
            ],
            cwd=path.parent, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        try:
            _, worker_log = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, worker_log = worker.communicate()
    assert master.returncode == 0, master.stderr
    # The worker's own account (the master's "All users spawned" line repeats the workers' last report).
    assert 'Spawning additional {"B": 2} ({"A": 2, "B": 0} already running)' in worker_log, worker_log
    assert "2 users have been stopped, 2 still running" in worker_log, worker_log
    import json

    rows = {row["name"]: row["num_requests"] for row in json.loads(master.stdout)}
    assert rows.get("by A", 0) > 0 and rows.get("by B", 0) > 0, rows


def test_a_stage_naming_a_persona_left_out_by_tags_starts_none_of_it(write_scenario: Callable[..., Path]) -> None:
    from engine.load import load_plan

    text = PERSONA_STAGES.replace("      a:\n", "      a:\n        tags: [a]\n")
    plan = load_plan(write_scenario(text), module="profiles_test_persona_tags", tags=["a"])
    assert set(plan.user_classes) == {"A"}  # B has no journey tagged a: Locust does not have it
    tick = shape_at(plan)
    a = plan.user_classes["A"]
    assert tick(0) == (2, 2.0, [a])
    assert tick(3600) == (2, 2.0, [])  # B's stage: the A users stop, and no B starts (the class is not there)
    assert tick(7200) == (3, 3.0, [a])


def test_each_profile_names_its_phase_in_words(profiles: dict[str, Profile]) -> None:
    def phases(name: str, times: list[float]) -> list[str]:
        return [profiles[name].phase(t) for t in times]

    assert phases("smoke", [0, 1.99, 2, 3.5, 4.0, 100]) == [
        "stage 1 of 4",
        "stage 1 of 4",
        "stage 2 of 4",
        "stage 3 of 4",
        "stage 4 of 4",
        "stage 4 of 4",
    ]
    assert phases("ramp", [0, 4.9, 5, 64.9, 65, 67]) == ["ramp up", "ramp up", "hold", "hold", "ramp down", "ramp down"]
    assert phases("step", [0, 29, 30, 90, 119, 500]) == [
        "step 1 of 4",
        "step 1 of 4",
        "step 2 of 4",
        "step 4 of 4",
    ] * 1 + [
        "step 4 of 4",
        "step 4 of 4",
    ]
    assert phases("spike", [0, 60, 69, 70, 129]) == ["baseline", "peak", "peak", "recovery", "recovery"]
    assert phases("spikes", [0, 1, 3, 6, 7, 17]) == [
        "baseline 1 of 3",
        "peak 1 of 3",
        "recovery 1 of 3",
        "baseline 2 of 3",
        "peak 2 of 3",
        "recovery 3 of 3",
    ]
    assert phases("wave", [0, 119, 120, 359]) == ["cycle 1 of 3", "cycle 1 of 3", "cycle 2 of 3", "cycle 3 of 3"]
    assert phases("soak", [0, 59, 60, 7000]) == ["ramp up", "ramp up", "hold", "hold"]
    assert [clock(s) for s in (0, 80.7, 630, 3723)] == ["00:00", "01:20", "10:30", "1:02:03"]


def test_the_shape_reports_its_progress_on_a_fake_clock(plan: Any) -> None:
    shape = plan.shape()
    runner = FakeRunner(FakeEnvironment("ramp", list(plan.user_classes.values())))
    runner.user_count = 4  # type: ignore[attr-defined]
    shape.runner = runner
    shape.get_run_time = lambda: 2.5
    assert shape.progress() == "profile ramp: ramp up, 00:02 of 01:07, 4/10 users"
    shape.get_run_time = lambda: 66.0
    assert shape.progress() == "profile ramp: ramp down, 01:06 of 01:07, 4/0 users"
    shape.get_run_time = lambda: 90.0  # past the end (a last line as the test stops)
    assert shape.progress() == "profile ramp: ramp down, 01:07 of 01:07, 4/0 users"
