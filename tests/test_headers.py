"""Header merging: a step's headers merged at load time (HeaderPlan) equal the general merge, order included."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fault_server import raw_server, request_heads
from runtime_support import scenario

from engine.steps import HeaderPlan, merge_headers
from engine.steps.header_merge import CLIENT_HEADERS
from engine.templates import Constant, Lookup, Mapping_

BELOW: list[list[dict[str, Any]]] = [
    [],
    [{"Content-Type": "application/json"}],
    [{"Content-Type": "application/json"}, {"X-Layer": "default", "accept": "*/*", "X-Gone": "d"}],
    [{"content-type": "text/plain"}, {"Content-Type": "application/xml"}],
]
STEP_VALUES: list[dict[str, Any]] = [
    {"X-Layer": "step"},
    {"x-layer": "step", "CONTENT-TYPE": "application/vnd+json", "X-Gone": None},
    {"Accept": True, "X-Number": 5, "X-Float": 0.5, "x-new": "new"},
    {"x-gone": None, "Content-Type": None},
]


def test_a_plan_merges_like_the_general_merge() -> None:
    for below, values in itertools.product(BELOW, STEP_VALUES):
        scope = {f"v{i}": value for i, value in enumerate(values.values())}
        templated = Mapping_([(name, Lookup(f"v{i}", {})) for i, name in enumerate(values)])
        plan = HeaderPlan.of(below, templated)
        assert plan is not None
        merged = plan.render(scope)
        expected = merge_headers(*below, {}, values)
        assert merged == expected and list(merged) == list(expected), (below, values)


def test_a_plan_of_constant_headers_and_no_plan_when_names_differ_only_in_case() -> None:
    plan = HeaderPlan.of([{"X-A": "1"}], Constant({"x-a": "2", "X-B": True}))
    assert plan is not None and plan.render({}) == {"x-a": "2", "X-B": "true"}
    assert HeaderPlan.of([], Mapping_([("X-A", Lookup("a", {})), ("x-a", Constant("b"))])) is None
    assert HeaderPlan.of([], Lookup("headers", {})) is None


def test_a_plan_does_not_change_its_own_base() -> None:
    plan = HeaderPlan.of([{"X-A": "1"}], Mapping_([("x-a", Lookup("a", {}))]))
    assert plan is not None
    assert plan.render({"a": "2"}) == {"x-a": "2"}
    assert plan.render({"a": None}) == {}
    assert plan.base == {"X-A": "1"}


def test_requests_are_prepared_at_load_time_as_far_as_their_templates_allow(write_scenario) -> None:
    from engine.load import load_plan

    path = write_scenario(
        """
        version: 1
        name: prepared
        host: http://127.0.0.1:9
        users:
          U:
            journeys:
              j:
                steps:
                  - post: /login
                    json: {username: ann, password: secret}
                  - get: /products
                    headers: {Accept: application/json}
                  - get: /products/{{ id }}
                  - post: /cart
                    headers: {Authorization: "Bearer {{ token }}"}
                    json: {id: "{{ id }}"}
                  - get: /basic
                    auth: ["{{ id }}", x]
        vars: {id: 1, token: t}
        """
    )
    plan = load_plan(path, module="prepared")
    steps = plan.user_classes["U"].persona_program.journeys[0].steps
    assert [(step.fixed, step.constant_headers, step.header_plan is not None) for step in steps] == [
        (True, True, False),  # nothing templated: URL, headers and body built once
        (True, True, False),
        (False, True, False),  # a templated URL: the constant headers are still merged once
        (False, False, True),  # templated headers: merged at load time, values filled in per request
        (False, False, False),  # basic auth: the general merge
    ]
    assert steps[0].plain_headers == {"Content-Type": "application/json"}
    assert steps[3].header_plan is not None and steps[3].header_plan.base == {"Content-Type": "application/json"}


@pytest.mark.parametrize("client", ["http", "fast"])
def test_a_constant_request_sends_the_session_headers_of_the_moment(harness, client) -> None:
    """A constant request keeps its merged headers until a headers step replaces the session headers."""
    h = harness(
        f"""
        version: 1
        defaults: {{client: {client}}}
        journeys:
          rounds:
            steps:
              - loop: {{count: 3}}
                steps:
                  - headers: {{X-Round: "r{{{{ index }}}}"}}
                  - get: /echo
                    name: Echo
                    expect: {{json: {{"$.headers.x-round": "r{{{{ index }}}}"}}}}
                  - get: /echo
                    name: Echo again
                    expect: {{json: {{"$.headers.x-round": "r{{{{ index }}}}"}}}}
        """
    )
    user = h.user()
    h.journey(user)
    assert (h.requests("Echo"), h.requests("Echo again")) == (3, 3)
    assert h.errors() == []


@pytest.mark.parametrize("client", ["http", "fast"])
def test_a_null_step_header_removes_a_session_header_on_prepared_requests(harness, client) -> None:
    """``X-Trace: null`` on a step removes the session's X-Trace, whether the rest of the request is constant or not."""
    h = harness(
        f"""
        version: 1
        defaults: {{client: {client}}}
        journeys:
          j:
            steps:
              - set: {{v: 1}}
              - headers: {{X-Trace: traced, X-Keep: kept}}
              - get: /echo
                name: Constant
                headers: {{X-Trace: null}}
                expect: {{json: {{"$.headers.x-trace": {{exists: false}}, "$.headers.x-keep": kept}}}}
              - get: /echo?v={{{{ v }}}}
                name: Templated
                headers: {{x-trace: null}}
                expect: {{json: {{"$.headers.x-trace": {{exists: false}}, "$.headers.x-keep": kept}}}}
              - get: /echo
                name: Session
                expect: {{json: {{"$.headers.x-trace": traced}}}}
        """
    )
    user = h.user()
    h.journey(user)
    h.journey(user)
    assert (h.requests("Constant"), h.requests("Templated"), h.requests("Session")) == (2, 2, 2)
    assert h.errors() == []


