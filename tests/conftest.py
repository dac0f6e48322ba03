"""Shared test harness: the real target API on 127.0.0.1 and real Locust environments.

Nothing here is mocked: scenarios are loaded through the whole pipeline, users
are the generated Locust classes, requests go over TCP to ``tests/target.py``
and outcomes are read from Locust's own statistics.

Tests that start a process (``locust``, ``validate``, the target on its own) or
let a runner spawn users for a while are marked ``slow``: ``pytest -m "not slow"``
is the quick inner loop. A test using ``target_url`` is marked by itself, and a
test not marked that starts a process or a timed run fails, naming the mark.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import locust  # noqa: F401  (gevent monkey-patching happens on this import, before anything else)
import pytest
from locust.env import Environment
from locust.stats import StatsError

from engine import lifecycle
from engine.load import load_plan

sys.path.insert(0, str(Path(__file__).parent))
from target import Target

ROOT = Path(__file__).resolve().parent.parent
_modules = itertools.count()


SLOW = "slow"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test with the target in a process of its own runs real ``locust`` processes: slow."""
    for item in items:
        if "target_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


def _slow_only(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        pytest.fail(f"this test {what}: mark it @pytest.mark.slow (see tests/conftest.py)")

    return refuse


@pytest.fixture(autouse=True)
def quick_tests_stay_in_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test not marked slow starts no process and no timed run: ``-m "not slow"`` stays quick."""
    if request.node.get_closest_marker(SLOW) is None:
        monkeypatch.setattr(subprocess.Popen, "__init__", _slow_only("starts a process"))
        monkeypatch.setattr(Harness, "run", _slow_only("lets a runner spawn users for a while"))


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    """The test API, served in-process from a greenlet on 127.0.0.1 (port 0)."""
    server = Target().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def target_url() -> Iterator[str]:
    """The test API in a process of its own on 127.0.0.1 (port 0), for real ``locust`` subprocesses."""
    process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "target.py")], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    """Write a (dedented) scenario file into the test's temp dir and return its path."""

    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


class Harness:
    """A loaded scenario in a real Locust Environment with a local runner.

    ``user()`` makes a user of a generated class; ``journey()`` runs one of its
    journeys exactly as Locust's task would. ``run()`` lets the runner spawn
    users for a while. Results are read from ``env.stats``.
    """

    def __init__(self, path: Path, host: str, **load: Any) -> None:
        self.plan = load_plan(path, module=f"scenario_test_{next(_modules)}", **load)
        self.classes = self.plan.user_classes
        for cls in self.classes.values():
            cls.host = host
        self.env = Environment(user_classes=list(self.classes.values()), host=host, catch_exceptions=False)
        self.runner = self.env.create_local_runner()
        lifecycle.attach(self.plan.program, self.env, self.runner)

    def start_test(self) -> None:
        """Fire Locust's test_start, as the runner does before spawning: setup runs."""
        self.env.events.test_start.fire(environment=self.env)

    def stop_test(self) -> None:
        """Fire Locust's test_stop, as the runner does after the load: teardown runs."""
        self.env.events.test_stop.fire(environment=self.env)

    def user(self, name: str | None = None, *, start: bool = True) -> Any:
        """A user of class ``name`` (the only class when None), after its on_start when ``start``."""
        cls = self.classes[name] if name else next(iter(self.classes.values()))
        instance = cls(self.env)
        if start:
            instance.on_start()
        return instance

    def journey(self, user: Any, name: str | None = None, times: int = 1) -> None:
        """Run one journey of ``user`` (its only one when None) ``times`` times."""
        programs = user.persona_program.journeys
        program = next(j for j in programs if name is None or j.journey.name == name)
        for _ in range(times):
            user.run_journey(program)

    def run(self, users: int, seconds: float, spawn_rate: float = 100) -> None:
        """Let the local runner spawn ``users`` and run them for ``seconds``."""
        self.runner.start(users, spawn_rate=spawn_rate)
        gevent.sleep(seconds)
        self.runner.quit()

    def entry(self, name: str, method: str = "GET") -> Any:
        return self.env.stats.get(name, method)

    def requests(self, name: str, method: str = "GET") -> int:
        return int(self.entry(name, method).num_requests)

    def failures(self, name: str, method: str = "GET") -> int:
        return int(self.entry(name, method).num_failures)

    def errors(self, name: str | None = None, method: str | None = None) -> list[str]:
        """The failure messages Locust recorded (exception repr stripped), optionally for one request."""
        messages = []
        for error in self.env.stats.errors.values():
            if (name is None or error.name == name) and (method is None or error.method == method):
                messages.append(unwrap(StatsError.parse_error(error.error)))
        return sorted(messages)

    def close(self) -> None:
        self.runner.quit()


def unwrap(error: str) -> str:
    """``CatchResponseError('status 404, expected 200')`` -> ``status 404, expected 200``."""
    match = re.fullmatch(r"\w+\((['\"])(.*)\1\)", error, re.DOTALL)
    return match.group(2) if match else error


@pytest.fixture
def harness(target: Target, write_scenario: Callable[..., Path]) -> Iterator[Callable[..., Harness]]:
    """``harness(yaml_text)`` -> a :class:`Harness` for that scenario against the target."""
    made: list[Harness] = []

    def make(text: str, host: str | None = None, **load: Any) -> Harness:
        made.append(Harness(write_scenario(text), host or target.url, **load))
        return made[-1]

    yield make
    for item in made:
        item.close()
