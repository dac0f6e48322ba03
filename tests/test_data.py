"""Test data and shared values at run time: ``data`` feeders through ``feed`` steps, and ``share`` pools.

In-process: the generated users run against the in-process target, which
records what they send (``POST /record/BUCKET``) or echoes it; the tests read
it back and compare exactly. ``unique`` across processes runs the repository's
own ``locustfile.py`` with ``--processes 2`` against the target as a subprocess.
"""

from __future__ import annotations

import json
import logging
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import pytest
from locust.exception import StopUser
from runtime_support import CLIENTS, counts, messages, scenario
from test_cli import free_port, locust, stats

from engine.load import check_file
from engine.steps import run_steps
from engine.templates import Templates, seed_fake

ROOT = Path(__file__).resolve().parent.parent
ROWS = [{"n": 1}, {"n": 2}, {"n": 3}]


def recorded(url: str, bucket: str) -> list[Any]:
    """What was posted to ``/record/BUCKET`` (works in-process too: urllib is gevent's here)."""
    with urllib.request.urlopen(f"{url}/record/{bucket}", timeout=5) as response:
        records: list[Any] = json.loads(response.read())
    return records


def feeding(feeder: dict[str, Any], bucket: str) -> str:
    """One user whose journey takes a row of feeder ``rows`` and records it."""
    return scenario(
        f"""
        - feed: rows
        - post: /record/{bucket}
          name: record
          json: "{{{{ rows }}}}"
        """,
        top=f"data:\n  rows: {json.dumps(feeder)}",
    )


def values(url: str, bucket: str) -> list[int]:
    return [row["n"] for row in recorded(url, bucket)]


# ---------------------------------------------------------------------------------------------------------------
# strategies


def test_sequential_rows_in_order_then_the_user_stops(harness, target):
    bucket = uuid.uuid4().hex
    h = harness(feeding({"rows": ROWS}, bucket))
    first, second = h.user(), h.user()
    h.journey(first, times=2)
    h.journey(second)
    assert values(target.url, bucket) == [1, 2, 3]  # one cursor for every user of the process
    with pytest.raises(StopUser):
        h.journey(first)  # on_exhausted: stop_user (the default)
    with pytest.raises(StopUser):
        h.journey(first)  # and it stays stopped
    assert values(target.url, bucket) == [1, 2, 3]
    assert messages(h) == []
    assert counts(h) == {("POST", "record"): (3, 0)}


def test_random_rows(harness, target):
    bucket = uuid.uuid4().hex
    rows = [{"n": n} for n in range(10)]
    h = harness(feeding({"rows": rows, "strategy": "random", "on_exhausted": "fail"}, bucket))
    h.journey(h.user(), times=40)
    taken = values(target.url, bucket)
    assert len(taken) == 40
    assert set(taken) <= set(range(10))
    assert len(set(taken)) > 3  # random, with replacement, never exhausted
    assert messages(h) == []


def test_shuffle_is_a_permutation_then_recycles_into_a_new_one(harness, target):
    bucket = uuid.uuid4().hex
    rows = [{"n": n} for n in range(8)]
    h = harness(feeding({"rows": rows, "strategy": "shuffle", "on_exhausted": "recycle"}, bucket))
    h.journey(h.user(), times=16)
    taken = values(target.url, bucket)
    assert sorted(taken[:8]) == sorted(taken[8:]) == list(range(8))
    assert messages(h) == []


def test_circular_wraps_around(harness, target):
    bucket = uuid.uuid4().hex
    h = harness(feeding({"rows": ROWS, "strategy": "circular"}, bucket))
    user = h.user()
    h.journey(user, times=4)
    h.journey(h.user(), times=3)
    assert values(target.url, bucket) == [1, 2, 3, 1, 2, 3, 1]


