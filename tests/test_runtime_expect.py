"""``expect``: every kind of check passing and failing, with the exact, stable failure messages.

Each failing check gets a request of its own (``name:``, ``on_failure:
continue``) so that the stats show exactly which ones failed and with what.
"""

from __future__ import annotations

import json
import logging

import pytest
from runtime_support import CLIENTS, counts, messages, occurrences, scenario


def check_each(harness, client, checks: list[tuple[str, str, str]], top: str = ""):
    """One request per (name, path, expect-YAML-flow-mapping); run the journey once."""
    steps = "\n".join(
        f"- get: {path}\n  name: {name}\n  on_failure: continue\n  expect: {expect}" for name, path, expect in checks
    )
    h = harness(scenario(steps, client, top=top))
    h.journey(h.user())
    return h


@pytest.mark.parametrize("client", CLIENTS)
def test_status_checks(harness, client):
    h = check_each(
        harness,
        client,
        [
            ("single ok", "/status/201", "{status: 201}"),
            ("single bad", "/status/404", "{status: 200}"),
            ("list ok", "/status/404", "{status: [200, 404]}"),
            ("list bad", "/status/500", "{status: [200, 201]}"),
            ("class ok", "/status/204", "{status: 2xx}"),
            ("class bad", "/status/302", "{status: 2xx}"),
            ("mixed ok", "/status/409", '{status: [2xx, 409, "4xx"]}'),
            ("mixed bad", "/status/503", "{status: [2xx, 409]}"),
            ("server error ok", "/status/503", "{status: 5xx}"),
            ("default ok", "/status/399", "{}"),
            ("default bad", "/status/404", "{}"),
            ("default bad 500", "/status/500", "{json: {$.code: 500}}"),
        ],
    )
    assert messages(h) == [
        "status 302, expected 2xx",
        "status 404, expected 200",
        "status 404, status < 400",
        "status 500, expected 200, 201",
        "status 500, status < 400",
        "status 503, expected 2xx, 409",
    ]
    assert counts(h) == {
        ("GET", "single ok"): (1, 0),
        ("GET", "single bad"): (1, 1),
        ("GET", "list ok"): (1, 0),
        ("GET", "list bad"): (1, 1),
        ("GET", "class ok"): (1, 0),
        ("GET", "class bad"): (1, 1),
        ("GET", "mixed ok"): (1, 0),
        ("GET", "mixed bad"): (1, 1),
        ("GET", "server error ok"): (1, 0),
        ("GET", "default ok"): (1, 0),
        ("GET", "default bad"): (1, 1),
        ("GET", "default bad 500"): (1, 1),
    }
    assert messages(h, "default bad") == ["status 404, status < 400"]
    assert messages(h, "default bad 500") == ["status 500, status < 400"]


@pytest.mark.parametrize("client", CLIENTS)
def test_without_expect_a_status_of_400_or_more_fails(harness, client):
    h = harness(
        scenario(
            """
            - get: /status/399
            - get: /items/999
            - get: /health
            """,
            client,
        )
    )
    h.journey(h.user())
    assert messages(h) == ["status 404, status < 400"]
    assert counts(h) == {("GET", "/status/399"): (1, 0), ("GET", "/items/999"): (1, 1)}


