"""Failures that explain themselves: the first failure of each kind logs its request and response."""

from __future__ import annotations

import logging
import re

import pytest
from runtime_support import CLIENTS, messages, occurrences, scenario
from test_cli import headless, locust, stats

from engine import diagnose

DEAD_HOST = "http://127.0.0.1:1"
SIGNUP = """
- post: /signup?plan=pro&api_key=k3y-in-query
  name: sign up
  json: {name: ann}
  headers: {Authorization: "Bearer s3cr3t-token", X-Api-Key: k3y-in-header, Cookie: "sid=c00kie; theme=dark"}
  expect: {status: [200, 201]}
"""
SECRETS = ("s3cr3t-token", "k3y-in-query", "k3y-in-header", "c00kie")


@pytest.fixture(autouse=True)
def fresh() -> None:
    diagnose.reset()  # counts are per process: each test starts as a new process would


def diagnosed(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "engine.diagnose"]


@pytest.mark.parametrize("client", CLIENTS)
def test_the_first_failure_logs_the_server_reason_with_secrets_masked(harness, target, client, caplog):
    h = harness(scenario(SIGNUP, client))
    with caplog.at_level(logging.INFO, logger="engine.diagnose"):
        h.journey(h.user(), times=2)
    records = diagnosed(caplog)
    assert [r.levelno for r in records] == [logging.WARNING]  # two failures, one warning
    text = records[0].getMessage()
    assert text.startswith("failed POST sign up: status 422, expected 200, 201 (first occurrence;"), text
    assert f"request: POST {target.url}/signup?plan=pro&api_key=***\n" in text
    assert "Authorization: Bearer ***" in text
    assert "X-Api-Key: ***" in text
    assert "Cookie: sid=***; theme=***" in text
    assert "Content-Type: application/json" in text  # the request's
    assert "response: 422, application/json" in text
    assert '{"error":"email is required","field":"email"}' in text  # the server's reason
    for value in SECRETS:
        assert value not in text
    # Locust's table: the same stable message, counted twice
    assert messages(h) == ["status 422, expected 200, 201"]
    assert occurrences(h) == {("POST", "sign up", "status 422, expected 200, 201"): 2}


@pytest.mark.parametrize("client", CLIENTS)
def test_debug_logs_every_occurrence(harness, client, caplog):
    h = harness(scenario(SIGNUP, client))
    with caplog.at_level(logging.DEBUG, logger="engine.diagnose"):
        h.journey(h.user(), times=3)
    records = diagnosed(caplog)
    assert [r.levelno for r in records] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    for record in records:
        assert "email is required" in record.getMessage()
        assert "Bearer ***" in record.getMessage()
    assert "occurrence 3" in records[2].getMessage()
    assert messages(h) == ["status 422, expected 200, 201"]


@pytest.mark.parametrize("client", CLIENTS)
def test_each_kind_of_failure_is_logged_once_and_counted_at_test_stop(harness, client, caplog):
    h = harness(
        scenario(
            """
            - get: /status/500
              on_failure: continue
            - get: /items/999
            - get: /health
            """,
            client,
        )
    )
    diagnose.attach(h.env)
    with caplog.at_level(logging.INFO, logger="engine.diagnose"):
        h.start_test()
        h.journey(h.user(), times=3)
        h.stop_test()
    lines = [r.getMessage() for r in diagnosed(caplog)]
    assert len(lines) == 4, lines
    assert lines[0].startswith("failed GET /status/500: status 500, status < 400 (first occurrence")
    assert lines[1].startswith("failed GET /items/999: status 404, status < 400 (first occurrence")
    assert '{"code":500}' in lines[0]
    assert sorted(lines[2:]) == [
        "failed GET /items/999: status 404, status < 400: 2 more occurrences",
        "failed GET /status/500: status 500, status < 400: 2 more occurrences",
    ]
    h.start_test()  # a new test logs the first failure of each kind again
    with caplog.at_level(logging.INFO, logger="engine.diagnose"):
        h.journey(h.user(), times=1)
    assert len(diagnosed(caplog)) == 6


