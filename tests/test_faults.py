"""Faulty targets are failures, never passes (issue 11 §5), on both clients alike.

Every fault of ``tests/fault_server.py`` on ``client: http`` and ``client: fast``: a
failed request with the same stable message on both, the journey ended after it,
no traceback anywhere; and the two faults that are not faults (a close-delimited
HTTP/1.0 body, a 10 MB JSON) read in full. Every request is bounded by a short
``timeout:``, and the ``locust`` run by a subprocess timeout.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_server import BIG_ITEMS, FaultServer
from runtime_support import CLIENTS, counts, occurrences, scenario

ROOT = Path(__file__).resolve().parent.parent
LOCUST = str(Path(sys.executable).with_name("locust"))

FAILS = {  # fault -> (URL, the step's other keys, the message on both clients)
    "refuses": ("{refused}/refused", "", "connection refused"),
    "resets": ("/reset", "", "connection reset"),
    "closes": ("/closed", "", "connection closed without a response"),
    "hangs": ("/hang", "timeout: 1s", "request timed out after 1s"),
    "answers 5xx": ("/5xx", "", "status 503, status < 400"),
    "sends garbage": ("/garbage", "", "response is not valid HTTP"),
    "truncated JSON, saved": ("/truncated-json", "save: {a: $.a}", "save a: response body is not JSON"),
    "truncated JSON, expected": ("/truncated-json", 'expect: {json: {"$.a": 1}}', "$.a: response body is not JSON"),
    "short body": ("/short", "", "response ended before its Content-Length (10 of 100 bytes)"),
    "slow drip": ("/drip", "timeout: 1s", "request timed out after 1s"),
    "invalid UTF-8": ("/latin", 'expect: {body_contains: "café"}', "body does not contain 'café'"),
    "sends a malformed header": ("/no-colon", "", "response is not valid HTTP"),
    "broken chunking": ("/bad-chunk", "", "response has invalid chunked encoding"),
}


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    server = FaultServer().start()
    yield server
    server.stop()


def assert_no_traceback(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    """Nothing logged with a traceback, nothing printed with one (gevent prints a greenlet's crash)."""
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("fault", list(FAILS))
def test_a_fault_fails_its_step_and_ends_the_journey(harness, faults, caplog, capfd, client, fault) -> None:
    url, extra, message = FAILS[fault]
    caplog.set_level(logging.INFO)
    step = f"- get: {url.format(refused=faults.refused_url)}\n  name: fault\n  {extra}".rstrip()
    h = harness(scenario(f"{step}\n- get: /ok\n  name: after", client, defaults={"timeout": "2s"}), host=faults.url)
    started = time.perf_counter()
    h.journey(h.user())
    assert time.perf_counter() - started < 4.5  # 1 s for the hang and the drip, not their 10 s or forever
    assert occurrences(h) == {("GET", "fault", message): 1}
    assert counts(h) == {("GET", "fault"): (1, 1)}  # the step after it never ran
    assert h.requests("after") == 0
    assert_no_traceback(caplog, capfd)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_close_delimited_body_is_read_in_full(harness, faults, caplog, capfd, client) -> None:
    """HTTP/1.0 without Content-Length: the body ends when the server closes, and all of it is read."""
    caplog.set_level(logging.INFO)
    on_start = """
    - get: /close-delimited
      expect: {json: {"$.last": "end"}}
      save: {rows: $.rows, last: $.last}
    """
    h = harness(scenario("- get: /ok", client, on_start=on_start), host=faults.url)
    user = h.user()
    h.journey(user)
    assert user.vars["last"] == "end"
    assert user.vars["rows"] == ["r" * 1000] * 200
    assert counts(h) == {("GET", "/close-delimited"): (1, 0), ("GET", "/ok"): (1, 0)}
    assert_no_traceback(caplog, capfd)


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
def test_a_10_mb_json_is_read_in_bounded_time_and_memory(harness, faults, caplog, capfd, client) -> None:
    caplog.set_level(logging.INFO)
    on_start = f"""
    - get: /big-json
      timeout: 30s
      expect: {{json: {{"$.last": {BIG_ITEMS - 1}}}}}
      save: {{last: $.last, name: "$.items[{BIG_ITEMS - 1}].name"}}
    """
    h = harness(scenario("- get: /ok", client, on_start=on_start), host=faults.url)
    h.user(start=False)  # the server builds its document once, outside what is measured
    started = time.perf_counter()
    tracemalloc.start()
    try:
        user = h.user()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert user.vars["last"] == BIG_ITEMS - 1
    assert user.vars["name"] == f"item-{BIG_ITEMS - 1:06d}"
    assert counts(h) == {("GET", "/big-json"): (1, 0)}
    assert peak < 200_000_000  # the body and its parsed document once (about 70 MB), no copies of it
    assert elapsed < 30  # a few seconds under tracemalloc on a loaded machine
    assert_no_traceback(caplog, capfd)


@pytest.mark.parametrize("client", CLIENTS)
def test_invalid_utf8_reads_by_the_decoding_rule(harness, faults, client) -> None:
    """Bytes that are not UTF-8 in a body without a charset become U+FFFD; a declared charset decodes them."""
    on_start = """
    - get: /latin
      expect: {body_contains: "ok", body_matches: "^caf\\ufffd ok \\ufffd\\ufffd end$"}
      save: {word: {regex: "(caf.)"}, body: {body: true}}
    - get: /latin-declared
      expect: {body_contains: "café ok"}
      save: {declared: {regex: "(caf.)"}}
    """
    h = harness(scenario("- get: /ok", client, on_start=on_start), host=faults.url)
    user = h.user()
    assert counts(h) == {("GET", "/latin"): (1, 0), ("GET", "/latin-declared"): (1, 0)}
    assert user.vars["word"] == "caf\ufffd"
    assert user.vars["body"] == "caf\ufffd ok \ufffd\ufffd end"
    assert user.vars["declared"] == "café"


@pytest.mark.parametrize("client", CLIENTS)
def test_a_chunk_not_ended_by_crlf_passes_only_on_the_http_client(harness, faults, caplog, capfd, client) -> None:
    """python-requests skips the two bytes after a chunk whatever they are (and reads the body right);
    the fast client's parser is strict."""
    caplog.set_level(logging.INFO)
    h = harness(scenario("- get: /chunk-no-crlf\n  expect: {body_matches: ^ok$}", client), host=faults.url)
    h.journey(h.user())
    if client == "http":
        assert counts(h) == {("GET", "/chunk-no-crlf"): (1, 0)}
    else:
        assert occurrences(h) == {("GET", "/chunk-no-crlf", "response has invalid chunked encoding"): 1}
    assert_no_traceback(caplog, capfd)


def every_fault(refused_url: str) -> str:
    """A scenario of two users, one per client, whose journey meets every fault (and both passes)."""
    users = []
    for client in CLIENTS:
        steps = [f"- get: {path}\n  name: {client} {path}" for path in ("/close-delimited", "/big-json")]
        for fault in sorted(FAILS, key=lambda fault: "timeout" in FAILS[fault][1]):  # the slow ones last
            url, extra, _ = FAILS[fault]
            target = url.format(refused=refused_url)
            steps.append(f"- get: {target}\n  name: {client} {fault}\n  on_failure: continue\n  {extra}".rstrip())
        body = "\n".join(steps).replace("\n", "\n" + " " * 10)
        users.append(f"  {client}:\n    client: {client}\n    wait: {{constant: 0.1}}\n")
        users.append(f"    journeys:\n      all:\n        steps:\n          {body}\n")
    return "version: 1\nname: faults\ndefaults: {timeout: 5s}\nusers:\n" + "".join(users)


@pytest.mark.slow
def test_a_locust_run_over_every_fault_fails_with_exit_code_1(tmp_path: Path) -> None:
    """A real headless run, both clients (one user each) over every fault: no traceback, exit code 1."""
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fault_server.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port, refused = server.stdout.readline().strip(), server.stdout.readline().strip()
        path = tmp_path / "faults.yaml"
        path.write_text(every_fault(f"http://127.0.0.1:{refused}"), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        command = [LOCUST, "-f", str(ROOT / "locustfile.py"), "--scenario", str(path), "-H", f"http://127.0.0.1:{port}"]
        command += ["--headless", "-u", "2", "-r", "2", "-t", "8s", "--only-summary", "--json"]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 1, result.stderr[-3000:]
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    for client in CLIENTS:
        for fault in FAILS:
            row = rows[f"{client} {fault}"]
            assert row["num_failures"] == row["num_requests"] > 0, (client, fault)
        for path in ("/close-delimited", "/big-json"):
            row = rows[f"{client} {path}"]
            assert row["num_requests"] > 0 and row["num_failures"] == 0, (client, path)
    for fault, (_, _, message) in FAILS.items():  # Locust's failure table shows each message
        assert message.replace("'", "") in result.stderr.replace("'", ""), fault