def test_unique_rows_go_to_one_taker_each(harness, target):
    bucket = uuid.uuid4().hex
    h = harness(feeding({"rows": ROWS, "strategy": "unique", "on_exhausted": "fail"}, bucket))
    users = [h.user() for _ in range(3)]
    for user in users:
        h.journey(user)
    assert sorted(values(target.url, bucket)) == [1, 2, 3]
    h.journey(users[0])
    assert counts(h) == {("POST", "record"): (3, 0), ("FEED", "feed (scenario.yaml:10)"): (1, 1)}
    assert messages(h) == ["feeder 'rows' is exhausted (on_exhausted: fail)"]


def test_recycle_starts_over(harness, target):
    bucket = uuid.uuid4().hex
    h = harness(feeding({"rows": ROWS[:2], "on_exhausted": "recycle"}, bucket))
    h.journey(h.user(), times=5)
    assert values(target.url, bucket) == [1, 2, 1, 2, 1]
    assert messages(h) == []


def test_fail_is_a_failed_step_that_ends_the_run(harness, target, caplog):
    bucket = uuid.uuid4().hex
    h = harness(feeding({"rows": ROWS[:1], "on_exhausted": "fail"}, bucket))
    user = h.user()
    with caplog.at_level(logging.WARNING, logger="engine.feeders"):
        h.journey(user, times=3)
    assert values(target.url, bucket) == [1]  # the request after the failed feed is not sent
    assert counts(h) == {("POST", "record"): (1, 0), ("FEED", "feed (scenario.yaml:10)"): (2, 2)}
    assert messages(h) == ["feeder 'rows' is exhausted (on_exhausted: fail)"]
    exhausted = [r.getMessage() for r in caplog.records if r.name == "engine.feeders"]
    assert exhausted == [
        "feeder 'rows' exhausted after 1 row: failing the steps that take from it (on_exhausted: fail)"
    ]


def test_a_new_test_starts_the_rows_over(harness, target):
    bucket = uuid.uuid4().hex
    h = harness(feeding({"rows": ROWS[:2]}, bucket))
    h.journey(h.user(), times=2)
    h.start_test()  # Locust's test_start: a new test in the same process (the web UI's "new test")
    h.journey(h.user(), times=2)
    assert values(target.url, bucket) == [1, 2, 1, 2]


def test_feed_from_as_and_csv_columns(harness, target, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "accounts.csv").write_text("username,password\nann,pw1\nbob,pw2\n", encoding="utf-8")
    h = harness(
        scenario(
            """
            - feed: {from: accounts, as: other}
            - post: /echo
              json: {user: "{{ accounts.username }}", other: "{{ other.username }}", row: "{{ accounts }}"}
              expect:
                json:
                  $.json.user: "{{ accounts.username }}"
                  $.json.row.password: "{{ accounts.password }}"
            """,
            top="data:\n  accounts: {csv: data/accounts.csv, strategy: circular}",
            on_start="""
            - feed: accounts
            - post: /echo
              json: {username: "{{ accounts.username }}", password: "{{ accounts.password }}"}
              save: {sent: $.json}
            """,
        )
    )
    first, second = h.user(), h.user()
    assert first.vars["accounts"] == {"username": "ann", "password": "pw1"}
    assert first.vars["sent"] == {"username": "ann", "password": "pw1"}
    assert second.vars["sent"] == {"username": "bob", "password": "pw2"}
    h.journey(first)  # takes ann again (circular) as `other`; `accounts` is still the user's own row
    assert messages(h) == []
    assert counts(h) == {("POST", "/echo"): (3, 0)}


# ---------------------------------------------------------------------------------------------------------------
# load-time problems