@pytest.mark.parametrize("client", ["http", "fast"])
def test_session_headers_sit_between_the_body_type_and_the_steps_own_whatever_their_case(harness, client) -> None:
    """Beside a JSON body's Content-Type: session headers of other names are added, one of the same name
    (in any case) wins over it, and a step's own header wins over both."""
    h = harness(
        f"""
        version: 1
        defaults: {{client: {client}}}
        journeys:
          j:
            steps:
              - headers: {{X-Session: s, Content-Type: null}}  # the previous run's content-type goes
              - post: /echo
                name: Other names
                json: {{a: 1}}
                expect: {{json: {{"$.headers.content-type": application/json, "$.headers.x-session": s}}}}
              - headers: {{content-type: text/plain}}
              - post: /echo
                name: Same name
                json: {{a: 1}}
                expect: {{json: {{"$.headers.content-type": text/plain, "$.headers.x-session": s}}}}
              - post: /echo
                name: Step wins
                headers: {{X-SESSION: step}}
                json: {{a: 1}}
                expect: {{json: {{"$.headers.content-type": text/plain, "$.headers.x-session": step}}}}
        """
    )
    user = h.user()
    h.journey(user)
    h.journey(user)
    assert [h.requests(n, "POST") for n in ("Other names", "Same name", "Step wins")] == [2, 2, 2]
    assert h.errors() == []


@pytest.fixture
def heads() -> Iterator[tuple[str, list[list[str]]]]:
    """A server on 127.0.0.1 that answers 200 and keeps the header lines of every request, in order."""
    seen: list[list[str]] = []

    def handle(conn: socket.socket) -> None:
        with conn:
            for head in request_heads(conn):
                seen.append(head.decode("latin-1").split("\r\n"))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                return

    with raw_server(handle) as url:
        yield url, seen


def test_client_http_sends_what_a_python_requests_session_sends(harness, heads) -> None:
    """The http client's session merges nothing (its headers are the engine's lowest layer): the bytes on the wire
    are those of a python-requests session with the engine's CLIENT_HEADERS, given the engine's merged headers."""
    host, seen = heads
    h = harness(
        """
        version: 1
        defaults: {client: http, headers: {X-Default: d}}
        journeys:
          j:
            steps:
              - get: /plain?q=1
              - headers: {Authorization: Bearer t, x-default: session}
              - post: /json
                headers: {accept: application/json}
                json: {a: 1}
              - get: /templated
                headers: {X-Who: "{{ 'me' }}", User-Agent: null, Connection: close}
              - post: /form
                form: {b: 2}
        """,
        host=host,
    )
    h.journey(h.user())
    assert h.errors() == []
    engine_heads, seen[:] = list(seen), []
    session = requests.Session()
    session.headers.update(CLIENT_HEADERS)
    auth = {"Authorization": "Bearer t", "x-default": "session"}
    session.get(f"{host}/plain?q=1", headers={"X-Default": "d"})
    json_headers = {"Content-Type": "application/json", **auth, "accept": "application/json"}
    session.post(f"{host}/json", data='{"a": 1}', headers=json_headers)
    session.get(f"{host}/templated", headers={**auth, "X-Who": "me", "Connection": "close"})
    form_headers = {"Content-Type": "application/x-www-form-urlencoded", **auth}
    session.post(f"{host}/form", data="b=2", headers=form_headers)
    assert len(engine_heads) == 4
    assert engine_heads == seen


@pytest.mark.parametrize("client", ["http", "fast"])
def test_neither_client_takes_proxies_from_the_environment(harness, heads, monkeypatch, client) -> None:
    """As with Locust's HttpUser (whose session does not trust the environment) and FastHttpUser: HTTP_PROXY set,
    the request still goes straight to the host (a proxy would get the absolute URL). The http client's session
    has no proxies of its own, which changes nothing there."""
    proxy, seen = heads
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    h = harness(scenario("- get: /direct", client), host=proxy)
    h.journey(h.user())
    assert h.errors() == []
    assert seen[0][0] == "GET /direct HTTP/1.1"


def test_each_http_class_keeps_its_own_merged_headers(harness) -> None:
    """The merged headers over the http client's layer are kept per user class, so a plan loaded again (or
    another scenario in the same process) never keeps the requests of the one before alive."""
    text = scenario("- get: /echo", "http")
    first, second = harness(text), harness(text)
    one, two = first.user(), second.user()
    first.journey(one)
    second.journey(two)
    assert type(one).layer_headers is not type(two).layer_headers
    assert len(type(one).layer_headers) == len(type(two).layer_headers) == 1
    assert first.errors() == second.errors() == []