# (name, path, expect) -> passing checks on /items/102 {"id": 102, "name": "Novel", "price": 12,
# "category": "Books", "tags": []} and friends.
PASSING_JSON = [
    ("eq shorthand", "/items/102", "{json: {$.name: Novel, $.price: 12, $.tags: []}}"),
    ("eq explicit", "/items/102", '{json: {$.name: {eq: Novel}, $.id: {eq: 102}, $.category: {eq: "Books"}}}'),
    ("eq float", "/items/101", "{json: {$.price: 999.5, $.tags: [new, sale]}}"),
    ("eq object", "/items/103", "{json: {$: {eq: {id: 103, name: Lamp, price: 30, category: Home, tags: [sale]}}}}"),
    ("ne", "/items/102", "{json: {$.name: {ne: Laptop}, $.price: {ne: 13}}}"),
    ("gt ge lt le", "/items/102", "{json: {$.price: {gt: 11, ge: 12, lt: 13, le: 12}}}"),
    ("gt float", "/items/101", "{json: {$.price: {gt: 999.4, lt: 999.6}}}"),
    ("number as text", "/items/102", '{json: {$.price: {gt: "11.5"}}}'),
    ("in list", "/items/102", "{json: {$.category: {in: [Books, Home]}, $.id: {in: [101, 102]}}}"),
    ("in string", "/items/102", "{json: {$.category: {in: BooksAndMore}}}"),
    ("contains string", "/items/102", "{json: {$.name: {contains: ove}}}"),
    ("contains list", "/items/101", "{json: {$.tags: {contains: sale}}}"),
    ("contains object", "/items/101", "{json: {$: {contains: category}}}"),
    ("contains multi", "/items", "{json: {'$[*].id': {contains: 103}}}"),
    ("matches", "/items/102", '{json: {$.name: {matches: "^Nov"}, $.id: {matches: "^10[0-9]$"}}}'),
    ("exists", "/items/102", "{json: {$.name: {exists: true}, $.nope: {exists: false}, $.tags: {exists: true}}}"),
    ("exists multi", "/items", "{json: {'$[*].id': {exists: true}, '$[*].nope': {exists: false}}}"),
    (
        "type",
        "/items/101",
        "{json: {$.id: {type: integer}, $.price: {type: number}, $.name: {type: string}, "
        "$.tags: {type: array}, $: {type: object}}}",
    ),
    ("type integer is a number", "/items/102", "{json: {$.price: {type: number}}}"),
    ("type boolean null", "/echo", '{json: {$.json: {type: "null"}, $.args: {type: object}}}'),
    ("length", "/items/102", "{json: {$.name: {length: 5}, $.tags: {length: 0}, $: {length: 5}}}"),
    ("min max length", "/items", "{json: {$: {min_length: 3, max_length: 3}, '$[*].id': {length: 3}}}"),
    ("multi eq", "/items", "{json: {'$[*].price': [999.5, 12, 30]}}"),
    ("several ops", "/items/102", "{json: {$.price: {type: integer, gt: 0, in: [12, 13], ne: 0}}}"),
]


@pytest.mark.parametrize("client", CLIENTS)
def test_json_operators_passing(harness, client):
    h = check_each(harness, client, PASSING_JSON)
    assert messages(h) == []
    assert counts(h) == {("GET", name): (1, 0) for name, _, _ in PASSING_JSON}


FAILING_JSON = [
    ("eq shorthand", "/items/102", "{json: {$.name: Laptop}}", "$.name: expected == Laptop"),
    ("eq explicit", "/items/102", "{json: {$.price: {eq: 13}}}", "$.price: expected == 13"),
    ("eq is typed", "/items/102", '{json: {$.price: "12"}}', "$.price: expected == 12"),
    ("eq list", "/items/101", "{json: {$.tags: [sale, new]}}", '$.tags: expected == ["sale", "new"]'),
    ("ne", "/items/102", "{json: {$.name: {ne: Novel}}}", "$.name: expected != Novel"),
    ("gt", "/items/102", "{json: {$.price: {gt: 12}}}", "$.price: expected > 12"),
    ("ge", "/items/102", "{json: {$.price: {ge: 13}}}", "$.price: expected >= 13"),
    ("lt", "/items/102", "{json: {$.price: {lt: 12}}}", "$.price: expected < 12"),
    ("le", "/items/102", "{json: {$.price: {le: 11}}}", "$.price: expected <= 11"),
    ("gt on text", "/items/102", "{json: {$.name: {gt: 1}}}", "$.name: expected a number > 1"),
    ("gt not a number", "/items/102", "{json: {$.price: {gt: lots}}}", "$.price: > lots: not a number"),
    ("in", "/items/102", "{json: {$.category: {in: [Home]}}}", '$.category: expected in ["Home"]'),
    ("contains string", "/items/102", "{json: {$.name: {contains: xyz}}}", "$.name: expected contains xyz"),
    ("contains list", "/items/102", "{json: {$.tags: {contains: sale}}}", "$.tags: expected contains sale"),
    ("contains object", "/items/102", "{json: {$: {contains: stock}}}", "$: expected contains stock"),
    (
        "contains number",
        "/items/102",
        "{json: {$.price: {contains: 1}}}",
        "$.price: expected a string, list or object that contains 1",
    ),
    ("matches", "/items/102", '{json: {$.name: {matches: "^Lap"}}}', "$.name: expected matches ^Lap"),
    ("exists", "/items/102", "{json: {$.stock: {exists: true}}}", "$.stock: missing"),
    ("exists multi", "/items", "{json: {'$[*].stock': {exists: true}}}", "$[*].stock: missing"),
    ("absent", "/items/102", "{json: {$.name: {exists: false}}}", "$.name: present, expected absent"),
    ("absent multi", "/items", "{json: {'$[*].id': {exists: false}}}", "$[*].id: present, expected absent"),
    ("missing", "/items/102", "{json: {$.stock: 5}}", "$.stock: missing"),
    ("missing op", "/items/102", "{json: {$.stock: {gt: 5}}}", "$.stock: missing"),
    ("missing twice", "/items/102", "{json: {$.stock: {gt: 5, lt: 9}}}", "$.stock: missing"),
    ("type", "/items/101", "{json: {$.price: {type: integer}}}", "$.price: expected type integer"),
    ("type string", "/items/102", "{json: {$.id: {type: string}}}", "$.id: expected type string"),
    ("length", "/items/102", "{json: {$.name: {length: 4}}}", "$.name: expected length 4"),
    ("min_length", "/items", "{json: {$: {min_length: 4}}}", "$: expected min length 4"),
    ("max_length", "/items", "{json: {$: {max_length: 2}}}", "$: expected max length 2"),
    ("multi length", "/items", "{json: {'$[*].id': {length: 2}}}", "$[*].id: expected length 2"),
    (
        "no length",
        "/items/102",
        "{json: {$.price: {length: 2}}}",
        "$.price: expected length 2, got a value without a length",
    ),
]