def test_missing_column_unknown_feeder_and_missing_file(tmp_path):
    (tmp_path / "accounts.csv").write_text("username,password\nann,pw1\n", encoding="utf-8")
    path = tmp_path / "feeds.yaml"
    path.write_text(
        """\
version: 1
data:
  accounts: {csv: accounts.csv}
  products: {csv: data/products.csv}
users:
  U:
    journeys:
      j:
        steps:
          - feed: accounts
          - get: /login/{{ accounts.usernme }}
          - feed: {from: accounts, as: acct}
          - get: /x
            params: {p: "{{ acct.pasword }}", q: "{{ acct.zzz }}"}
          - feed: acounts
          - feed: {from: orders, as: o}
""",
        encoding="utf-8",
    )
    assert [str(e) for e in check_file(path)] == [
        f"{path}:4:19: data file 'data/products.csv' not found (relative to the file that declares it)",
        f"{path}:11:18: feeder 'accounts' has no column 'usernme' (did you mean 'username'?)",
        f"{path}:14:25: feeder 'accounts' has no column 'pasword' (did you mean 'password'?)",
        f"{path}:14:50: feeder 'accounts' has no column 'zzz' (its columns: username, password)",
        f"{path}:15:13: unknown feeder 'acounts' (did you mean 'accounts'?)",
        f"{path}:16:13: unknown feeder 'orders' (declare it under data:)",
    ]


def test_a_name_saved_elsewhere_is_not_checked_against_a_feeders_columns(tmp_path):
    path = tmp_path / "columns.yaml"
    path.write_text(
        """\
version: 1
data:
  accounts: {rows: [{username: ann}]}
users:
  A:
    journeys:
      j:
        steps:
          - feed: {from: accounts, as: acct}
          - get: /x/{{ acct.username }}
      k:
        steps:
          - get: /me
            save: {acct: $.account}
          - get: /y/{{ acct.id }}
  B:
    journeys:
      j:
        steps:
          - get: /me
            save: {acct: $.account}
          - get: /y/{{ acct.id }}
""",
        encoding="utf-8",
    )
    assert check_file(path) == []


# ---------------------------------------------------------------------------------------------------------------
# stop_user in a real spawned run


@pytest.mark.slow
def test_stop_user_stops_spawned_users_cleanly(harness, target, caplog):
    bucket = uuid.uuid4().hex
    h = harness(
        scenario(
            f"""
            - feed: rows
            - post: /record/{bucket}
              name: record
              json: "{{{{ rows }}}}"
            """,
            top="data:\n  rows: {rows: [{n: 1}, {n: 2}, {n: 3}, {n: 4}, {n: 5}], strategy: unique}",
            user="wait: 0.2",
        )
    )
    seen = []
    with caplog.at_level(logging.INFO):
        h.runner.start(3, spawn_rate=100)
        for _ in range(500):
            gevent.sleep(0.02)
            seen.append(h.runner.user_count)
            if seen[-1] == 0:
                break
        h.runner.quit()
    assert max(seen) == 3
    assert seen[-1] == 0  # each user stopped at its first take after the rows ran out
    assert sorted(values(target.url, bucket)) == [1, 2, 3, 4, 5]
    assert h.runner.exceptions == {}
    assert messages(h) == []
    assert counts(h) == {("POST", "record"): (5, 0)}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "feeder 'rows' exhausted after 5 rows: stopping users (on_exhausted: stop_user)" in caplog.messages


def test_stop_user_in_on_start(harness, target):
    h = harness(
        scenario(
            "- get: /items",
            top="data:\n  rows: {rows: [{n: 1}]}",
            on_start="- feed: rows",
        )
    )
    first, second = h.user(), h.user()
    assert first.vars["rows"] == {"n": 1}
    h.journey(first)
    with pytest.raises(StopUser):
        h.journey(second)  # no row for its on_start: it stops at its first task
    assert counts(h) == {("GET", "/items"): (1, 0)}


# ---------------------------------------------------------------------------------------------------------------
# shared pools


