"""The load shape: a Locust ``LoadTestShape`` that plays the selected profile.

The profile is read at every tick from Locust's own ``--profile`` option
(``environment.profile``, also a field of the web UI's start form), falling back
to ``load.default``. Without a profile the shape behaves like plain Locust:
``-u``/``-r`` users, ended by ``-t``. A profile ends the test itself at its end,
and ``-t`` still caps it.
"""

from __future__ import annotations

import logging
from typing import Any

from locust import LoadTestShape

from engine.profiles import Profile

log = logging.getLogger("engine.shape")


class ScenarioShape(LoadTestShape):
    """Base of the generated shape class (one per scenario with profiles)."""

    abstract = True
    use_common_options = True
    profiles: dict[str, Profile] = {}
    default_profile: str | None = None
    classes: dict[str, type] = {}

    def selected(self) -> Profile | None:
        environment = self.runner.environment if self.runner else None
        name = (environment.profile if environment is not None else None) or self.default_profile
        if not name:
            return None
        profile = self.profiles.get(name)
        if profile is None:
            log.error("unknown profile '%s' (profiles: %s): stopping", name, ", ".join(self.profiles))
        return profile

    def tick(self) -> Any:
        elapsed = self.get_run_time()
        options = self.runner.environment.parsed_options if self.runner else None
        run_time = getattr(options, "run_time", None)
        if run_time and elapsed >= run_time:
            return None  # -t caps every profile
        name = (self.runner.environment.profile if self.runner else None) or self.default_profile
        if not name:  # no profile: Locust's own -u/-r (and -t, above)
            users = getattr(options, "num_users", None) or 1
            return users, getattr(options, "spawn_rate", None) or 1
        profile = self.selected()
        if profile is None:
            return None
        target = profile.at(elapsed)
        if target is None:
            return None
        if target.personas is not None:
            return target.users, target.spawn_rate, [self.classes[name] for name in target.personas]
        if any(stage.personas is not None for stage in profile.stages):
            # Without classes Locust keeps spawning the previous tick's: after a stage with personas, all again.
            every = self.runner.environment.user_classes if self.runner else self.classes.values()
            return target.users, target.spawn_rate, list(every)
        return target.users, target.spawn_rate


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
