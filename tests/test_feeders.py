"""Feeders: loading rows (CSV, JSON, inline), every strategy and exhaustion policy, the one-time
warning, and ``unique`` across a real in-process master and workers (Locust runners over ZeroMQ)."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import random
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from engine.errors import Position
from engine.feeders import (
    GIVE_MESSAGE,
    TAKE_MESSAGE,
    Exhausted,
    Feeder,
    FeederError,
    FeederHub,
    FeederUnavailable,
    load_rows,
)
from engine.model import FeederSpec
from engine.source import parse_text

POS = Position("s.yaml", 1, 1)


def csv_spec(path: str = "data.csv", **kw: Any) -> FeederSpec:
    return FeederSpec(name="accounts", source="csv", pos=POS, path=path, **kw)


def json_spec(path: str = "data.json") -> FeederSpec:
    return FeederSpec(name="products", source="json", pos=POS, path=path)


def rows_spec(rows: Any) -> FeederSpec:
    return FeederSpec(name="coupons", source="rows", pos=POS, rows=tuple(rows))


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def load_error(spec: FeederSpec, base: Path) -> str:
    with pytest.raises(FeederError) as info:
        load_rows(spec, base)
    return str(info.value)


def feeder(
    count: int, strategy: str, on_exhausted: str = "stop_user", seed: int | None = None, name: str = "accounts"
) -> Feeder:
    rows = [{"n": str(i)} for i in range(count)]
    rng = random.Random(seed) if seed is not None else None
    return Feeder(name, rows, ("n",), strategy, on_exhausted, rng=rng)


def takes(feed: Feeder, count: int) -> list[int]:
    return [int(feed.take()["n"]) for _ in range(count)]


# --------------------------------------------------------------------------------------------------- CSV


def test_csv_rows_and_columns(tmp_path: Path) -> None:
    write(tmp_path, "data/accounts.csv", "username,password,age\nalice,pw1,30\nbob,pw2,41\n")
    rows, columns = load_rows(csv_spec("data/accounts.csv"), tmp_path)
    assert columns == ("username", "password", "age")
    assert rows == [
        {"username": "alice", "password": "pw1", "age": "30"},
        {"username": "bob", "password": "pw2", "age": "41"},
    ]


def test_csv_quoted_fields_commas_quotes_and_line_breaks(tmp_path: Path) -> None:
    text = 'name,note\r\n"Doe, Jane","said ""hi"""\r\n"multi\nline",x\r\nplain,\r\n'
    write(tmp_path, "q.csv", text)
    rows, _ = load_rows(csv_spec("q.csv"), tmp_path)
    assert rows == [
        {"name": "Doe, Jane", "note": 'said "hi"'},
        {"name": "multi\nline", "note": "x"},
        {"name": "plain", "note": ""},
    ]


def test_csv_with_bom_other_delimiters_blank_lines_and_padded_header(tmp_path: Path) -> None:
    write(tmp_path, "bom.csv", "\ufeffuser;city\n\nada;Zürich\n\n")
    rows, columns = load_rows(csv_spec("bom.csv", delimiter=";"), tmp_path)
    assert columns == ("user", "city")  # no BOM in the first column name
    assert rows == [{"user": "ada", "city": "Zürich"}]

    write(tmp_path, "tab.tsv", " a \t b\n1\t 2 \n")
    rows, columns = load_rows(csv_spec("tab.tsv", delimiter="\t"), tmp_path)
    assert columns == ("a", "b")  # names are stripped, values are not
    assert rows == [{"a": "1", "b": " 2 "}]