@pytest.mark.parametrize("client", CLIENTS)
def test_json_operators_failing(harness, client):
    h = check_each(harness, client, [(name, path, expect) for name, path, expect, _ in FAILING_JSON])
    for name, _, _, message in FAILING_JSON:
        assert messages(h, name) == [message], name
    assert counts(h) == {("GET", name): (1, 1) for name, _, _, _ in FAILING_JSON}


@pytest.mark.parametrize("client", CLIENTS)
def test_header_checks(harness, client):
    h = check_each(
        harness,
        client,
        [
            ("eq", "/headers", "{headers: {X-Request-Id: req-42, location: {eq: /items/102}}}"),
            ("case", "/headers", "{headers: {x-request-id: {eq: req-42}, LOCATION: /items/102}}"),
            ("contains", "/headers", "{headers: {Content-Type: {contains: json}}}"),
            ("exists", "/headers", "{headers: {X-Request-Id: {exists: true}, X-Nope: {exists: false}}}"),
            ("number", "/headers", "{headers: {Content-Length: {eq: 12}}}"),
            ("matches", "/headers", '{headers: {X-Request-Id: {matches: "^req-[0-9]+$"}}}'),
            (
                "numbers",
                "/headers",
                "{headers: {Content-Length: {gt: 5, ge: 12, lt: 12.5, le: 12, in: [11, 12], ne: 0}}}",
            ),
            (
                "templated",
                "/headers",
                '{headers: {Content-Length: "{{ size }}", X-Request-Id: "req-{{ size * 3 + 6 }}"}}',
            ),
            ("length", "/headers", "{headers: {X-Request-Id: {length: 6, type: string}}}"),
            ("bad eq", "/headers", "{headers: {X-Request-Id: req-43}}"),
            ("bad contains", "/headers", "{headers: {Content-Type: {contains: xml}}}"),
            ("bad exists", "/headers", "{headers: {X-Nope: {exists: true}}}"),
            ("bad absent", "/headers", "{headers: {x-request-id: {exists: false}}}"),
            ("bad missing", "/headers", "{headers: {X-Nope: abc}}"),
            ("bad gt", "/headers", "{headers: {Content-Length: {gt: 12}}}"),
            ("bad in", "/headers", "{headers: {Content-Length: {in: [1, 2]}}}"),
            ("bad number", "/headers", "{headers: {X-Request-Id: {lt: 100}}}"),
            ("bad templated", "/headers", '{headers: {Content-Length: {ne: "{{ size }}"}}}'),
        ],
        top="vars: {size: 12}",
    )
    assert messages(h, "bad eq") == ["header X-Request-Id: expected == req-43"]
    assert messages(h, "bad contains") == ["header Content-Type: expected contains xml"]
    assert messages(h, "bad exists") == ["header X-Nope: missing"]
    assert messages(h, "bad absent") == ["header x-request-id: present, expected absent"]
    assert messages(h, "bad missing") == ["header X-Nope: missing"]
    assert messages(h, "bad gt") == ["header Content-Length: expected > 12"]
    assert messages(h, "bad in") == ["header Content-Length: expected in [1, 2]"]
    assert messages(h, "bad number") == ["header X-Request-Id: expected a number < 100"]
    assert messages(h, "bad templated") == ["header Content-Length: expected != {{ size }}"]
    assert len(messages(h)) == 9
    good = ("eq", "case", "contains", "exists", "number", "matches", "numbers", "templated", "length")
    assert {k: v for k, v in counts(h).items() if k[1] in good} == {("GET", n): (1, 0) for n in good}


