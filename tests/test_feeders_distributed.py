"""``unique`` feeders across real Locust processes: ``--processes 2``, and ``--master`` with two ``--worker``s.

A small hand-written locustfile (written into the test's temp dir) builds a
FeederHub with one ``unique`` feeder over a CSV file and attaches it in
``events.init``; its users take rows until Exhausted and POST every row they
took to the target API (a subprocess on 127.0.0.1), which the test reads back.
Every run is headless, a few seconds long, and bounded by timeouts.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCUST = str(Path(sys.executable).with_name("locust"))
ROWS = 40

LOCUSTFILE = """\
import os
from pathlib import Path

from locust import HttpUser, constant, events, task
from locust.exception import StopUser

from engine.errors import Position
from engine.feeders import Exhausted, Feeder, FeederHub, load_rows
from engine.model import FeederSpec

SPEC = FeederSpec(
    name="accounts",
    source="csv",
    pos=Position("locustfile.py", 1, 1),
    path="accounts.csv",
    strategy="unique",
    on_exhausted=os.environ["FEED_POLICY"],
)
rows, columns = load_rows(SPEC, Path(__file__).parent)
hub = FeederHub({"accounts": Feeder("accounts", rows, columns, SPEC.strategy, SPEC.on_exhausted)})


@events.init.add_listener
def attach_feeders(environment, **_kwargs):
    hub.attach(environment)


class Taker(HttpUser):
    wait_time = constant(0.05)

    @task
    def take(self):
        try:
            row = hub.take("accounts")
        except Exhausted:
            raise StopUser()
        body = {"username": row["username"], "pid": os.getpid()}
        self.client.post("/record/" + os.environ["FEED_BUCKET"], json=body, name="/record")
"""


@pytest.fixture
def locustfile(tmp_path: Path) -> Path:
    lines = ["username,password", *(f"user{i:02d},pw{i}" for i in range(ROWS))]
    (tmp_path / "accounts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp_path / "feeding.py"
    path.write_text(LOCUSTFILE, encoding="utf-8")
    return path


def environment(policy: str, bucket: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env.update(PYTHONPATH=str(ROOT), FEED_POLICY=policy, FEED_BUCKET=bucket)
    return env


def headless(url: str) -> list[str]:
    return ["-H", url, "--headless", "-u", "4", "-r", "4", "-t", "2s", "--only-summary"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def recorded(url: str, bucket: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/record/{bucket}", timeout=5) as response:
        records: list[dict[str, Any]] = json.loads(response.read())
    return records


def check(records: list[dict[str, Any]], policy: str, log: str) -> None:
    """Every row once (stop_user) or rows repeated (recycle); both worker processes took rows."""
    counts = Counter(r["username"] for r in records)
    assert sorted(counts) == [f"user{i:02d}" for i in range(ROWS)], log
    assert len({r["pid"] for r in records}) == 2, log  # both workers took rows
    if policy == "stop_user":
        assert set(counts.values()) == {1}, log  # each row exactly once across the whole test
        assert log.count(f"feeder 'accounts' exhausted after {ROWS} rows: stopping users") == 1, log
        assert log.count("feeder 'accounts' exhausted (reported by the master): stopping users") == 2, log
    else:
        assert len(records) > ROWS and max(counts.values()) >= 2, log
        assert log.count(f"feeder 'accounts' exhausted after {ROWS} rows: starting over") == 1, log
    assert "Traceback" not in log, log


@pytest.mark.parametrize("policy", ["stop_user", "recycle"])
def test_unique_rows_across_processes(target_url: str, locustfile: Path, tmp_path: Path, policy: str) -> None:
    bucket, port = uuid.uuid4().hex, str(free_port())
    # a free port, not Locust's default 5557: children of another run must never join this master
    ports = ["--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-port", port]
    result = subprocess.run(
        [LOCUST, "-f", str(locustfile), "--processes", "2", *ports, *headless(target_url)],
        cwd=tmp_path,
        env=environment(policy, bucket),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    check(recorded(target_url, bucket), policy, result.stderr)


@pytest.mark.parametrize("policy", ["stop_user", "recycle"])
def test_unique_rows_across_master_and_workers(target_url: str, locustfile: Path, tmp_path: Path, policy: str) -> None:
    bucket, port = uuid.uuid4().hex, str(free_port())
    env = environment(policy, bucket)
    worker_command = [LOCUST, "-f", str(locustfile), "--worker", "--master-host", "127.0.0.1", "--master-port", port]
    workers = [
        subprocess.Popen(
            worker_command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    worker_logs = []
    try:
        master = subprocess.run(
            [
                LOCUST, "-f", str(locustfile), "--master", "--master-bind-host", "127.0.0.1",
                "--master-bind-port", port, "--expect-workers", "2", "--expect-workers-max-wait", "20",
                *headless(target_url),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    finally:
        for worker in workers:
            try:
                worker_logs.append(worker.communicate(timeout=20)[1])
            except subprocess.TimeoutExpired:
                worker.kill()
                worker_logs.append(worker.communicate()[1])
    log = "\n".join([master.stderr, *worker_logs])
    assert master.returncode == 0, log
    assert all(worker.returncode == 0 for worker in workers), log
    check(recorded(target_url, bucket), policy, log)