def test_paths_are_relative_to_the_scenario(tmp_path: Path) -> None:
    write(tmp_path, "data/a.csv", "x\n1\n")
    scenario = write(tmp_path, "scenario.yaml", "version: 1\n")
    assert load_rows(csv_spec("data/a.csv"), scenario)[0] == [{"x": "1"}]  # the file's folder is used
    assert load_rows(csv_spec("data/a.csv"), tmp_path)[0] == [{"x": "1"}]
    assert load_rows(csv_spec(str(tmp_path / "data/a.csv")), Path("/nowhere"))[0] == [{"x": "1"}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "data file 'd.csv' is empty"),
        ("\n \n", "data file 'd.csv' is empty"),
        ("a,b\n", "data file 'd.csv' has column names but no rows"),
        ("a,b\n\n\n", "data file 'd.csv' has column names but no rows"),
        ("a,b\n1,2\n3\n", "data file 'd.csv', line 3: 1 field, but the header names 2 columns"),
        ("a,b\n1,2,3\n", "data file 'd.csv', line 2: 3 fields, but the header names 2 columns"),
        ('a,b\n"x\ny",1\n1,2,3\n', "data file 'd.csv', line 4: 3 fields, but the header names 2 columns"),
        ("a,b,a\n1,2,3\n", "data file 'd.csv', line 1: column 'a' appears twice (columns 1 and 3)"),
        ("\na, ,c\n1,2,3\n", "data file 'd.csv', line 2: column 2 has no name"),
        ('a\n"x"y\n', "data file 'd.csv', line 2: ',' expected after '\"'"),
        (b"a\n\xff\n", "data file 'd.csv' is not UTF-8 text (byte 3)"),
    ],
)
def test_csv_errors(tmp_path: Path, content: str | bytes, message: str) -> None:
    write(tmp_path, "d.csv", content)
    assert load_error(csv_spec("d.csv"), tmp_path) == message


def test_missing_unreadable_and_folder_files(tmp_path: Path) -> None:
    assert load_error(csv_spec("data/none.csv"), tmp_path) == (
        "data file 'data/none.csv' not found (relative to the file that declares it)"
    )
    absolute = str(tmp_path / "none.json")
    assert load_error(json_spec(absolute), tmp_path) == f"data file '{absolute}' not found"
    (tmp_path / "dir.csv").mkdir()
    assert load_error(csv_spec("dir.csv"), tmp_path) == "data file 'dir.csv' is a folder, not a file"
    assert load_error(FeederSpec(name="x", source="csv", pos=POS), tmp_path) == "no csv file given"
    if os.geteuid() != 0:  # root reads anything
        write(tmp_path, "secret.csv", "a\n1\n").chmod(0)
        assert load_error(csv_spec("secret.csv"), tmp_path) == "cannot read data file 'secret.csv': Permission denied"


def test_bad_delimiter(tmp_path: Path) -> None:
    write(tmp_path, "d.csv", "a\n1\n")
    message = "delimiter must be one character other than a quote or a line break, not "
    assert load_error(csv_spec("d.csv", delimiter=";;"), tmp_path) == message + "';;'"
    assert load_error(csv_spec("d.csv", delimiter='"'), tmp_path) == message + "'\"'"


# --------------------------------------------------------------------------------------------------- JSON


def test_json_rows_keep_types_and_first_key_order(tmp_path: Path) -> None:
    data = '\ufeff[{"id": 1, "name": "Lamp", "tags": ["a"], "price": 9.5},\n'
    data += ' {"price": null, "tags": [], "name": "x", "id": 2}]'
    write(tmp_path, "p.json", data)
    rows, columns = load_rows(json_spec("p.json"), tmp_path)
    assert columns == ("id", "name", "tags", "price")
    assert rows == [
        {"id": 1, "name": "Lamp", "tags": ["a"], "price": 9.5},
        {"id": 2, "name": "x", "tags": [], "price": None},
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"a": 1},', "data file 'p.json' is not valid JSON: Expecting value (line 1, column 11)"),
        ('{"a": 1}', "data file 'p.json' must hold a JSON list of objects, not an object"),
        ('"rows"', "data file 'p.json' must hold a JSON list of objects, not a string"),
        ("[]", "data file 'p.json': no rows (the list is empty)"),
        ('[{"a": 1}, [1]]', "data file 'p.json': item 2 is a list, expected an object"),
        ('[{"a": 1}, 3]', "data file 'p.json': item 2 is a number, expected an object"),
        ('[{"a": 1}, null]', "data file 'p.json': item 2 is null, expected an object"),
        (
            '[{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "c": 3, "d": 4}]',
            "data file 'p.json': item 3 has other keys than item 1 (missing 'b'; extra 'c', 'd'): "
            "every item needs the same keys",
        ),
        (
            '[{"a": 1}, {}]',
            "data file 'p.json': item 2 has other keys than item 1 (missing 'a'): every item needs the same keys",
        ),
        ('[{"a": 1, "a": 2}]', "data file 'p.json': duplicate key 'a'"),
        ('[{"": 1}]', "data file 'p.json': item 1: column 1 has no name"),
        ("[{}]", "data file 'p.json': item 1: no columns"),
    ],
)
def test_json_errors(tmp_path: Path, content: str, message: str) -> None:
    write(tmp_path, "p.json", content)
    assert load_error(json_spec("p.json"), tmp_path) == message


