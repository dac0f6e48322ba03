"""``setup`` and ``teardown``: once per test, before the users and after the load.

In-process through Locust's own ``test_start``/``test_stop`` events (the
harness's ``start_test``/``stop_test``), and in real ``locust --headless`` runs
(one of them with ``--processes 2``) against the target as a subprocess, where
the exit code, the log and the ``--json`` statistics are checked.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import gevent
from runtime_support import counts, messages
from test_cli import free_port, locust, stats

from engine.lifecycle import EXIT_LIFECYCLE_FAILED

ROOT = Path(__file__).resolve().parent.parent

SETUP = """
version: 1
setup:
  - post: /login
    name: setup login
    json: {username: admin, password: secret}
    save: {admin_token: $.token, admin_id: $.user.id}
  - get: /items
    name: setup items
    save: {item_ids: {jsonpath: "$[*].id", pick: all}}
users:
  Buyer:
    on_start:
      - headers: {Authorization: "Bearer {{ admin_token }}"}
      - get: /me
        save: {me: $.id}
    journeys:
      buy:
        steps:
          - post: /echo
            json: {item: "{{ choice(item_ids) }}", admin: "{{ admin_id }}"}
            expect:
              json:
                $.json.item: {in: "{{ item_ids }}"}
                $.json.admin: "{{ admin_id }}"
  Watcher:
    journeys:
      watch:
        steps:
          - get: /items/{{ item_ids[0] }}
"""


def test_setup_values_are_visible_to_every_user(harness, caplog):
    h = harness(SETUP)
    with caplog.at_level(logging.INFO):
        h.start_test()
    program = h.plan.program
    assert program.setup_names == ["admin_id", "admin_token", "item_ids"]
    admin_id = program.setup_values["admin_id"]
    assert program.setup_values == {
        "admin_token": f"tok-{admin_id}-admin",
        "admin_id": admin_id,
        "item_ids": [101, 102, 103],
    }
    buyer, watcher = h.user("Buyer"), h.user("Watcher")
    assert buyer.vars["me"] == admin_id  # on_start used the setup's token
    assert watcher.vars["item_ids"] == [101, 102, 103]
    h.journey(buyer, times=3)
    h.journey(watcher)
    assert messages(h) == []
    assert counts(h) == {
        ("POST", "setup login"): (1, 0),  # once, not once per user
        ("GET", "setup items"): (1, 0),
        ("GET", "/me"): (1, 0),
        ("POST", "/echo"): (3, 0),
        ("GET", "/items/{item_ids[0]}"): (1, 0),
    }
    assert h.env.process_exit_code is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_setup_failure_stops_the_test(harness, caplog):
    h = harness(
        """
        version: 1
        setup:
          - get: /items
            name: setup items
            save: {ids: {jsonpath: "$[*].id", pick: all}}
          - get: /status/503
            name: setup health
          - get: /never
        teardown:
          - get: /items/{{ ids[0] }}
            name: teardown
        journeys:
          J:
            steps:
              - get: /items/{{ ids[0] }}
        """
    )
    with caplog.at_level(logging.INFO, logger="engine.lifecycle"):
        h.runner.start(2, spawn_rate=100)  # test_start -> setup, then the runner quits
        for _ in range(500):
            gevent.sleep(0.02)
            if h.runner.state == "stopped":
                break
    assert h.runner.state == "stopped"
    assert h.runner.user_count == 0
    assert h.env.process_exit_code == EXIT_LIFECYCLE_FAILED == 3
    assert h.plan.program.setup_values == {}  # nothing half-done reaches users
    # no user ran on the missing values, and teardown did not run on them either
    assert counts(h) == {("GET", "setup items"): (1, 0), ("GET", "setup health"): (1, 1)}
    assert messages(h) == ["status 503, status < 400"]
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "engine.lifecycle"] == [
        ("ERROR", "setup failed: the test is stopped (see the failures in the statistics)"),
        ("INFO", "teardown skipped: setup failed"),
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name != "engine.lifecycle"]


TEARDOWN = """
version: 1
setup:
  - post: /login
    json: {{username: keeper, password: secret}}
    save: {{token: $.token}}
teardown:
  - get: /record/{bucket}
    name: teardown check
    expect:
      json:
        $: {{length: {expected}}}
        $[0].by: "{{{{ token }}}}"
journeys:
  J:
    wait: 0.05
    steps:
      - post: /record/{bucket}
        name: work
        json: {{by: "{{{{ token }}}}"}}
