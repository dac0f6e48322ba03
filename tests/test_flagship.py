"""The flagship scenarios against the real demo store, and the one-command demo.

* In-process: every persona of each scenario runs each of its journeys once
  (all personas at the same time, in greenlets), and every declared request
  name must appear in Locust's statistics with zero failures.
* Subprocess: ``locust ... --headless -u 20`` for a few seconds per scenario,
  and ``python -m examples.demo``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from conftest import Harness

from engine.steps import StepProgram
from engine.steps.poll import PollProgram
from engine.steps.request import RequestProgram
from engine.steps.use import UseProgram
from examples.demo_store import DemoStore

ROOT = Path(__file__).resolve().parent.parent
FLAGSHIPS = [ROOT / "scenarios" / "shop.yaml", ROOT / "scenarios" / "inventory.yaml"]


@pytest.fixture(scope="module")
def store() -> Iterator[DemoStore]:
    server = DemoStore(port=0, order_step=0.5).start()
    yield server
    server.stop()


def surely_sent(steps: list[StepProgram]) -> Iterator[RequestProgram]:
    """The requests that every run of ``steps`` sends (not those behind if or choose, nor in loops)."""
    for step in steps:
        if isinstance(step, RequestProgram):
            yield step
        elif isinstance(step, PollProgram):
            yield step.request
        elif isinstance(step, UseProgram):
            yield from surely_sent(step.steps)


def request_names(harness: Harness) -> set[tuple[str, str]]:
    """Every (method, stats name) the scenario surely sends when each journey runs once."""
    program = harness.plan.program
    steps = [*program.setup, *program.teardown]
    for persona in program.personas:
        steps += [*persona.on_start, *persona.on_stop, *(s for j in persona.journeys for s in j.steps)]
    return {(s.method, s.name) for s in surely_sent(steps)}


def run_every_journey(harness: Harness, name: str) -> None:
    user = harness.user(name)
    for journey in user.persona_program.journeys:
        user.run_journey(journey)
    user.on_stop()


@pytest.mark.slow
@pytest.mark.parametrize("path", FLAGSHIPS, ids=lambda p: p.name)
def test_every_journey_of_every_user_passes(store: DemoStore, path: Path) -> None:
    harness = Harness(path, store.url)
    try:
        harness.start_test()  # setup, as before a real run
        greenlets = [gevent.spawn(run_every_journey, harness, name) for name in harness.classes]
        gevent.joinall(greenlets, timeout=60, raise_error=True)
        assert all(g.dead for g in greenlets)
        harness.stop_test()  # teardown: its checks pass
        assert harness.env.process_exit_code is None
        assert harness.errors() == []
        hit = {(e.method, e.name) for e in harness.env.stats.entries.values() if e.num_requests}
        assert request_names(harness) - hit == set()
    finally:
        harness.close()


@pytest.fixture(scope="module")
def store_process() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.demo_store", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip().removeprefix("Demo store listening on ")
    yield url
    process.terminate()
    process.wait(timeout=10)


def json_stats(stdout: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(stdout)
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("path", FLAGSHIPS, ids=lambda p: p.name)
def test_headless_run_has_no_failures(store_process: str, path: Path) -> None:
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"), "--scenario", str(path),
        "-H", store_process, "--headless", "-u", "20", "-r", "10", "-t", "6s", "--json", "--only-summary",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json_stats(result.stdout)
    assert sum(r["num_requests"] for r in rows) > 100
    assert sum(r["num_failures"] for r in rows) == 0


@pytest.mark.slow
def test_one_command_demo(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo", "--seconds", "3", "--users", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    first = result.stdout.splitlines()[0]
    assert first.startswith(
        "Running scenarios/shop.yaml for 3s with 10 users against the demo store at http://127.0.0.1:"
    )
    summary = result.stderr  # Locust writes its summary table to stderr
    assert "Aggregated" in summary
    assert "Register" in summary  # on_start of every shopper: always in a run
    assert "Login" in summary
    url = first.rsplit(" at ", 1)[1].removesuffix(" ...")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/health", timeout=2)  # the store is gone