# --------------------------------------------------------------------------------------------------- inline rows


def test_inline_rows_from_yaml_are_plain_data(tmp_path: Path) -> None:
    data = parse_text("rows: [{code: A1, n: 1, extra: {deep: [1, 2]}}, {n: 2, code: B2, extra: {}}]\n", "s.yaml")
    rows, columns = load_rows(rows_spec(data["rows"]), tmp_path)
    assert columns == ("code", "n", "extra")
    assert rows == [{"code": "A1", "n": 1, "extra": {"deep": [1, 2]}}, {"code": "B2", "n": 2, "extra": {}}]
    assert type(rows[0]) is dict and type(rows[0]["extra"]) is dict and type(rows[0]["extra"]["deep"]) is list


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "rows: no rows (the list is empty)"),
        ([{"a": 1}, "b"], "rows: row 2 is a string, expected a mapping"),
        ([{"a": 1}, True], "rows: row 2 is a boolean, expected a mapping"),
        ([{1: "x"}], "rows: row 1: column name 1 is not a string"),
        (
            [{"a": 1}, {"b": 1}],
            "rows: row 2 has other keys than row 1 (missing 'a'; extra 'b'): every row needs the same keys",
        ),
    ],
)
def test_inline_row_errors(tmp_path: Path, rows: list[Any], message: str) -> None:
    assert load_error(rows_spec(rows), tmp_path) == message


# --------------------------------------------------------------------------------------------------- strategies


def test_sequential_in_order_then_stop_user() -> None:
    feed = feeder(3, "sequential")
    assert takes(feed, 3) == [0, 1, 2]
    for _ in range(2):  # stays exhausted
        with pytest.raises(Exhausted) as info:
            feed.take()
        assert info.value.feeder == "accounts"
        assert info.value.policy == "stop_user"


def test_sequential_fail_and_recycle() -> None:
    feed = feeder(2, "sequential", "fail")
    assert takes(feed, 2) == [0, 1]
    with pytest.raises(Exhausted) as info:
        feed.take()
    assert info.value.policy == "fail"
    assert takes(feeder(3, "sequential", "recycle"), 8) == [0, 1, 2, 0, 1, 2, 0, 1]


def test_random_stays_within_rows_and_is_never_exhausted() -> None:
    feed = feeder(5, "random", seed=1)
    taken = takes(feed, 500)
    assert set(taken) == set(range(5))  # every row shows up, nothing else does
    assert taken[:20] != sorted(taken[:20])
    assert takes(feeder(5, "random", seed=7), 50) == takes(feeder(5, "random", seed=7), 50)


def test_shuffle_is_a_permutation_then_exhausted() -> None:
    feed = feeder(20, "shuffle", seed=3)
    first = takes(feed, 20)
    assert sorted(first) == list(range(20))
    assert first != list(range(20))
    with pytest.raises(Exhausted):
        feed.take()


def test_shuffle_recycle_reshuffles() -> None:
    feed = feeder(20, "shuffle", "recycle", seed=5)
    rounds = [takes(feed, 20) for _ in range(3)]
    assert all(sorted(r) == list(range(20)) for r in rounds)
    assert rounds[0] != rounds[1] != rounds[2]


def test_circular_wraps_and_ignores_on_exhausted() -> None:
    for policy in ("stop_user", "fail", "recycle"):
        assert takes(feeder(3, "circular", policy), 7) == [0, 1, 2, 0, 1, 2, 0]


def test_unique_in_one_process() -> None:
    feed = feeder(3, "unique")
    assert takes(feed, 3) == [0, 1, 2]
    with pytest.raises(Exhausted):
        feed.take()
    assert takes(feeder(2, "unique", "recycle"), 5) == [0, 1, 0, 1, 0]


def test_taken_rows_are_copies() -> None:
    feed = feeder(1, "circular")
    feed.take()["n"] = "changed"
    assert feed.take() == {"n": "0"}


def test_reset_starts_over() -> None:
    feed = feeder(2, "sequential")
    takes(feed, 2)
    with pytest.raises(Exhausted):
        feed.take()
    feed.reset()
    assert takes(feed, 2) == [0, 1]


def test_feeder_arguments_are_checked() -> None:
    with pytest.raises(FeederError, match="unknown strategy 'ordered' "):
        feeder(1, "ordered")
    with pytest.raises(FeederError, match="unknown on_exhausted 'stop' "):
        feeder(1, "sequential", "stop")
    with pytest.raises(FeederError, match="feeder 'accounts' has no rows"):
        feeder(0, "sequential")