"""


def test_teardown_runs_after_the_load_with_setup_values(harness, caplog):
    bucket = uuid.uuid4().hex
    passing = harness(TEARDOWN.format(bucket=bucket, expected=2))
    passing.start_test()
    user = passing.user()
    passing.journey(user, times=2)
    with caplog.at_level(logging.INFO, logger="engine.lifecycle"):
        passing.stop_test()
    assert passing.env.process_exit_code is None
    assert messages(passing) == []
    assert counts(passing)[("GET", "teardown check")] == (1, 0)
    assert [r.getMessage() for r in caplog.records if r.name == "engine.lifecycle"] == ["teardown passed"]

    caplog.clear()
    failing = harness(TEARDOWN.format(bucket=bucket, expected=3))
    failing.start_test()
    with caplog.at_level(logging.INFO, logger="engine.lifecycle"):
        failing.stop_test()
    assert failing.env.process_exit_code == EXIT_LIFECYCLE_FAILED
    assert counts(failing) == {("POST", "/login"): (1, 0), ("GET", "teardown check"): (1, 1)}
    # the records are the other test's, posted with another setup's token
    assert messages(failing) == ["$: expected length 3; $[0].by: expected == {{ token }}"]
    assert [r.getMessage() for r in caplog.records if r.name == "engine.lifecycle"] == [
        "teardown failed: see the failures in the statistics; exit code 3"
    ]


# ---------------------------------------------------------------------------------------------------------------
# real locust runs


def recorded(url: str, bucket: str) -> list[Any]:
    with urllib.request.urlopen(f"{url}/record/{bucket}", timeout=5) as response:
        records: list[Any] = json.loads(response.read())
    return records


def run(path: Path, url: str, *extra: str, seconds: int = 1, users: int = 2) -> subprocess.CompletedProcess[str]:
    args = ["--scenario", str(path), "-H", url, "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s"]
    return locust([*args, "--json", "--only-summary", *extra], cwd=path.parent)


def test_setup_failure_in_a_real_run(target_url, tmp_path):
    path = tmp_path / "setup.yaml"
    path.write_text(
        """\
version: 1
setup:
  - get: /items
    save: {ids: {jsonpath: "$[*].id", pick: all}}
  - get: /status/500
    name: setup check
teardown:
  - get: /items/{{ ids[0] }}
    name: teardown
journeys:
  J:
    steps:
      - get: /items/{{ ids[0] }}
""",
        encoding="utf-8",
    )
    started = time.monotonic()
    result = run(path, target_url, seconds=30, users=20)
    assert time.monotonic() - started < 20  # stopped at once, not after -t 30s
    assert result.returncode == 3, result.stderr
    assert "ERROR/engine.lifecycle: setup failed: the test is stopped (see the failures in the statistics)" in (
        result.stderr
    )
    assert "INFO/engine.lifecycle: teardown skipped: setup failed" in result.stderr
    assert "Traceback" not in result.stderr
    # no user was spawned to run on the values setup never saved, and teardown did not run on them either
    assert stats(result) == {
        ("GET", "/items"): {"requests": 1, "failures": 0},
        ("GET", "setup check"): {"requests": 1, "failures": 1},
    }


def test_teardown_in_real_runs(target_url, tmp_path):
    bucket = uuid.uuid4().hex
    path = tmp_path / "teardown.yaml"
    path.write_text(
        TEARDOWN.format(bucket=bucket, expected=0).replace("$: {length: 0}", "$: {min_length: 1}"),
        encoding="utf-8",
    )
    result = run(path, target_url)
    assert result.returncode == 0, result.stderr
    assert "teardown passed" in result.stderr
    rows = stats(result)
    assert rows[("GET", "teardown check")] == {"requests": 1, "failures": 0}
    sent, received = rows[("POST", "work")]["requests"], len(recorded(target_url, bucket))
    assert 0 < sent <= received <= sent + 2  # a user stopped mid-request was recorded but never reported

    bucket = uuid.uuid4().hex
    path.write_text(TEARDOWN.format(bucket=bucket, expected=0), encoding="utf-8")
    result = run(path, target_url)
    assert result.returncode == 3, result.stderr
    assert "teardown failed: see the failures in the statistics; exit code 3" in result.stderr
    rows = stats(result)
    assert rows[("GET", "teardown check")] == {"requests": 1, "failures": 1}
    assert rows[("POST", "work")]["failures"] == 0
    assert "1                  GET teardown check: $: expected length 0    " in result.stderr  # the error table


def test_setup_runs_once_with_processes_and_reaches_the_workers(target_url, tmp_path):
    bucket = uuid.uuid4().hex
    path = tmp_path / "distributed.yaml"
    path.write_text(
        f"""\
version: 1
setup:
  - post: /record/{bucket}-setup
    name: setup record
    json: {{pid: setup}}
    save: {{setup_count: $.count}}
  - post: /login
    name: setup login
    json: {{username: distributed, password: secret}}
    save: {{token: $.token}}
users:
  U:
    wait: 0.1
    on_start:
      - post: /record/{bucket}-users
        name: user record
        json: {{token: "{{{{ token }}}}", setup_count: "{{{{ setup_count }}}}"}}
    journeys:
      j:
        steps:
          - get: /me
            headers: {{Authorization: "Bearer {{{{ token }}}}"}}
            expect: {{status: 200}}
""",
        encoding="utf-8",
    )
    port = str(free_port())
    ports = ["--processes", "2", "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-port", port]
    args = ["--scenario", str(path), "-H", target_url, "--headless", "-u", "4", "-r", "4", "-t", "2s"]
    result = locust([*args, "--json", "--only-summary", *ports], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert recorded(target_url, f"{bucket}-setup") == [{"pid": "setup"}]  # once, on the master
    users = recorded(target_url, f"{bucket}-users")
    assert len(users) == 4
    (token,) = {user["token"] for user in users}
    assert token.startswith("tok-") and token.endswith("-distributed")
    assert {user["setup_count"] for user in users} == {1}
    rows = stats(result)
    assert rows[("POST", "setup record")] == {"requests": 1, "failures": 0}
    assert rows[("POST", "setup login")] == {"requests": 1, "failures": 0}
    assert rows[("GET", "/me")]["requests"] > 0
    assert rows[("GET", "/me")]["failures"] == 0