@pytest.mark.parametrize("client", CLIENTS)
def test_body_checks_and_max_ms(harness, client):
    h = check_each(
        harness,
        client,
        [
            ("contains", "/text", "{body_contains: order=12345}"),
            ("contains list", "/text", '{body_contains: [hello, "code=ABC"]}'),
            ("matches", "/text", '{body_matches: "code=[A-Z]+ order"}'),
            ("json body", "/items/102", '{body_contains: \'"name":\', body_matches: "Nov.l"}'),
            ("fast enough", "/health", "{max_ms: 5000}"),
            ("bad contains", "/text", "{body_contains: goodbye}"),
            ("bad contains list", "/text", "{body_contains: [hello, goodbye, ciao]}"),
            ("bad matches", "/text", '{body_matches: "code=[0-9]+"}'),
            ("too slow", "/slow?ms=150", "{max_ms: 50}"),
        ],
    )
    assert messages(h, "bad contains") == ["body does not contain 'goodbye'"]
    assert messages(h, "bad contains list") == ["body does not contain 'goodbye'; body does not contain 'ciao'"]
    assert messages(h, "bad matches") == ["body does not match 'code=[0-9]+'"]
    assert messages(h, "too slow") == ["took longer than 50 ms"]
    assert len(messages(h)) == 4
    good = ("contains", "contains list", "matches", "json body", "fast enough")
    assert {k: v for k, v in counts(h).items() if k[1] in good} == {("GET", n): (1, 0) for n in good}


ITEM_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["id", "price"],
        "properties": {"id": {"type": "integer"}, "price": {"type": "number"}},
    },
}


@pytest.mark.parametrize("client", CLIENTS)
def test_schema_inline_and_from_files_next_to_the_scenario(harness, client, tmp_path):
    (tmp_path / "items.schema.json").write_text(json.dumps(ITEM_SCHEMA), encoding="utf-8")
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "item.yaml").write_text(
        "type: object\nrequired: [id, name]\nproperties:\n  id: {type: integer}\n  name: {type: string}\n",
        encoding="utf-8",
    )
    inline = json.dumps(ITEM_SCHEMA)
    h = check_each(
        harness,
        client,
        [
            ("inline ok", "/items", f"{{schema: {inline}}}"),
            ("file ok", "/items", "{schema: items.schema.json}"),
            ("yaml file ok", "/items/101", "{schema: schemas/item.yaml}"),
            ("true ok", "/items", "{schema: true}"),
            ("false schema", "/items", "{schema: false}"),
            ("inline bad", "/schema-bad", f"{{schema: {inline}}}"),
            ("file bad", "/schema-bad", "{schema: items.schema.json}"),
            ("yaml file bad", "/items", "{schema: schemas/item.yaml}"),
            (
                "required",
                "/items/102",
                '{schema: {type: object, required: [stock], "$schema": "http://json-schema.org/draft-07/schema#"}}',
            ),
            ("not json", "/text", "{schema: items.schema.json}"),
        ],
    )
    assert messages(h, "inline bad") == ["schema: $[*].price fails 'type'"]
    assert messages(h, "file bad") == ["schema: $[*].price fails 'type'"]
    assert messages(h, "yaml file bad") == ["schema: $ fails 'type'"]
    assert messages(h, "required") == ["schema: $ fails 'required'"]
    assert messages(h, "not json") == ["schema: response body is not JSON"]
    assert messages(h, "false schema") == ["schema: $ fails 'false'"]
    assert len(messages(h)) == 6
    good = ("inline ok", "file ok", "yaml file ok", "true ok")
    assert {k: v for k, v in counts(h).items() if k[1] in good} == {("GET", n): (1, 0) for n in good}