def test_exhausted_message_is_stable_and_picklable() -> None:
    error = Exhausted("accounts", "fail")
    assert str(error) == "feeder 'accounts' is exhausted (on_exhausted: fail)"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.feeder, copy.policy, str(copy)) == ("accounts", "fail", str(error))
    assert issubclass(FeederUnavailable, FeederError) and issubclass(FeederError, ValueError)


@pytest.mark.parametrize(
    ("strategy", "policy", "action"),
    [
        ("sequential", "stop_user", "stopping users"),
        ("shuffle", "fail", "failing the steps that take from it"),
        ("unique", "recycle", "starting over"),
    ],
)
def test_exhaustion_is_logged_once_per_feeder(
    caplog: pytest.LogCaptureFixture, strategy: str, policy: str, action: str
) -> None:
    feed = feeder(4, strategy, policy)
    other = Feeder("other", [{"n": "0"}], ("n",), strategy, policy)
    with caplog.at_level(logging.INFO, logger="engine.feeders"):
        for _ in range(15):
            for item in (feed, other):
                with contextlib.suppress(Exhausted):
                    item.take()
    warnings = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert warnings == [
        (logging.WARNING, f"feeder 'other' exhausted after 1 row: {action} (on_exhausted: {policy})"),
        (logging.WARNING, f"feeder 'accounts' exhausted after 4 rows: {action} (on_exhausted: {policy})"),
    ]


def test_hub_keys_are_feeder_names() -> None:
    with pytest.raises(FeederError, match="feeder 'accounts' is registered as 'users': use its name"):
        FeederHub({"users": feeder(1, "unique")})


def test_hub_is_local_until_attached_and_resets_on_test_start() -> None:
    hub = FeederHub({"accounts": feeder(2, "unique")})
    assert hub.role == "local"
    assert [hub.take("accounts")["n"] for _ in range(2)] == ["0", "1"]
    env = Environment(user_classes=[])
    env.create_local_runner()
    hub.attach(env)
    hub.attach(env)  # again: no second registration
    assert hub.role == "local"
    with pytest.raises(Exhausted):
        hub.take("accounts")
    env.events.test_start.fire(environment=env)  # a new test (e.g. from the web UI) starts over
    assert hub.take("accounts") == {"n": "0"}


# --------------------------------------------------------------------------------------------------- distributed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Cluster = Callable[..., tuple[MasterRunner, list[WorkerRunner]]]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """``cluster(master_hub, *worker_hubs)``: a real master and workers in this process (hub None: not attached)."""
    runners: list[Any] = []

    def make(master_hub: FeederHub | None, *worker_hubs: FeederHub) -> tuple[MasterRunner, list[WorkerRunner]]:
        port = free_port()
        master_env = Environment(user_classes=[])
        master = master_env.create_master_runner("127.0.0.1", port)
        runners.append(master)
        if master_hub is not None:
            master_hub.attach(master_env)
        workers = []
        for hub in worker_hubs:
            env = Environment(user_classes=[])
            worker = env.create_worker_runner("127.0.0.1", port)
            runners.append(worker)
            hub.attach(env)
            workers.append(worker)
        return master, workers

    yield make
    for runner in reversed(runners):
        runner.quit()


def drain(hub: FeederHub, name: str, limit: int) -> list[int]:
    """Take from a worker's hub until Exhausted (or ``limit`` rows), yielding between takes."""
    taken: list[int] = []
    while len(taken) < limit:
        try:
            taken.append(int(hub.take(name)["n"]))
        except Exhausted:
            break
        gevent.sleep(0)
    return taken


def hub_of(count: int, policy: str = "stop_user", timeout: float = 5) -> FeederHub:
    return FeederHub(
        {"accounts": feeder(count, "unique", policy), "local": feeder(count, "sequential", name="local")},
        timeout=timeout,
    )


