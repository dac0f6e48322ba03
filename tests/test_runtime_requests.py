"""Requests: methods, params, bodies, headers, auth, full URLs, redirects and stats names.

What the server received is read back from ``/echo``: requests made in
``on_start`` save the whole echo (``save: {echo: $}``) into the user's
variables, where it is checked exactly.
"""

from __future__ import annotations

import base64

import pytest
from runtime_support import CLIENTS, counts, messages, scenario

from engine.steps import run_steps


def echoed(harness, client: str, on_start: str, **kwargs):
    """Run ``on_start`` (requests saving ``$`` of /echo) once; return the harness and the user's vars."""
    h = harness(scenario("- get: /health", client, on_start=on_start, **kwargs))
    user = h.user()
    return h, user.vars


@pytest.mark.parametrize("client", CLIENTS)
def test_every_method(harness, client):
    h = harness(
        scenario(
            """
            - get: /echo
              expect: {json: {$.method: GET}}
            - post: /echo
              expect: {json: {$.method: POST}}
            - put: /echo
              expect: {json: {$.method: PUT}}
            - patch: /echo
              expect: {json: {$.method: PATCH}}
            - delete: /echo
              expect: {json: {$.method: DELETE}}
            - options: /echo
              expect: {json: {$.method: OPTIONS}}
            - head: /echo
              expect:
                status: 200
                headers: {Content-Type: {contains: json}, Content-Length: {gt: 0}}
              save: {head_body: {body: true}}
            - post: /echo
              name: after head
              json: {head_body: "{{ head_body }}"}
              expect: {json: {$.json.head_body: ""}}
            """,
            client,
        )
    )
    h.journey(h.user(), times=2)
    assert messages(h) == []
    assert counts(h) == {
        ("GET", "/echo"): (2, 0),
        ("POST", "/echo"): (2, 0),
        ("PUT", "/echo"): (2, 0),
        ("PATCH", "/echo"): (2, 0),
        ("DELETE", "/echo"): (2, 0),
        ("OPTIONS", "/echo"): (2, 0),
        ("HEAD", "/echo"): (2, 0),
        ("POST", "after head"): (2, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_params_including_lists_templates_and_an_existing_query(harness, client):
    h, saved = echoed(
        harness,
        client,
        """
        - get: /echo?fixed=1
          params:
            tag: [a, "{{ word }}", 3]
            n: 20
            word: "{{ word }}"
            spaced: "a b&c=d"
            flags: [true, false]
            hi: "{{ word == 'hi' }}"
            skipped: null
          save: {echo: $}
        - get: /echo
          name: only params
          params: {ids: "{{ ids }}"}
          save: {second: $.args}
        """,
        top="vars: {word: hi, ids: [7, 8]}",
    )
    assert saved["echo"]["args"] == {
        "fixed": ["1"],
        "tag": ["a", "hi", "3"],
        "n": ["20"],
        "word": ["hi"],
        "spaced": ["a b&c=d"],
        "flags": ["true", "false"],
        "hi": ["true"],
    }
    assert saved["second"] == {"ids": ["7", "8"]}
    assert counts(h) == {("GET", "/echo?fixed=1"): (1, 0), ("GET", "only params"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_json_body_keeps_types(harness, client):
    h, saved = echoed(
        harness,
        client,
        """
        - set:
            qty: "{{ 1 + 2 }}"
            price: "{{ 2.5 }}"
        - post: /echo
          json:
            qty: "{{ qty }}"
            price: "{{ price }}"
            ids: "{{ ids }}"
            label: "n{{ qty }}"
            literal: "42"
            flags: {"yes": true, "no": false, none: null}
            list: ["{{ qty }}", x, 1.5]
            nested: "{{ {'a': ids[0], 'b': [qty]} }}"
          save: {echo: $}
        - put: /echo
          json: "{{ ids }}"
          save: {top_list: $.json}
        - patch: /echo
          json: "{{ qty }}"
          save: {top_int: $.json}
        """,
        top="vars: {ids: [7, 8]}",
    )
    assert saved["echo"]["json"] == {
        "qty": 3,
        "price": 2.5,
        "ids": [7, 8],
        "label": "n3",
        "literal": "42",
        "flags": {"yes": True, "no": False, "none": None},
        "list": [3, "x", 1.5],
        "nested": {"a": 7, "b": [3]},
    }
    assert saved["echo"]["headers"]["content-type"] == "application/json"
    assert saved["top_list"] == [7, 8]
    assert saved["top_int"] == 3
    assert messages(h) == []
    assert counts(h) == {("POST", "/echo"): (1, 0), ("PUT", "/echo"): (1, 0), ("PATCH", "/echo"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_typed_json_body_is_accepted_by_the_api(harness, client):
    """/cart answers 422 unless item_id and quantity are JSON integers."""
    h = harness(
        scenario(
            """
            - post: /cart
              json: {item_id: "{{ item_id }}", quantity: "{{ quantity }}"}
              expect: {status: 201, json: {'$.items[-1]': {eq: {item_id: 103, quantity: 2}}}}
            - post: /cart
              name: text ids
              json: {item_id: "#{{ item_id }}", quantity: 1}
              expect: {status: 422}
            """,
            client,
            top="vars: {item_id: 103, quantity: 2}",
            on_start="""
            - post: /login
              json: {username: ann, password: secret}
              save: {token: $.token}
            - headers: {Authorization: "Bearer {{ token }}"}
            """,
        )
    )
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {("POST", "/login"): (1, 0), ("POST", "/cart"): (1, 0), ("POST", "text ids"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_form_body(harness, client):
    h, saved = echoed(
        harness,
        client,
        """
        - post: /echo
          form: {user: "{{ who }}", n: 3, pick: [a, b], odd: "x&y=z", yes_no: [true, false], ok: "{{ who == 'ann' }}"}
          save: {echo: $}
        """,
        top="vars: {who: ann}",
    )
    assert saved["echo"]["form"] == {
        "user": ["ann"],
        "n": ["3"],
        "pick": ["a", "b"],
        "odd": ["x&y=z"],
        "yes_no": ["true", "false"],
        "ok": ["true"],
    }
    assert saved["echo"]["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert saved["echo"]["json"] is None
    assert counts(h) == {("POST", "/echo"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_raw_body_with_custom_content_type(harness, client):
    h, saved = echoed(
        harness,
        client,
        """
        - post: /echo
          body: "<order qty='{{ qty }}'>café</order>"
          headers: {Content-Type: application/xml; charset=utf-8}
          save: {echo: $}
        - put: /echo
          name: json as text
          body: '{"qty": {{ qty }}}'
          headers: {content-type: application/json}
          save: {as_json: $.json}
        - post: /echo
          name: json with its own type
          json: {qty: "{{ qty }}"}
          headers: {CONTENT-TYPE: application/vnd.api+json}
          save: {typed: $.headers}
        """,
        top="vars: {qty: 4}",
    )
    assert saved["echo"]["body"] == "<order qty='4'>café</order>"
    assert saved["echo"]["headers"]["content-type"] == "application/xml; charset=utf-8"
    assert saved["as_json"] == {"qty": 4}
    assert saved["typed"]["content-type"] == "application/vnd.api+json"
    assert counts(h) == {
        ("POST", "/echo"): (1, 0),
        ("PUT", "json as text"): (1, 0),
        ("POST", "json with its own type"): (1, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_request_headers_override_session_and_default_headers_case_insensitively(harness, client):
    h, saved = echoed(
        harness,
        client,
        """
        - get: /echo
          name: defaults only
          save: {first: $.headers}
        - headers: {x-layer: session, X-Session-Only: s, X-Tenant: "{{ tenant }}"}
        - get: /echo
          name: session
          save: {second: $.headers}
        - get: /echo
          name: request
          headers: {X-LAYER: request, x-default-only: mine, X-Flag: true, X-Number: 5}
          save: {third: $.headers}
        """,
        defaults={"headers": {"X-Layer": "default", "X-Default-Only": "d", "X-Tenant": "none"}},
        top="vars: {tenant: acme}",
    )
    first, second, third = saved["first"], saved["second"], saved["third"]
    assert (first["x-layer"], first["x-default-only"], first["x-tenant"]) == ("default", "d", "none")
    assert "x-session-only" not in first
    assert (second["x-layer"], second["x-default-only"], second["x-session-only"], second["x-tenant"]) == (
        "session",
        "d",
        "s",
        "acme",
    )
    assert (third["x-layer"], third["x-default-only"], third["x-session-only"]) == ("request", "mine", "s")
    assert (third["x-flag"], third["x-number"]) == ("true", "5")
    assert counts(h) == {("GET", "defaults only"): (1, 0), ("GET", "session"): (1, 0), ("GET", "request"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_templated_request_headers_merge_alike_with_and_without_session_headers(harness, client):
    """Without session headers, a step whose header values are templated uses headers merged at load time."""
    step = """
- post: /echo
  name: NAME
  json: {a: 1}
  headers: {x-layer: "{{ layer }}", content-type: "application/{{ kind }}+json", X-Drop: "{{ nothing }}",
            X-Flag: "{{ flag }}", X-Number: "{{ number }}", X-Own: own}
  save: {NAME: $.headers}
"""
    h, saved = echoed(
        harness,
        client,
        step.replace("NAME", "plain") + "- headers: {X-Session-Only: s}" + step.replace("NAME", "session"),
        defaults={"headers": {"X-Layer": "default", "X-Drop": "gone", "X-Kept": "kept"}},
        top="vars: {layer: step, kind: vnd.api, flag: true, number: 5, nothing: null}",
    )
    plain, session = saved["plain"], saved["session"]
    expected = {
        "x-layer": "step",
        "content-type": "application/vnd.api+json",
        "x-flag": "true",
        "x-number": "5",
        "x-own": "own",
        "x-kept": "kept",
    }
    for headers in (plain, session):
        assert {name: headers.get(name) for name in expected} == expected
        assert "x-drop" not in headers
    assert "x-session-only" not in plain and session["x-session-only"] == "s"
    assert counts(h) == {("POST", "plain"): (1, 0), ("POST", "session"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_default_headers_are_rendered_per_request(harness, client):
    h = harness(
        scenario(
            """
            - get: /echo
              expect: {json: {$.headers.x-user: "{{ who }}", $.headers.x-request: {matches: "^[0-9a-f-]{36}$"}}}
              save: {first: $.headers.x-request}
            - get: /echo
              name: again
              expect: {json: {$.headers.x-request: {ne: "{{ first }}"}}}
            """,
            client,
            defaults={"headers": {"X-User": "{{ who }}", "X-Request": "{{ uuid() }}"}},
            top="vars: {who: ann}",
        )
    )
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {("GET", "/echo"): (1, 0), ("GET", "again"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_basic_auth(harness, client):
    h, saved = echoed(
        harness,
        client,
        """
        - get: /echo
          auth: [ann, "{{ password }}"]
          headers: {Authorization: Bearer overridden}
          save: {auth: $.headers.authorization}
        """,
        top="vars: {password: s3cr:t}",
    )
    assert saved["auth"] == "Basic " + base64.b64encode(b"ann:s3cr:t").decode()
    assert counts(h) == {("GET", "/echo"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_full_url_ignores_the_host(harness, client, target):
    h = harness(
        scenario(
            f"""
            - get: {target.url}/echo?full=1
              expect: {{json: {{$.args.full: ["1"]}}}}
            - get: "{{{{ base }}}}/items/101"
              expect: {{json: {{$.id: 101}}}}
            """,
            client,
            top=f"vars: {{base: '{target.url}'}}",
        ),
        host="http://127.0.0.1:1",
    )
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {("GET", f"{target.url}/echo?full=1"): (1, 0), ("GET", "{base}/items/101"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_redirects_followed_by_default_and_not_when_disabled(harness, client):
    h = harness(
        scenario(
            """
            - get: /redirect
              expect: {status: 200, json: {$.id: 101}}
            - get: /redirect
              name: not followed
              allow_redirects: false
              expect:
                status: 302
                headers: {Location: {contains: /items/101}}
            - get: /redirect
              name: not followed, no expect
              allow_redirects: false
              save: {code: {status: true}, where: {header: Location}}
            - post: /echo
              json: {code: "{{ code }}"}
              expect: {json: {$.json.code: 302}}
            """,
            client,
        )
    )
    h.journey(h.user(), times=2)
    assert messages(h) == []
    assert counts(h) == {
        ("GET", "/redirect"): (2, 0),
        ("GET", "not followed"): (2, 0),
        ("GET", "not followed, no expect"): (2, 0),
        ("POST", "/echo"): (2, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_redirects_disabled_by_default_and_enabled_per_step(harness, client):
    h = harness(
        scenario(
            """
            - get: /redirect
              expect: {status: 302}
            - get: /redirect
              name: followed
              allow_redirects: true
              expect: {json: {$.name: Laptop}}
            """,
            client,
            defaults={"allow_redirects": False},
        )
    )
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {("GET", "/redirect"): (1, 0), ("GET", "followed"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_stats_names(harness, client):
    h = harness(
        scenario(
            """
            - get: /items
              save: {ids: {jsonpath: "$[*].id", pick: all}}
            - set: {item_id: "{{ ids[0] }}"}
            - get: /items/{{ item_id }}
            - set: {item_id: "{{ ids[1] }}"}
            - get: /items/{{ item_id }}
            - set: {item_id: "{{ ids[2] }}"}
            - get: /items/{{item_id|int}}
            - get: /items/{{ ids[1] }}
              name: Item detail
            - get: /items?category={{ category }}&limit={{ 1 + 1 }}
              expect: {json: {$: {length: 1}}}
            """,
            client,
            top="vars: {category: Books}",
        )
    )
    h.journey(h.user(), times=2)
    assert messages(h) == []
    assert counts(h) == {
        ("GET", "/items"): (2, 0),
        ("GET", "/items/{item_id}"): (6, 0),
        ("GET", "Item detail"): (2, 0),
        ("GET", "/items?category={category}&limit={1 + 1}"): (2, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_step_header_null_removes_a_default_header(harness, client):
    steps = """
    - get: /echo
      name: without
      headers: {X-Default: null}
      save: {without: $.headers}
    - get: /echo
      name: with
      save: {with: $.headers}
    """
    h = harness(scenario(steps, client, defaults={"headers": {"X-Default": "on", "X-Other": "kept"}}))
    user = h.user()
    scope = dict(user.vars)
    assert run_steps(user.persona_program.journeys[0].steps, user, scope)
    assert "x-default" not in scope["without"] and scope["without"]["x-other"] == "kept"
    assert scope["with"]["x-default"] == "on" and scope["with"]["x-other"] == "kept"
