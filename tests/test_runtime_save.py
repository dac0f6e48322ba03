"""``save``: every source and every ``pick``, defaults, missing values, and saved values used later.

Values saved in ``on_start`` land in the user's own variables (``user.vars``),
so they can be checked exactly from Python; the journeys then send them back
through ``/echo`` and check them with ``expect``, which proves they are usable
in later steps.
"""

from __future__ import annotations

import pytest
from runtime_support import CLIENTS, counts, messages, scenario

TEXT = "hello order=12345 code=ABC order=67890"


@pytest.mark.parametrize("client", CLIENTS)
def test_jsonpath_shorthand_and_object_form_chain_into_later_requests(harness, client):
    h = harness(
        scenario(
            """
            - get: /me
              headers: {Authorization: "Bearer {{ token }}"}
              expect:
                json: {$.id: "{{ uid }}"}
            - post: /echo
              json: {token: "{{ token }}", uid: "{{ uid }}", name: "{{ who }}"}
              expect:
                json:
                  $.json.uid: {type: integer, eq: "{{ uid }}"}
                  $.json.token: {eq: "{{ token }}", matches: "^tok-[0-9]+-ann$"}
                  $.json.name: ann
            """,
            client,
            on_start="""
            - post: /login
              json: {username: ann, password: secret}
              save:
                token: $.token
                uid: {jsonpath: $.user.id}
                who: {jsonpath: "$['user']['name']"}
            """,
        )
    )
    user = h.user()
    uid = user.vars["uid"]
    assert isinstance(uid, int)
    assert user.vars["token"] == f"tok-{uid}-ann"
    assert user.vars["who"] == "ann"
    h.journey(user, times=2)
    assert messages(h) == []
    assert counts(h) == {("POST", "/login"): (1, 0), ("GET", "/me"): (2, 0), ("POST", "/echo"): (2, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_header_cookie_status_and_body_sources(harness, client):
    h = harness(
        scenario(
            """
            - get: /echo
              params: {rid: "{{ rid }}", loc: "{{ loc }}", code: "{{ code }}"}
              expect:
                json:
                  $.args.rid: [req-42]
                  $.args.loc: [/items/102]
                  $.args.code: ["201"]
                  $.cookies.session: "s{{ uid }}"
            - get: /me
              headers: {Authorization: "Bearer {{ token }}"}
              expect:
                json: {$.session: "{{ sess }}"}
            """,
            client,
            on_start="""
            - post: /login
              json: {username: bob, password: secret}
              save:
                token: $.token
                uid: $.user.id
                sess: {cookie: session}
            - get: /headers
              save:
                rid: {header: X-Request-Id}
                loc: {header: location}
            - get: /status/201
              save: {code: {status: true}}
            - get: /text
              save: {text: {body: true}}
            """,
        )
    )
    user = h.user()
    assert user.vars["sess"] == f"s{user.vars['uid']}"
    assert user.vars["rid"] == "req-42"
    assert user.vars["loc"] == "/items/102"
    assert user.vars["code"] == 201
    assert user.vars["text"] == TEXT
    h.journey(user)
    assert messages(h) == []
    assert counts(h) == {
        ("POST", "/login"): (1, 0),
        ("GET", "/headers"): (1, 0),
        ("GET", "/status/201"): (1, 0),
        ("GET", "/text"): (1, 0),
        ("GET", "/echo"): (1, 0),
        ("GET", "/me"): (1, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_regex_groups_and_picks(harness, client):
    h = harness(
        scenario(
            """
            - post: /echo
              json: {order: "{{ order }}", orders: "{{ orders }}", code: "{{ code }}"}
              expect:
                json:
                  $.json.order: "12345"
                  $.json.orders: ["12345", "67890"]
                  $.json.code: ABC
            """,
            client,
            on_start=r"""
            - get: /text
              save:
                order: {regex: "order=(\\d+)"}
                second: {regex: "(order|code)=(\\w+)", group: 2}
                kind: {regex: "(order|code)=(\\w+)", group: 1, pick: 1}
                code: {regex: "code=(?P<code>\\w+)", group: code}
                whole: {regex: "order=\\d+"}
                last: {regex: "order=(\\d+)", pick: last}
                orders: {regex: "order=(\\d+)", pick: all}
                minus_one: {regex: "order=(\\d+)", pick: -1}
                index_zero: {regex: "order=(\\d+)", pick: 0}
                any_order: {regex: "order=(\\d+)", pick: random}
                whole_all: {regex: "[a-z]+=", pick: all}
            """,
        )
    )
    user = h.user()
    saved = {k: user.vars[k] for k in user.vars if k not in user.program.builtins}
    assert saved == {
        "order": "12345",
        "second": "12345",
        "kind": "code",
        "code": "ABC",
        "whole": "order=12345",
        "last": "67890",
        "orders": ["12345", "67890"],
        "minus_one": "67890",
        "index_zero": "12345",
        "any_order": saved["any_order"],
        "whole_all": ["order=", "code=", "order="],
    }
    assert saved["any_order"] in ("12345", "67890")
    h.journey(user)
    assert messages(h) == []
    assert counts(h) == {("GET", "/text"): (1, 0), ("POST", "/echo"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_jsonpath_picks_and_defaults(harness, client):
    h = harness(
        scenario(
            """
            - get: /items/{{ last }}
              expect:
                json: {$.name: Lamp}
            - post: /echo
              json: {ids: "{{ all }}", nothing: "{{ nothing }}", fallback: "{{ fallback }}"}
              expect:
                json:
                  $.json.ids: [101, 102, 103]
                  $.json.nothing: {type: "null", exists: true}
                  $.json.fallback: {eq: 7, type: integer}
            """,
            client,
            on_start="""
            - get: /items
              save:
                plain: $[*].id
                first: {jsonpath: "$[*].id", pick: first}
                last: {jsonpath: "$[*].id", pick: last}
                all: {jsonpath: "$[*].id", pick: all}
                second: {jsonpath: "$[*].id", pick: 1}
                minus_one: {jsonpath: "$[*].id", pick: -1}
                minus_three: {jsonpath: "$[*].id", pick: -3}
                any: {jsonpath: "$[*].id", pick: random}
                books: {jsonpath: "$[?category == 'Books'].name"}
                tags: $[0].tags
                last_tag: {jsonpath: "$[0].tags", pick: last}
                all_tags: {jsonpath: "$[0].tags", pick: all}
                out_of_range: {jsonpath: "$[*].id", pick: 3, default: none}
                below_range: {jsonpath: "$[*].id", pick: -4, default: none}
                no_tag: {jsonpath: "$[1].tags", pick: first, default: untagged}
                fallback: {jsonpath: $.nope, default: 7}
                nothing: {jsonpath: $.nope, default: null}
                templated: {jsonpath: "$[9].id", default: "id-{{ 40 + 2 }}"}
                missing_header: {header: X-Nope, default: ""}
                missing_cookie: {cookie: nope, default: no-cookie}
                missing_match: {regex: "zzz", default: [1, 2]}
            """,
        )
    )
    user = h.user()
    saved = {k: user.vars[k] for k in user.vars if k not in user.program.builtins}
    assert saved == {
        "plain": 101,
        "first": 101,
        "last": 103,
        "all": [101, 102, 103],
        "second": 102,
        "minus_one": 103,
        "minus_three": 101,
        "any": saved["any"],
        "books": "Novel",
        "tags": ["new", "sale"],
        "last_tag": "sale",
        "all_tags": ["new", "sale"],
        "out_of_range": "none",
        "below_range": "none",
        "no_tag": "untagged",
        "fallback": 7,
        "nothing": None,
        "templated": "id-42",
        "missing_header": "",
        "missing_cookie": "no-cookie",
        "missing_match": [1, 2],
    }
    assert saved["any"] in (101, 102, 103)
    h.journey(user)
    assert messages(h) == []
    assert counts(h) == {("GET", "/items"): (1, 0), ("GET", "/items/{last}"): (1, 0), ("POST", "/echo"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_default_may_read_the_response(harness, client):
    h = harness(
        scenario(
            """
            - get: /items
              save:
                code: {jsonpath: $.nope, default: "{{ status }}"}
                count: {jsonpath: $.nope, default: "{{ json | length }}"}
                first_name: {jsonpath: $.nope, default: "{{ json[0].name }}"}
            - post: /echo
              json: {code: "{{ code }}", count: "{{ count }}"}
              expect:
                json: {$.json.code: 200, $.json.count: 3}
            """,
            client,
        )
    )
    user = h.user()
    h.journey(user)
    assert messages(h) == []
    assert counts(h) == {("GET", "/items"): (1, 0), ("POST", "/echo"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_random_pick_is_one_of_the_matches_and_varies(harness, client):
    h = harness(
        scenario(
            """
            - get: /items/{{ item_id }}
              expect:
                json: {$.id: "{{ item_id }}"}
            """,
            client,
            on_start="""
            - get: /items
              save:
                item_id: {jsonpath: "$[*].id", pick: random}
            """,
        )
    )
    users = [h.user() for _ in range(30)]
    for user in users:
        h.journey(user)
    picked = {user.vars["item_id"] for user in users}
    # All 30 picks being the same id has probability 3 * (1/3)**30.
    assert picked <= {101, 102, 103}
    assert len(picked) > 1
    assert messages(h) == []
    assert counts(h) == {("GET", "/items"): (30, 0), ("GET", "/items/{item_id}"): (30, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_missing_value_without_default_fails_the_step_and_ends_the_run(harness, client):
    h = harness(
        scenario(
            """
            - get: /items
              save:
                found: $[0].id
                item_id: $.nope
            - get: /items/{{ item_id }}
            """,
            client,
        )
    )
    user = h.user()
    h.journey(user, times=2)
    assert messages(h) == ["save item_id: no value at $.nope"]
    assert counts(h) == {("GET", "/items"): (2, 2)}


@pytest.mark.parametrize("client", CLIENTS)
def test_every_missing_source_is_reported_in_one_message(harness, client):
    h = harness(
        scenario(
            r"""
            - get: /headers
              name: headers and cookie
              on_failure: continue
              save:
                rid: {header: X-Nope}
                sess: {cookie: nope}
                order: {regex: "order=(\\d{9})"}
                tag: {jsonpath: "$.ok", pick: 5}
                items: {jsonpath: "$[*].id", pick: all}
            - get: /text
              name: regex
              save:
                order: {regex: "order=(\\d{9})"}
                third: {regex: "order=(\\d+)", pick: 2}
            - get: /health
              name: never
            """,
            client,
        )
    )
    user = h.user()
    h.journey(user, times=2)
    assert messages(h) == [
        "save order: no match for regex 'order=(\\d{9})'; save third: no match at index 2 of regex 'order=(\\d+)'",
        "save rid: no header 'X-Nope'; save sess: no cookie 'nope'; "
        "save order: no match for regex 'order=(\\d{9})'; save tag: no match at index 5 of $.ok; "
        "save items: no value at $[*].id",
    ]
    assert counts(h) == {("GET", "headers and cookie"): (2, 2), ("GET", "regex"): (2, 2)}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_value_saved_in_one_journey_run_is_not_left_for_the_next(harness, client):
    """Each journey run starts from the user's variables: saves of a run do not leak into the next."""
    h = harness(
        scenario(
            """
            - get: /echo
              params: {seen: "{{ item_id }}"}
              expect:
                json: {$.args.seen: ["0"]}
            - get: /items
              save: {item_id: "$[0].id"}
            - get: /items/{{ item_id }}
            """,
            client,
            top="vars: {item_id: 0}",
        )
    )
    user = h.user()
    h.journey(user, times=2)
    assert messages(h) == []
    assert user.vars["item_id"] == 0
    assert counts(h) == {("GET", "/echo"): (2, 0), ("GET", "/items"): (2, 0), ("GET", "/items/{item_id}"): (2, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_json_is_read_as_utf8_or_in_the_charset_the_response_declares(harness, client):
    """JSON bytes are parsed as UTF-8 (UTF-16 and UTF-32 recognised); other bytes in the declared charset."""
    h = harness(
        scenario(
            "- get: /health",
            client,
            on_start="""
            - get: /encoded/plain
              save: {plain: $.name}
              expect: {json: {$.name: café ü}}
            - get: /encoded/utf-8
              save: {utf8: $.name}
            - get: /encoded/utf-16
              save: {utf16: $.name}
            - get: /encoded/latin-1
              save: {latin1: $.name}
            - get: /text
              name: not json
              save: {nothing: $.name}
            """,
        )
    )
    user = h.user()
    assert [user.vars.get(name) for name in ("plain", "utf8", "utf16", "latin1")] == ["café ü"] * 4
    assert "nothing" not in user.vars
    assert messages(h) == ["save nothing: response body is not JSON"]
