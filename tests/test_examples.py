"""Every example runs against the real demo store with zero failures.

For each ``examples/*.yaml``: setup (Locust's test_start), then every journey of
every user once — all users at the same time, in greenlets — and their on_stop,
then teardown (test_stop). Locust's statistics must hold requests and no
failure, and neither setup nor teardown may have set an exit code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from conftest import Harness

from examples.demo_store import DemoStore

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
# Environment variables an example reads with env(), pointed at the store (SHOP_URL for every example).
STORE_URL_VARS = {"services_and_environments.yaml": ("INVENTORY_URL",)}


@pytest.fixture(scope="module")
def store() -> Iterator[DemoStore]:
    server = DemoStore(port=0, order_step=0.2).start()  # orders are DELIVERED after 0.6 s
    yield server
    server.stop()


def run_every_journey(harness: Harness, name: str) -> None:
    user = harness.user(name)
    for journey in user.persona_program.journeys:
        user.run_journey(journey)
    user.on_stop()


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_without_failures(store: DemoStore, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHOP_URL", *STORE_URL_VARS.get(path.name, ())):
        monkeypatch.setenv(name, store.url)
    harness = Harness(path, store.url)
    try:
        harness.start_test()  # setup, as before a real run
        greenlets = [gevent.spawn(run_every_journey, harness, name) for name in harness.classes]
        gevent.joinall(greenlets, timeout=30, raise_error=True)
        assert all(g.dead for g in greenlets), "a journey did not finish within 30 s"
        harness.stop_test()  # teardown
        assert harness.errors() == []
        assert harness.env.process_exit_code is None
        assert harness.env.stats.total.num_requests > 0
    finally:
        harness.close()
