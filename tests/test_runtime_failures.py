"""Failure semantics: a failed step ends the run, ``on_failure: continue``, transport errors,
timeouts, non-JSON bodies and template errors at runtime (always a failed request, never a crash)."""

from __future__ import annotations

import time

import pytest
from runtime_support import CLIENTS, counts, messages, occurrences, scenario

DEAD_HOST = "http://127.0.0.1:1"


@pytest.mark.parametrize("client", CLIENTS)
def test_a_failed_step_ends_the_journey_run(harness, client):
    h = harness(
        scenario(
            """
            - get: /health
            - get: /status/500
            - get: /items
            - post: /echo
            """,
            client,
        )
    )
    h.journey(h.user(), times=3)
    assert messages(h) == ["status 500, status < 400"]
    assert counts(h) == {("GET", "/health"): (3, 0), ("GET", "/status/500"): (3, 3)}
    assert h.requests("/items") == 0
    assert h.requests("/echo", "POST") == 0


@pytest.mark.parametrize("client", CLIENTS)
def test_on_failure_continue_lets_the_run_go_on(harness, client):
    h = harness(
        scenario(
            """
            - get: /status/500
              on_failure: continue
            - get: /items/999
              on_failure: stop
            - get: /items
            """,
            client,
        )
    )
    h.journey(h.user(), times=2)
    assert messages(h) == ["status 404, status < 400", "status 500, status < 400"]
    assert counts(h) == {("GET", "/status/500"): (2, 2), ("GET", "/items/999"): (2, 2)}


THREE_STEPS = """
- get: /health
  on_failure: continue
- post: /cart
  json: {item_id: 1, quantity: 1}
- get: /items
"""


@pytest.mark.parametrize("client", CLIENTS)
def test_connection_refused_is_a_failure_not_a_crash(harness, client):
    h = harness(
        scenario(
            THREE_STEPS,
            client,
            on_start="""
            - post: /login
              json: {username: ann, password: secret}
            """,
        ),
        host=DEAD_HOST,
    )
    user = h.user()
    h.journey(user, times=3)
    assert messages(h) == ["connection refused"]
    assert occurrences(h) == {
        # on_start, then (after one wait) retried before each later journey run
        ("POST", "/login", "connection refused"): 3,
    }
    assert counts(h) == {("POST", "/login"): (3, 3)}
    assert user.started is False


@pytest.mark.parametrize("client", CLIENTS)
def test_connection_refused_in_a_journey(harness, client):
    h = harness(
        scenario(
            THREE_STEPS,
            client,
        ),
        host=DEAD_HOST,
    )
    h.journey(h.user(), times=2)
    assert occurrences(h) == {
        ("GET", "/health", "connection refused"): 2,
        ("POST", "/cart", "connection refused"): 2,
    }
    assert counts(h) == {("GET", "/health"): (2, 2), ("POST", "/cart"): (2, 2)}


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
def test_step_timeout(harness, client):
    h = harness(
        scenario(
            """
            - get: /slow?ms=1000
              timeout: 0.2
              on_failure: continue
            - get: /slow?ms=1000
              name: ms
              timeout: 150ms
              on_failure: continue
            - get: /items/101
              expect: {json: {$.id: 101}}
            - get: /slow?ms=1000
              name: stops
              timeout: 0.2
            - get: /health
            """,
            client,
        )
    )
    started = time.perf_counter()
    h.journey(h.user())
    elapsed = time.perf_counter() - started
    assert occurrences(h) == {
        ("GET", "/slow?ms=1000", "request timed out after 0.2s"): 1,
        ("GET", "ms", "request timed out after 0.15s"): 1,
        ("GET", "stops", "request timed out after 0.2s"): 1,
    }
    # The request after a timed-out one gets its own response, not the late one of /slow.
    assert counts(h) == {
        ("GET", "/slow?ms=1000"): (1, 1),
        ("GET", "ms"): (1, 1),
        ("GET", "/items/101"): (1, 0),
        ("GET", "stops"): (1, 1),
    }
    # Three timeouts (0.55 s), not three slow responses (3 s): a bound that holds on a loaded machine.
    assert 0.5 <= elapsed < 2.5


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
def test_default_timeout_and_a_longer_step_timeout(harness, client):
    h = harness(
        scenario(
            """
            - get: /slow?ms=1000
              on_failure: continue
            - get: /slow?ms=400
              name: patient
              timeout: 2
            - get: /slow?ms=50
              name: quick
            """,
            client,
            defaults={"timeout": 0.2},
        )
    )
    h.journey(h.user())
    assert messages(h) == ["request timed out after 0.2s"]
    assert counts(h) == {("GET", "/slow?ms=1000"): (1, 1), ("GET", "patient"): (1, 0), ("GET", "quick"): (1, 0)}


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
def test_longer_timeout_of_an_on_start_step(harness, client):
    h = harness(
        scenario(
            "- get: /slow?ms=400",
            client,
            defaults={"timeout": 0.2},
            on_start="""
            - get: /slow?ms=400
              name: patient
              timeout: 1
            """,
        )
    )
    h.journey(h.user())
    assert messages(h) == ["request timed out after 0.2s"]
    assert counts(h) == {("GET", "patient"): (1, 0), ("GET", "/slow?ms=400"): (1, 1)}