@pytest.mark.slow
def test_unique_rows_are_served_by_the_master(cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    master_hub, workers_hubs = hub_of(30), [hub_of(30), hub_of(30)]
    cluster(master_hub, *workers_hubs)
    assert (master_hub.role, workers_hubs[0].role) == ("master", "worker")
    with caplog.at_level(logging.INFO, logger="engine.feeders"):
        jobs = [gevent.spawn(drain, hub, "accounts", 100) for hub in workers_hubs for _ in range(3)]
        gevent.joinall(jobs, timeout=20, raise_error=True)
    per_greenlet = [job.value for job in jobs]
    everything = [n for taken in per_greenlet for n in taken]
    assert sorted(everything) == list(range(30))  # each row exactly once, across both workers
    assert all(per_greenlet[:3]) and all(per_greenlet[3:])  # every taker got some
    # sequential feeders stay per process
    assert drain(workers_hubs[0], "local", 100) == drain(workers_hubs[1], "local", 100) == list(range(30))
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if "'accounts'" in r.getMessage()]
    master_warning = "feeder 'accounts' exhausted after 30 rows: stopping users (on_exhausted: stop_user)"
    worker_note = "feeder 'accounts' exhausted (reported by the master): stopping users (on_exhausted: stop_user)"
    assert sorted(messages) == [(logging.INFO, worker_note)] * 2 + [(logging.WARNING, master_warning)]
    # a worker that knows its feeder is exhausted does not ask again
    sent = []
    workers_hubs[0]._runner.send_message = lambda *a, **k: sent.append(a)
    with pytest.raises(Exhausted):
        workers_hubs[0].take("accounts")
    assert sent == []


@pytest.mark.slow
def test_unique_recycle_wraps_on_the_master(cluster: Cluster) -> None:
    master_hub, worker_hubs = hub_of(5, "recycle"), [hub_of(5, "recycle"), hub_of(5, "recycle")]
    cluster(master_hub, *worker_hubs)
    jobs = [gevent.spawn(drain, hub, "accounts", 8) for hub in worker_hubs]
    gevent.joinall(jobs, timeout=20, raise_error=True)
    counts = Counter(n for job in jobs for n in job.value)
    assert sorted(counts) == list(range(5))
    assert sorted(counts.values()) == [3, 3, 3, 3, 4]  # 16 takes over 5 rows: the master's cursor wrapped


@pytest.mark.slow
def test_a_new_test_restarts_the_masters_cursor(cluster: Cluster) -> None:
    master_hub, worker_hub = hub_of(2), hub_of(2)
    master, (worker,) = cluster(master_hub, worker_hub)
    assert drain(worker_hub, "accounts", 10) == [0, 1]
    master.environment.events.test_start.fire(environment=master.environment)
    worker.environment.events.test_start.fire(environment=worker.environment)
    assert drain(worker_hub, "accounts", 10) == [0, 1]


@pytest.mark.slow
def test_worker_without_answer_times_out(cluster: Cluster) -> None:
    worker_hub = hub_of(3, timeout=0.3)
    cluster(None, worker_hub)  # the master has no feeder hub: it never answers
    with pytest.raises(FeederUnavailable) as info:
        worker_hub.take("accounts")
    assert str(info.value) == (
        "feeder 'accounts': no answer from the master within 0.3s (does the master run the same scenario?)"
    )
    assert worker_hub._pending == {}


@pytest.mark.slow
def test_worker_with_other_data_or_feeders_fails_clearly(cluster: Cluster) -> None:
    master_hub = FeederHub({"accounts": feeder(3, "unique"), "plain": feeder(3, "sequential", name="plain")})
    other_rows, unknown = (
        hub_of(4),
        FeederHub({"coupons": feeder(3, "unique", name="coupons"), "plain": feeder(3, "unique", name="plain")}),
    )
    cluster(master_hub, other_rows, unknown)
    with pytest.raises(FeederUnavailable) as info:
        other_rows.take("accounts")
    assert str(info.value) == (
        "feeder 'accounts' has 3 rows on the master but 4 on this worker: give every worker the same data files"
    )
    for name in ("coupons", "plain"):
        with pytest.raises(FeederUnavailable) as info:
            unknown.take(name)
        assert str(info.value) == (
            f"feeder '{name}': the master has no unique feeder '{name}' (does it run the same scenario?)"
        )


@pytest.mark.slow
def test_two_hubs_cannot_share_a_runner(cluster: Cluster) -> None:
    hub = hub_of(1)
    master, _ = cluster(hub)
    assert master.custom_messages[TAKE_MESSAGE][0] == hub._serve
    with pytest.raises(FeederError, match=f"another feeder hub already handles '{TAKE_MESSAGE}' messages"):
        hub_of(1).attach(master.environment)
    assert GIVE_MESSAGE not in master.custom_messages