POOLS = """
version: 1
users:
  Publisher:
    fixed_count: 1
    journeys:
      publish:
        steps:
          - get: /items
            save:
              ids: {{jsonpath: "$[*].id", pick: all, share: {{max: {max}}}}}
              first_name: {{jsonpath: "$[0].name", share: true}}
  Reader:
    journeys:
      read:
        steps:
          - get: /items/{{{{ choice(shared.ids) }}}}
            name: item
            save: {{seen: $.id}}
          - post: /echo
            json:
              ids: "{{{{ shared.ids | list }}}}"
              names: "{{{{ shared.first_name | list }}}}"
              seen: "{{{{ seen }}}}"
            save: {{pools: $.json}}
"""


def test_shared_pools_are_read_by_other_users(harness, target):
    h = harness(POOLS.format(max=4))
    reader, publisher = h.user("Reader"), h.user("Publisher")
    h.journey(reader)
    assert counts(h) == {("GET", "item"): (1, 1)}  # nothing published yet: choice() of an empty pool
    assert messages(h) == ["template error: Cannot choose from an empty sequence"]

    h.journey(publisher)
    pools = h.plan.program.pools
    assert list(pools.ids) == [101, 102, 103]  # a list value adds its items
    assert list(pools.first_name) == ["Laptop"]
    h.journey(publisher)
    assert list(pools.ids) == [103, 101, 102, 103]  # at most max: 4, the oldest dropped
    assert list(pools.first_name) == ["Laptop", "Laptop"]

    programs = {j.journey.name: j for j in reader.persona_program.journeys}
    for _ in range(5):
        scope = dict(reader.vars)
        assert run_steps(programs["read"].steps, reader, scope)
        assert scope["seen"] in {101, 102, 103}
        assert scope["pools"] == {"ids": [103, 101, 102, 103], "names": ["Laptop", "Laptop"], "seen": scope["seen"]}
    assert counts(h) == {("GET", "item"): (6, 1), ("GET", "/items"): (2, 0), ("POST", "/echo"): (5, 0)}


LIST_POOLS = """
- get: /items
  save:
    ids: {jsonpath: "$[*].id", pick: all, share: true}
- post: /echo
  json:
    all: "{{ shared.ids }}"
    first_two: "{{ shared.ids[:2] }}"
    count: "{{ shared.ids | length }}"
    text: "ids {{ shared.ids }}"
  save: {seen: $.json}
"""


@pytest.mark.parametrize("client", CLIENTS)
def test_shared_pools_read_as_lists(harness, client):
    h = harness(scenario(LIST_POOLS, client))
    user = h.user()
    scope = dict(user.vars)
    assert run_steps(user.persona_program.journeys[0].steps, user, scope)
    assert scope["seen"] == {"all": [101, 102, 103], "first_two": [101, 102], "count": 3, "text": "ids [101, 102, 103]"}
    assert h.plan.program.pools.ids == [101, 102, 103]
    assert counts(h) == {("GET", "/items"): (1, 0), ("POST", "/echo"): (1, 0)}


def test_unknown_pool_is_a_load_time_error(tmp_path):
    path = tmp_path / "pools.yaml"
    path.write_text(
        """\
version: 1
users:
  A:
    journeys:
      j:
        steps:
          - get: /items
            save: {ids: {jsonpath: "$[*].id", pick: all, share: true}}
          - get: /items/{{ choice(shared.idz) }}
          - get: /items/{{ shared.orders[0] }}
          - get: /items/{{ choice(shared.ids) }}
""",
        encoding="utf-8",
    )
    assert [str(e) for e in check_file(path)] == [
        f"{path}:9:18: no save shares a pool named 'idz' (did you mean 'ids'?)",
        f"{path}:10:18: no save shares a pool named 'orders' (publish it with share: true on a save)",
    ]


# ---------------------------------------------------------------------------------------------------------------
# unique across processes, through the repository's locustfile


UNIQUE_ROWS = 30