@pytest.mark.parametrize("client", CLIENTS)
def test_default_timeout_as_a_duration_string(harness, client):
    h = harness(scenario("- get: /slow?ms=1000", client, defaults={"timeout": "200ms"}))
    h.journey(h.user())
    assert messages(h) == ["request timed out after 0.2s"]
    assert counts(h) == {("GET", "/slow?ms=1000"): (1, 1)}


@pytest.mark.parametrize("client", CLIENTS)
def test_json_needed_from_a_text_body(harness, client):
    h = harness(
        scenario(
            """
            - get: /text
              name: save
              on_failure: continue
              save: {order: $.order}
            - get: /text
              name: expect
              on_failure: continue
              expect: {json: {$.order: 12345, $.code: {exists: false}}}
            - get: /text
              name: both
              expect:
                json: {$.order: 12345}
              save: {order: {jsonpath: $.order, default: 0}, code: {regex: "code=(\\\\w+)"}}
            - get: /health
            """,
            client,
        )
    )
    h.journey(h.user())
    assert messages(h, "save") == ["save order: response body is not JSON"]
    assert messages(h, "expect") == ["$.order: response body is not JSON; $.code: response body is not JSON"]
    assert messages(h, "both") == ["$.order: response body is not JSON"]  # no save from a failed response
    assert counts(h) == {("GET", "save"): (1, 1), ("GET", "expect"): (1, 1), ("GET", "both"): (1, 1)}


@pytest.mark.parametrize("client", CLIENTS)
def test_template_errors_at_runtime_are_failed_requests(harness, client):
    h = harness(
        scenario(
            """
            - get: /items/101
              on_failure: continue
              save: {maybe: $.nope}
            - get: /items/{{ maybe }}
              on_failure: continue
            - post: /echo
              json: {id: "{{ maybe.id }}"}
              on_failure: continue
            - get: /items
              params: {n: "{{ 1 // 0 }}"}
              on_failure: continue
            - get: /items/{{ maybe }}
              name: stops
            - get: /health
            """,
            client,
        )
    )
    h.journey(h.user(), times=2)
    assert occurrences(h) == {
        ("GET", "/items/101", "save maybe: no value at $.nope"): 2,
        ("GET", "/items/{maybe}", "template error: 'maybe' is undefined"): 2,
        ("POST", "/echo", "template error: 'maybe' is undefined"): 2,
        ("GET", "/items", "template error: integer division or modulo by zero"): 2,
        ("GET", "stops", "template error: 'maybe' is undefined"): 2,
    }
    assert counts(h) == {
        ("GET", "/items/101"): (2, 2),
        ("GET", "/items/{maybe}"): (2, 2),
        ("POST", "/echo"): (2, 2),
        ("GET", "/items"): (2, 2),
        ("GET", "stops"): (2, 2),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_template_errors_in_set_and_headers_steps_end_the_run(harness, client):
    h = harness(
        scenario(
            """
            - get: /items/101
              on_failure: continue
              save: {maybe: $.nope}
            - set: {x: 1, y: "{{ maybe }}"}
            - get: /health
            """,
            client,
        )
    )
    h.journey(h.user())
    assert occurrences(h) == {
        ("GET", "/items/101", "save maybe: no value at $.nope"): 1,
        ("SET", "set step at line 11", "template error in y: 'maybe' is undefined"): 1,
    }
    assert h.requests("/health") == 0

    h = harness(
        scenario(
            """
            - get: /items/101
              on_failure: continue
              save: {maybe: $.nope}
            - headers: {X-Maybe: "{{ maybe }}"}
            - get: /health
            """,
            client,
        )
    )
    h.journey(h.user())
    assert occurrences(h) == {
        ("GET", "/items/101", "save maybe: no value at $.nope"): 1,
        ("HEADERS", "headers step at line 11", "template error: 'maybe' is undefined"): 1,
    }
    assert h.requests("/health") == 0


@pytest.mark.parametrize("client", CLIENTS)
def test_failure_table_shows_the_plain_message(harness, client):
    from locust.stats import StatsError

    h = harness(
        scenario(
            """
            - get: /items
              params: {n: "{{ 1 // 0 }}"}
            """,
            client,
        )
    )
    h.journey(h.user(), times=2)
    shown = [StatsError.parse_error(e.error) for e in h.env.stats.errors.values()]
    assert shown == ["template error: integer division or modulo by zero"]
