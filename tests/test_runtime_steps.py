"""Non-request steps: ``headers`` (session headers), ``set``, ``think`` and ``log``."""

from __future__ import annotations

import logging

import pytest
from runtime_support import CLIENTS, Pauses, counts, messages, occurrences, scenario


@pytest.mark.parametrize("client", CLIENTS)
def test_headers_step_sets_session_headers_for_later_requests_and_journeys(harness, client):
    h = harness(
        """
        version: 1
        defaults: {client: CLIENT}
        users:
          U:
            on_start:
              - post: /login
                json: {username: ann, password: secret}
                save: {token: $.token}
              - headers: {Authorization: "Bearer {{ token }}", X-Trace: t1}
            journeys:
              check:
                steps:
                  - get: /me
                  - get: /echo
                    name: with trace
                    expect: {json: {$.headers.x-trace: t1, $.headers.authorization: "Bearer {{ token }}"}}
              drop:
                steps:
                  - headers: {x-trace: null, X-Later: "{{ 6 * 7 }}"}
                  - get: /echo
                    name: without trace
                    expect: {json: {$.headers.x-trace: {exists: false}, $.headers.x-later: "42"}}
                  - get: /me
                    name: still logged in
        """.replace("CLIENT", client)
    )
    user = h.user()
    h.journey(user, "check")
    h.journey(user, "drop")
    h.journey(user, "check")
    assert messages(h) == ["$.headers.x-trace: missing"]
    assert occurrences(h) == {("GET", "with trace", "$.headers.x-trace: missing"): 1}
    assert counts(h) == {
        ("POST", "/login"): (1, 0),
        ("GET", "/me"): (2, 0),
        ("GET", "with trace"): (2, 1),
        ("GET", "without trace"): (1, 0),
        ("GET", "still logged in"): (1, 0),
    }
    assert user.session_headers == {"Authorization": f"Bearer {user.vars['token']}", "X-Later": "42"}


@pytest.mark.parametrize("client", CLIENTS)
def test_session_headers_belong_to_one_user(harness, client):
    h = harness(
        scenario(
            """
            - get: /echo
              expect: {json: {$.headers.x-who: "{{ who }}"}}
            """,
            client,
            top="vars: {who: '{{ uuid() }}'}",
            on_start="- headers: {X-Who: '{{ who }}'}",
        )
    )
    first, second = h.user(), h.user()
    h.journey(first)
    h.journey(second)
    h.journey(first)
    assert messages(h) == []
    assert counts(h) == {("GET", "/echo"): (3, 0)}
    assert first.session_headers["X-Who"] != second.session_headers["X-Who"]


@pytest.mark.parametrize("client", CLIENTS)
def test_set_assigns_typed_values_in_order(harness, client):
    h = harness(
        scenario(
            """
            - set:
                a: 2
                b: "{{ a * 3 }}"
                c: "{{ [a, b] }}"
                d: "b={{ b }}"
                e: {nested: "{{ b }}", list: ["{{ a }}", x]}
                f: null
            - post: /echo
              json: {a: "{{ a }}", b: "{{ b }}", c: "{{ c }}", d: "{{ d }}", e: "{{ e }}", f: "{{ f }}"}
              expect:
                json:
                  $.json: {eq: {a: 2, b: 6, c: [2, 6], d: "b=6", e: {nested: 6, list: [2, x]}, f: null}}
            - set: {a: "{{ a + 1 }}"}
            - get: /echo
              params: {a: "{{ a }}"}
              expect: {json: {$.args.a: ["3"]}}
            """,
            client,
            top="vars: {a: 1}",
        )
    )
    user = h.user()
    h.journey(user, times=2)
    assert messages(h) == []
    assert counts(h) == {("POST", "/echo"): (2, 0), ("GET", "/echo"): (2, 0)}
    assert user.vars["a"] == 1  # a journey's assignments do not outlive its run


@pytest.mark.parametrize("client", CLIENTS)
def test_set_in_on_start_is_visible_to_every_journey(harness, client):
    h = harness(
        scenario(
            """
            - get: /items/{{ item_id }}
              expect: {json: {$.id: "{{ item_id }}"}}
            """,
            client,
            on_start="- set: {item_id: '{{ 100 + 3 }}'}",
        )
    )
    user = h.user()
    h.journey(user, times=2)
    assert user.vars["item_id"] == 103
    assert messages(h) == []
    assert counts(h) == {("GET", "/items/{item_id}"): (2, 0)}


def test_think_pauses(harness, monkeypatch):
    h = harness(
        scenario(
            """
            - get: /health
            - think: 0.05
            - think: 50ms
            - think: {between: [0.05, 60ms]}
            - get: /health
              name: after
            """
        )
    )
    user = h.user()
    pauses = Pauses(user, monkeypatch)
    h.journey(user)
    assert pauses.requested[:2] == [0.05, 0.05]
    assert len(pauses.requested) == 3 and 0.05 <= pauses.requested[2] <= 0.06
    assert counts(h) == {("GET", "/health"): (1, 0), ("GET", "after"): (1, 0)}


def test_no_think_no_pause(harness, monkeypatch):
    h = harness(scenario("- get: /health\n- think: 0\n- get: /health"))
    user = h.user()
    pauses = Pauses(user, monkeypatch)
    h.journey(user)
    assert all(seconds == 0 for seconds in pauses.requested)
    assert counts(h) == {("GET", "/health"): (2, 0)}


def test_log_step_writes_and_never_fails(harness, caplog):
    h = harness(
        scenario(
            """
            - get: /items/101
              save: {name: $.name}
            - get: /items/101
              on_failure: continue
              save: {maybe: $.nope}
            - log: "picked {{ name }} ({{ name | length }} letters)"
            - log: "{{ maybe }}"
            - log: plain text
            - get: /health
            """
        )
    )
    with caplog.at_level(logging.INFO, logger="engine.steps"):
        h.journey(h.user())
    records = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "engine.steps"]
    assert records == [
        ("INFO", "picked Laptop (6 letters)"),
        ("WARNING", "log step: template error: 'maybe' is undefined"),
        ("INFO", "plain text"),
    ]
    assert messages(h) == ["save maybe: no value at $.nope"]
    assert counts(h) == {("GET", "/items/101"): (2, 1), ("GET", "/health"): (1, 0)}