def test_unique_rows_across_processes_with_the_real_locustfile(target_url, tmp_path):
    bucket = uuid.uuid4().hex
    lines = ["username,password", *(f"user{i:02d},pw{i}" for i in range(UNIQUE_ROWS))]
    (tmp_path / "accounts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp_path / "unique.yaml"
    path.write_text(
        f"""\
version: 1
data:
  accounts: {{csv: accounts.csv, strategy: unique}}
users:
  Taker:
    wait: 0.02
    on_start:
      - feed: accounts
      - post: /record/{bucket}
        name: record
        json: {{username: "{{{{ accounts.username }}}}"}}
    journeys:
      idle:
        steps:
          - feed: accounts
          - post: /record/{bucket}
            name: record
            json: {{username: "{{{{ accounts.username }}}}"}}
""",
        encoding="utf-8",
    )
    port = str(free_port())
    args = ["--scenario", str(path), "--processes", "2", "--master-bind-host", "127.0.0.1"]
    args += ["--master-bind-port", port, "--master-port", port]
    args += ["-H", target_url, "--headless", "-u", "4", "-r", "4", "-t", "3s", "--json", "--only-summary"]
    result = locust(args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    used = Counter(record["username"] for record in recorded(target_url, bucket))
    assert sorted(used) == [f"user{i:02d}" for i in range(UNIQUE_ROWS)], result.stderr  # every row used
    assert set(used.values()) == {1}, result.stderr  # none twice, across both worker processes
    assert stats(result)[("POST", "record")] == {"requests": UNIQUE_ROWS, "failures": 0}
    assert "Traceback" not in result.stderr
    assert result.stderr.count(f"feeder 'accounts' exhausted after {UNIQUE_ROWS} rows: stopping users") == 1


# ---------------------------------------------------------------------------------------------------------------
# fake data across processes


FAKE_USERS = 200


@pytest.mark.parametrize("seed", [None, 7])
def test_fake_data_differs_between_processes(target_url, tmp_path, seed):
    """200 users over ``--processes 2`` sign up with ``fake`` e-mails: none twice, seeded or not."""
    bucket = uuid.uuid4().hex
    faker = f"faker: {{seed: {seed}}}\n" if seed is not None else ""
    path = tmp_path / "fake.yaml"
    path.write_text(
        f"""\
version: 1
{faker}users:
  Signup:
    wait: 60
    on_start:
      - post: /record/{bucket}
        name: signup
        json:
          email: "{{{{ fake.user_name() }}}}.{{{{ fake.random_number(digits=9, fix_len=True) }}}}@example.com"
          uuid: "{{{{ fake.uuid4() }}}}"
    journeys:
      idle:
        steps:
          - think: 60
""",
        encoding="utf-8",
    )
    port = str(free_port())
    args = ["--scenario", str(path), "--processes", "2", "--master-bind-host", "127.0.0.1"]
    args += ["--master-bind-port", port, "--master-port", port]
    args += ["-H", target_url, "--headless", "-u", str(FAKE_USERS), "-r", "100", "-t", "8s", "--json", "--only-summary"]
    result = locust(args, cwd=tmp_path, timeout=90)
    assert result.returncode == 0, result.stderr
    records = recorded(target_url, bucket)
    assert len(records) == FAKE_USERS, result.stderr
    assert len({record["email"] for record in records}) == FAKE_USERS  # no e-mail signed up twice
    assert len({record["uuid"] for record in records}) == FAKE_USERS
    assert stats(result)[("POST", "signup")] == {"requests": FAKE_USERS, "failures": 0}
    if seed is not None:  # reproducible: exactly the streams of worker processes 1 and 2 (100 users each)
        expected = set()
        for index in (1, 2):
            templates = Templates(("en_US",), seed)
            templates.uses_fake = True
            scope = templates.builtins()
            seed_fake(scope["fake"], seed, index)
            for _ in range(FAKE_USERS // 2):
                email = f"{scope['fake'].user_name()}.{scope['fake'].random_number(digits=9, fix_len=True)}@example.com"
                expected.add((email, scope["fake"].uuid4()))
        assert {(record["email"], record["uuid"]) for record in records} == expected
