"""The load shape: a Locust ``LoadTestShape`` that plays the selected profile.

The profile is read at every tick from Locust's own ``--profile`` option
(``environment.profile``, also a field of the web UI's start form), falling back
to ``load.default``. Without a profile the shape behaves like plain Locust:
``-u``/``-r`` users, ended by ``-t``. A profile ends the test itself at its end,
and ``-t`` still caps it.

A stage with ``personas:`` ticks with those user classes. Locust's own
dispatcher only spawns *new* users of the classes a tick names and keeps the
others running (and at an unchanged user count it does nothing at all), so a
shape with such stages brings :class:`PersonaDispatcher`, which first stops the
users of the classes not named. The shape installs it on the runner's
environment when Locust attaches the runner (local runner, or the master).

In a headless run, :func:`report_progress` prints where the profile is beside
Locust's periodic table.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from locust import LoadTestShape
from locust.dispatch import UsersDispatcher
from locust.stats import CONSOLE_STATS_INTERVAL_SEC

from engine.profiles import Profile, clock

log = logging.getLogger("engine.shape")
console = logging.getLogger("locust.stats_logger")  # Locust's periodic table goes there: plain lines


class PersonaDispatcher(UsersDispatcher):
    """Locust's dispatcher, except that a dispatch naming user classes runs only those classes.

    The users of every other class are stopped at the start of the dispatch (the
    runner, or each worker, stops them at once), then the named classes are
    spawned up to the tick at the spawn rate, by their weights. A dispatch
    without ``user_classes`` is Locust's.
    """

    def new_dispatch(self, target_user_count: int, spawn_rate: float, user_classes: list[type] | None = None) -> None:
        if user_classes is not None:
            named = {cls.__name__ for cls in user_classes}
            if any(name not in named for _, name in self._active_users):
                self._active_users = [(node, name) for node, name in self._active_users if name in named]
                self._users_on_workers = {
                    node: {name: (count if name in named else 0) for name, count in users.items()}
                    for node, users in self._users_on_workers.items()
                }
                self._try_dispatch_fixed = True  # fixed_count users of the named classes may be missing now
        super().new_dispatch(target_user_count, spawn_rate, user_classes)


class ScenarioShape(LoadTestShape):
    """Base of the generated shape class (one per scenario with profiles)."""

    abstract = True
    use_common_options = True
    profiles: dict[str, Profile] = {}
    default_profile: str | None = None
    classes: dict[str, type] = {}
    _runner: Any = None

    @property
    def runner(self) -> Any:
        return self._runner

    @runner.setter
    def runner(self, runner: Any) -> None:
        """Locust attaches its runner here: a shape whose stages name personas needs :class:`PersonaDispatcher`."""
        self._runner = runner
        environment = getattr(runner, "environment", None)
        if getattr(environment, "dispatcher_class", None) is UsersDispatcher and self.names_personas():
            environment.dispatcher_class = PersonaDispatcher  # type: ignore[union-attr]

    @classmethod
    def names_personas(cls) -> bool:
        """Whether a stage of any profile names personas."""
        return any(stage.personas is not None for profile in cls.profiles.values() for stage in profile.stages)

    def profile_name(self) -> str | None:
        """The profile to play: Locust's ``--profile`` (or the web UI's field), else ``load.default``."""
        return (self.runner.environment.profile if self.runner else None) or self.default_profile

    def selected(self) -> Profile | None:
        name = self.profile_name()
        if not name:
            return None
        profile = self.profiles.get(name)
        if profile is None:
            log.error("unknown profile '%s' (profiles: %s): stopping", name, ", ".join(self.profiles))
        return profile

    def progress(self) -> str | None:
        """``profile load: ramp up, 01:20 of 10:30, 45/100 users`` (None without a profile)."""
        name = self.profile_name()
        profile = self.profiles.get(name) if name else None
        if profile is None:
            return None
        elapsed, total = self.get_run_time(), profile.duration()
        wanted = profile.at(elapsed)
        users = self.runner.user_count if self.runner else 0
        shown = f"{clock(min(elapsed, total))} of {clock(total)}"
        target = wanted.users if wanted is not None else 0
        return f"profile {profile.name}: {profile.phase(min(elapsed, total))}, {shown}, {users}/{target} users"

    def tick(self) -> Any:
        elapsed = self.get_run_time()
        options = self.runner.environment.parsed_options if self.runner else None
        run_time = getattr(options, "run_time", None)
        if run_time and elapsed >= run_time:
            return None  # -t caps every profile
        if not self.profile_name():  # no profile: Locust's own -u/-r (and -t, above)
            users = getattr(options, "num_users", None) or 1
            return users, getattr(options, "spawn_rate", None) or 1
        profile = self.selected()
        if profile is None:
            return None
        wanted = profile.at(elapsed)
        if wanted is None:
            return None
        every = list(self.runner.environment.user_classes if self.runner else self.classes.values())
        if wanted.personas is not None:
            # Only classes the runner has: a persona left out by --tags is not started (none at all if all are).
            named = [cls for name in wanted.personas if (cls := self.classes.get(name)) in every]
            return wanted.users, wanted.spawn_rate, named
        if any(stage.personas is not None for stage in profile.stages):
            # Without classes Locust keeps spawning the previous tick's: after a stage with personas, all again.
            return wanted.users, wanted.spawn_rate, every
        return wanted.users, wanted.spawn_rate


def report_progress(environment: Any, runner: Any) -> None:
    """In a headless run with a profile, print where the profile is beside Locust's periodic statistics."""
    options = environment.parsed_options
    shape = environment.shape_class
    if not isinstance(shape, ScenarioShape) or options is None:
        return
    if not getattr(options, "headless", False) or getattr(options, "only_summary", False):
        return
    printer: list[Any] = []

    def print_progress() -> None:
        while True:
            line = shape.progress()
            if line is not None:
                console.info(line)
            gevent.sleep(CONSOLE_STATS_INTERVAL_SEC)

    def start(**_: Any) -> None:
        if not printer:
            printer.append(gevent.spawn(print_progress))

    def stop(**_: Any) -> None:
        while printer:
            printer.pop().kill(block=False)

    environment.events.test_start.add_listener(start)
    environment.events.test_stop.add_listener(stop)


def shape_class(profiles: tuple[Profile, ...], default: str | None, classes: dict[str, type], module: str) -> type:
    """The shape class to export next to the user classes."""
    return type(
        "ScenarioLoadShape",
        (ScenarioShape,),
        {
            "__module__": module,
            "abstract": False,
            "profiles": {profile.name: profile for profile in profiles},
            "default_profile": default,
            "classes": classes,
        },
    )