@pytest.mark.parametrize("client", CLIENTS)
def test_every_unmet_expectation_of_a_step_is_joined_into_one_message(harness, client):
    h = harness(
        scenario(
            """
            - get: /items/{{ item_id }}
              expect:
                status: 201
                json:
                  $.name: Laptop
                  $.price: {gt: 100, type: string}
                  $.stock: {exists: true}
                headers:
                  X-Nope: {exists: true}
                  Content-Type: {contains: xml}
                body_contains: [Zebra, Novel]
                body_matches: "^nope"
                schema: {type: object, required: [stock]}
              save:
                stock: $.stock
            - get: /health
            """,
            client,
            top="vars: {item_id: 102}",
        )
    )
    h.journey(h.user(), times=3)
    expected = (
        "status 200, expected 201; $.name: expected == Laptop; $.price: expected > 100; "
        "$.price: expected type string; $.stock: missing; header X-Nope: missing; "
        "header Content-Type: expected contains xml; body does not contain 'Zebra'; "
        "body does not match '^nope'; schema: $ fails 'required'"  # a failed response saves nothing
    )
    assert messages(h) == [expected]
    assert occurrences(h) == {("GET", "/items/{item_id}", expected): 3}
    assert counts(h) == {("GET", "/items/{item_id}"): (3, 3)}


@pytest.mark.parametrize("client", CLIENTS)
def test_failures_for_different_ids_share_one_error_row(harness, client):
    """Messages quote the expectation, not the actual value: one error row however many IDs fail."""
    h = harness(
        scenario(
            """
            - get: /items
              save: {ids: {jsonpath: "$[*].id", pick: all}}
            - set: {item_id: "{{ ids[0] }}"}
            - get: /items/{{ item_id }}
              on_failure: continue
              expect: {json: {$.price: {gt: 1000}, $.name: {eq: "{{ wanted }}"}}}
            - set: {item_id: "{{ ids[1] }}"}
            - get: /items/{{ item_id }}
              on_failure: continue
              expect: {json: {$.price: {gt: 1000}, $.name: {eq: "{{ wanted }}"}}}
            - set: {item_id: "{{ ids[2] }}"}
            - get: /items/{{ item_id }}
              on_failure: continue
              expect: {json: {$.price: {gt: 1000}, $.name: {eq: "{{ wanted }}"}}}
            """,
            client,
            top="vars: {wanted: Sofa}",
        )
    )
    h.journey(h.user())
    message = "$.price: expected > 1000; $.name: expected == {{ wanted }}"
    assert occurrences(h) == {("GET", "/items/{item_id}", message): 3}
    assert counts(h) == {("GET", "/items"): (1, 0), ("GET", "/items/{item_id}"): (3, 3)}


@pytest.mark.parametrize("client", CLIENTS)
def test_templated_expectations_use_the_users_values(harness, client):
    h = harness(
        scenario(
            """
            - get: /items/{{ item_id }}
              expect:
                json:
                  $.id: "{{ item_id }}"
                  $.name: {eq: "{{ names[1] }}", ne: "{{ names[0] }}", contains: "{{ names[1][:3] }}"}
                  $.price: {gt: "{{ low }}", lt: "{{ low * 2 }}"}
                  $.category: {in: "{{ categories }}"}
                  $.tags: {length: "{{ low - 10 }}", max_length: "{{ low }}"}
                body_contains: "{{ names[1] }}"
            """,
            client,
            top="""
            vars:
              item_id: 102
              names: [Laptop, Novel]
              low: 10
              categories: [Books, Home]
            """,
        )
    )
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {("GET", "/items/{item_id}"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_debug_log_names_an_absent_value_in_words(harness, client, caplog):
    h = check_each(harness, client, [("absent", "/items/102", "{json: {$.stock: {gt: 5, lt: 9}}}")])
    with caplog.at_level(logging.DEBUG, logger="engine"):
        h.journey(h.user(), times=1)
    assert "$.stock: missing (actual: absent)" in caplog.text
    assert "object at 0x" not in caplog.text