@pytest.mark.parametrize("client", CLIENTS)
def test_a_transport_error_logs_the_request_and_the_error(harness, client, caplog):
    h = harness(scenario("- get: /health?token=t0ken", client), host=DEAD_HOST)
    with caplog.at_level(logging.INFO, logger="engine.diagnose"):
        h.journey(h.user(), times=2)
    records = diagnosed(caplog)
    assert len(records) == 1
    text = records[0].getMessage()
    assert text.startswith("failed GET /health?token=***: connection refused (first occurrence"), text
    assert "request: GET http://127.0.0.1:1/health?token=***" in text
    assert "response: none (" in text and "t0ken" not in text
    assert messages(h) == ["connection refused"]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_long_body_is_cut_at_500_bytes(harness, client, caplog):
    h = harness(scenario("- {post: /echo, body: '" + "x" * 2000 + "', expect: {status: 201}}", client))
    with caplog.at_level(logging.INFO, logger="engine.diagnose"):
        h.journey(h.user())
    (record,) = diagnosed(caplog)
    text = record.getMessage()
    assert "bytes, first 500 shown" in text
    body = text.split("first 500 shown\n", 1)[1]
    assert len(body.strip()) == 500


@pytest.mark.parametrize("client", CLIENTS)
def test_a_passing_request_is_never_diagnosed(harness, client, caplog, monkeypatch):
    called: list[object] = []
    monkeypatch.setattr(diagnose, "failure", lambda *args: called.append(args))
    h = harness(scenario("- get: /health\n- {get: /items, expect: {status: 200, json: {'$[0].id': 101}}}", client))
    with caplog.at_level(logging.DEBUG, logger="engine.diagnose"):
        h.journey(h.user(), times=3)
    assert called == [] and diagnosed(caplog) == []


def test_masks() -> None:
    assert diagnose.mask_header("authorization", "Basic YWxpY2U6cHc=") == "Basic ***"
    assert diagnose.mask_header("Proxy-Authorization", "Bearer abc") == "Bearer ***"
    assert diagnose.mask_header("Authorization", "abc") == "***"
    assert diagnose.mask_header("X-Auth-Token", "abc") == "***"
    assert diagnose.mask_header("Cookie", "a=1; b=2") == "a=***; b=***"
    assert diagnose.mask_header("Accept", "*/*") == "*/*"
    assert diagnose.mask_url("https://bob:pw@h.example/a?x=1&password=pw&key=k#f") == (
        "https://bob:***@h.example/a?x=1&password=***&key=***#f"
    )
    assert diagnose.mask_url("/items?page=2") == "/items?page=2"


def test_secret_values_are_scrubbed_from_errors_and_bodies() -> None:
    headers = {"Authorization": "Bearer abcd1234", "Cookie": "sid=c00kie; x=1", "Accept": "*/*"}
    hidden = diagnose.secrets("http://h/p?api_key=k%2Fey1&q=plain", headers)
    assert {"abcd1234", "c00kie", "k%2Fey1", "k/ey1"} <= set(hidden)  # with their URL and JSON forms
    assert "1" not in hidden and hidden == sorted(hidden, key=len, reverse=True)  # too short to scrub: "1"
    assert diagnose.scrub("token abcd1234 for k/ey1, q=plain", hidden) == "token *** for ***, q=plain"


def test_a_locust_run_logs_the_first_failure_and_counts_the_others(target_url, tmp_path):
    (tmp_path / "signup.yaml").write_text(
        "version: 1\nusers:\n  U:\n    wait: {constant: 0.05}\n    journeys:\n      j:\n        steps:\n"
        + "".join(f"          {line}\n" for line in SIGNUP.strip().splitlines()),
        encoding="utf-8",
    )
    result = locust(["--scenario", "signup.yaml", *headless(target_url, 2, 1)], cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # failed requests, no thresholds: Locust's exit code
    log = result.stderr
    assert log.count("WARNING/engine.diagnose: failed POST sign up: status 422, expected 200, 201 (first") == 1, log
    assert '{"error":"email is required","field":"email"}' in log
    assert "Authorization: Bearer ***" in log and not any(value in log for value in SECRETS)
    assert re.search(r"failed POST sign up: status 422, expected 200, 201: \d+ more occurrences?\n", log), log
    assert stats(result)[("POST", "sign up")]["failures"] >= 2


def test_kinds_beyond_the_limit_are_not_counted(harness, caplog, monkeypatch):
    monkeypatch.setattr(diagnose, "MAX_KINDS", 1)
    h = harness(scenario("- {get: /status/500, on_failure: continue}\n- get: /status/503", "http"))
    with caplog.at_level(logging.INFO, logger="engine.diagnose"):
        h.journey(h.user(), times=2)
    lines = [r.getMessage() for r in diagnosed(caplog)]
    assert len(lines) == 2, lines
    assert lines[0].startswith("failed GET /status/500: status 500, status < 400 (first occurrence")
    assert lines[1] == "more than 1 kinds of failure: the next new ones are logged at DEBUG only"
    assert diagnose.repeats() == [(("GET", "/status/500", "status 500, status < 400"), 1)]
    assert messages(h) == ["status 500, status < 400", "status 503, status < 400"]  # Locust's table: both
