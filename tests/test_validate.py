"""The scenario JSON Schema itself, and how its errors are put in plain words (engine.validate)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from engine.errors import ScenarioError
from engine.load import check_file
from engine.source import parse_text
from engine.validate import SCHEMA_FILE, describe, schema, validate

ROOT = Path(__file__).resolve().parent.parent


def problems(text: str) -> list[str]:
    """Schema problems of a YAML text, as ``line:col: message (hint)``, in file order."""
    data = parse_text(textwrap.dedent(text).lstrip("\n"), "t.yaml")
    found = sorted(validate(data), key=ScenarioError.sort_key)
    return [str(error).removeprefix("t.yaml:") for error in found]


def steps(*lines: str) -> str:
    """A scenario whose only journey has these step lines (already indented as list items)."""
    return "version: 1\njourneys:\n  browse:\n    steps:\n" + "".join(f"      {line}\n" for line in lines)


# -- the schema --------------------------------------------------------------------------------


def test_engine_reads_the_schema_in_schemas_folder() -> None:
    assert SCHEMA_FILE.resolve() == ROOT / "schemas" / "scenario.schema.json"
    assert schema()["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_schema_passes_its_metaschema() -> None:
    jsonschema.Draft7Validator.check_schema(schema())


def _subschemas(node: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object below ``node`` (through properties, definitions, anyOf, items, ...)."""
    if not isinstance(node, dict):
        return
    yield pointer, node
    for keyword in ("properties", "patternProperties", "definitions"):
        for name, sub in node.get(keyword, {}).items():
            yield from _subschemas(sub, f"{pointer}/{keyword}/{name}")
    for keyword in ("anyOf", "oneOf", "allOf"):
        for index, sub in enumerate(node.get(keyword, [])):
            yield from _subschemas(sub, f"{pointer}/{keyword}/{index}")
    for keyword in ("items", "additionalProperties", "propertyNames", "not"):
        yield from _subschemas(node.get(keyword), f"{pointer}/{keyword}")


def test_walk_reaches_nested_properties() -> None:
    pointers = {pointer for pointer, _ in _subschemas(schema(), "#")}
    assert "#/definitions/thinkStep/properties/think/anyOf/1/properties/between" in pointers
    assert "#/definitions/wait/anyOf/4/properties/throughput" in pointers
    assert "#/definitions/extractor/anyOf/1/properties/pick" in pointers


def test_every_property_has_a_description() -> None:
    missing = [
        f"{pointer}/properties/{name}"
        for pointer, node in _subschemas(schema(), "#")
        for name, sub in node.get("properties", {}).items()
        if isinstance(sub, dict) and not sub.get("description")
    ]
    assert missing == []


def _resolve(ref: str) -> Any:
    node: Any = schema()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_ref_resolves_and_every_definition_is_used() -> None:
    refs = {node["$ref"] for _, node in _subschemas(schema(), "#") if "$ref" in node}
    for ref in refs:
        assert isinstance(_resolve(ref), dict), ref
    used = {ref.removeprefix("#/definitions/") for ref in refs}
    assert sorted(set(schema()["definitions"]) - used) == []


def test_every_example_in_the_schema_is_valid() -> None:
    validator = jsonschema.Draft7Validator(schema())
    checked = 0
    for pointer, node in _subschemas(schema(), "#"):
        for example in node.get("examples", []):
            errors = [error.message for error in validator.evolve(schema=node).iter_errors(example)]
            assert errors == [], f"{pointer}: example {example!r}"
            checked += 1
    assert checked > 20


# -- message translation -----------------------------------------------------------------------


def test_valid_scenario_has_no_schema_problem() -> None:
    text = """
        version: 1
        x-common: &common {Accept: application/json}
        users:
          Shopper:
            wait: {between: [1, 2s]}
            journeys:
              browse:
                steps:
                  - get: /items
                    headers: *common
                    expect: {status: [200, 2xx], json: {"$.items": {min_length: 1}}}
                    save: {first: "$.items[0].id", all: {jsonpath: "$.items[*].id", pick: all}}
                  - think: {between: ["500ms", 1]}
                  - set: {n: 1}
                  - log: "{{ n }}"
        """
    assert problems(text) == []


def test_unknown_key_is_reported_at_the_key_with_did_you_mean() -> None:
    text = """
        version: 1
        users:
          Shopper:
            wieght: 2
            journeys:
              browse: {steps: [{get: /}]}
        """
    assert problems(text) == ["4:5: users.Shopper: unknown key 'wieght' (did you mean 'weight'?)"]


def test_unknown_top_level_key_without_a_close_name_has_no_hint() -> None:
    assert problems("version: 1\nzzz: 1\njourneys: {a: {steps: []}}\n") == ["2:1: unknown key 'zzz'"]


def test_enum_value_is_reported_at_the_value_with_did_you_mean() -> None:
    text = "version: 1\ndefaults:\n  client: fats\njourneys: {a: {steps: []}}\n"
    assert problems(text) == ["3:11: defaults.client: expected one of http, fast, got 'fats' (did you mean 'fast'?)"]


def test_enum_value_far_from_every_choice_has_no_hint() -> None:
    text = steps("- get: /", "  on_failure: explode")
    assert problems(text) == [
        "6:21: journeys.browse.steps[0].on_failure: expected one of stop, continue, got 'explode'"
    ]


def test_const_says_what_was_found() -> None:
    assert problems("version: '1'\njourneys: {a: {steps: []}}\n") == [
        "1:10: version: expected 1, got '1' (write 1 without quotes)"
    ]


def test_think_step_with_misspelt_between_explains_the_think_branch_only() -> None:
    text = steps("- think: {betwen: [1, 3]}")
    assert problems(text) == ["5:17: journeys.browse.steps[0].think: unknown key 'betwen' (did you mean 'between'?)"]


def test_think_step_with_a_bad_duration_uses_the_duration_message() -> None:
    text = steps("- think: 3 seconds")
    assert problems(text) == [
        "5:16: journeys.browse.steps[0].think: expected a duration like 500ms, 2s, 1.5m or 1h, or a number of seconds"
        " (0 or more), got '3 seconds' (write 3s)"
    ]


def test_request_step_with_misspelt_expect_explains_the_request_branch_only() -> None:
    text = steps("- get: /items", "  expct: {status: 200}")
    assert problems(text) == ["6:9: journeys.browse.steps[0]: unknown key 'expct' (did you mean 'expect'?)"]


def test_request_step_with_wrong_types_is_not_mistaken_for_a_headers_step() -> None:
    # `headers` is also what makes a headers step; the request branch knows every key, so it is the one explained.
    text = steps("- get: 42", "  headers: [Accept]", "  allow_redirects: 'yes'")
    assert problems(text) == [
        "5:14: journeys.browse.steps[0].get: expected a string, got an integer",
        "6:18: journeys.browse.steps[0].headers: expected a mapping, got a list",
        "7:26: journeys.browse.steps[0].allow_redirects: expected true or false, got a string",
    ]


def test_step_with_two_kinds_says_they_cannot_be_combined() -> None:
    text = steps("- headers: {Accept: json}", "  log: hello")
    assert problems(text) == [
        "6:9: journeys.browse.steps[0]: 'log' cannot be combined with 'headers' (split it into two steps)"
    ]


def test_wait_with_two_kinds_says_keep_one() -> None:
    text = "version: 1\njourneys:\n  a:\n    wait: {between: [1, 2], pacing: 3}\n    steps: []\n"
    assert problems(text) == [
        "4:29: journeys.a.wait: 'pacing' cannot be combined with 'between' (keep only one of them)"
    ]


KINDS = (
    "get, post, put, patch, delete, head, options, graphql, think, headers, set, log, if, loop, choose, poll, use, feed"
)


def test_step_without_a_kind_lists_the_kinds() -> None:
    text = steps("- name: list items")
    assert problems(text) == [f"5:9: journeys.browse.steps[0]: missing key: expected one of {KINDS}"]


def test_unknown_step_kind_lists_the_kinds_with_did_you_mean() -> None:
    text = steps("- gett: /items")
    assert problems(text) == [
        f"5:9: journeys.browse.steps[0]: unknown key 'gett': expected one of {KINDS} (did you mean 'get'?)"
    ]


def test_extractor_object_with_two_sources_passes_the_schema_and_fails_one_source_check(tmp_path: Path) -> None:
    text = steps("- get: /items", "  save:", "    token: {jsonpath: $.token, header: X-Token}")
    assert problems(text) == []  # no noise from the anyOf of sources
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    assert [str(e) for e in check_file(path)] == [
        f"{path}:7:38: an extractor reads one source: found both 'jsonpath' and 'header'"
    ]


def test_extractor_object_without_a_source_lists_the_sources_with_did_you_mean() -> None:
    text = steps("- get: /items", "  save:", "    token: {jsonpth: $.token}")
    assert problems(text) == [
        "7:19: journeys.browse.steps[0].save.token: unknown key 'jsonpth': expected one of jsonpath, header, cookie,"
        " regex, status, body "
        "(did you mean 'jsonpath'?)"
    ]


def test_extractor_string_must_be_a_jsonpath() -> None:
    text = steps("- get: /items", "  save: {token: token}")
    assert problems(text) == [
        "6:23: journeys.browse.steps[0].save.token: expected a JSONPath starting with $ (or an extractor object),"
        " got 'token'"
    ]


def test_missing_users_and_journeys(tmp_path: Path) -> None:
    # The schema allows it (a file of reusable pieces is included by others); a scenario to run needs them.
    assert problems("version: 1\nname: shop\n") == []
    path = tmp_path / "pieces.yaml"
    path.write_text("version: 1\nname: shop\n", encoding="utf-8")
    assert [str(e) for e in check_file(path)] == [
        f"{path}:1:1: a scenario needs users: or journeys: (a file with only vars, fragments, data or services"
        " can be included by a scenario, not run)"
    ]


def test_missing_version() -> None:
    assert problems("journeys: {a: {steps: []}}\n") == ["1:1: missing required key 'version'"]


def test_bad_name_is_reported_at_the_key() -> None:
    text = "version: 1\nvars:\n  ok: 1\n  2fast: 2\njourneys: {a: {steps: []}}\n"
    assert problems(text) == [
        "4:3: vars: '2fast' must be a name made of letters, digits and _, not starting with a digit"
    ]


def test_json_expectation_keys_must_be_jsonpaths() -> None:
    text = steps("- get: /", "  expect: {json: {name: x}}")
    assert problems(text) == ["6:25: journeys.browse.steps[0].expect.json: 'name' must be a JSONPath starting with $"]


def test_status_messages() -> None:
    text = steps("- get: /", "  expect: {status: 700}", "- get: /", "  expect: {status: []}")
    assert problems(text) == [
        "6:26: journeys.browse.steps[0].expect.status: expected a status code like 200, or a class like 2xx, got 700",
        "8:26: journeys.browse.steps[1].expect.status: expected a list of at least 1 item, got 0 items",
    ]


def test_minimum_and_type_messages() -> None:
    text = "version: 1\njourneys:\n  a:\n    weight: 0\n    tags: read\n    steps: []\n"
    assert problems(text) == [
        "4:13: journeys.a.weight: expected 1 or more, got 0",
        "5:11: journeys.a.tags: expected a list, got a string",
    ]


def test_a_type_error_names_the_key_and_the_expected_form() -> None:
    text = """
    version: 1
    users:
      Shopper:
        weight: "3"
        wait: {between: 1}
        journeys: {browse: {steps: [{get: /}]}}
    """
    assert problems(text) == [
        "4:13: users.Shopper.weight: expected an integer, got a string (write 3 without quotes)",
        "5:21: users.Shopper.wait.between: expected a list [min, max], got an integer",
    ]


def test_a_yaml_boolean_where_text_belongs_gets_a_hint() -> None:
    assert problems(steps("- get: /", "  name: yes")) == [
        "6:15: journeys.browse.steps[0].name: expected a string, got true/false (unquoted, YAML reads yes, no, "
        "on, off, true and false as booleans: put the text in quotes)"
    ]


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "OFF"])
def test_yes_no_on_off_as_names_get_a_hint_about_yaml_booleans(word: str) -> None:
    value = str(word.lower() in ("yes", "on")).lower()
    text = f"""
    version: 1
    vars:
      {word}: 1
    users:
      {word}:
        journeys: {{browse: {{steps: [{{get: /}}]}}}}
    """
    expected = (
        f"'{word}' is read by YAML as the boolean {value}, not a name (quote it ('{word}'), or choose another name)"
    )
    assert problems(text) == [f"3:3: vars: {expected}", f"5:3: users: {expected}"]


def test_an_unknown_key_in_a_profile_is_reported_once() -> None:
    text = """
    version: 1
    journeys: {browse: {steps: [{get: /}]}}
    load:
      profiles:
        smoke:
          ramps: {users: 2, up: 1s}
          bogus: 1
    """
    assert problems(text) == [
        "6:7: load.profiles.smoke: unknown key 'ramps': expected one of stages, ramp, step, spike, wave, soak"
        " (did you mean 'ramp'?)",
        "7:7: load.profiles.smoke: unknown key 'bogus': expected one of stages, ramp, step, spike, wave, soak",
    ]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "null"),
        (True, "true/false"),
        (3, "an integer"),
        (1.5, "a number"),
        ("x", "a string"),
        ([1], "a list"),
        ({"a": 1}, "a mapping"),
    ],
)
def test_describe(value: Any, words: str) -> None:
    assert describe(value) == words


# -- every schema message starts with the key path and says the expected form -------------------------------------


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ("10 seconds", "write 10s"),
        ("5sec", "write 5s"),
        ("1.5 Min", "write 1.5m"),
        ("2 hrs", "write 2h"),
        ("250 milliseconds", "write 250ms"),
        ("2d", "write 48h"),
        ("'5'", "write 5s"),
        ("-1", "a duration cannot be negative"),
        ("-2s", "a duration cannot be negative"),
        ("abc", None),
        ("5 fortnights", None),
    ],
)
def test_a_duration_error_names_the_key_the_form_and_the_fix(value: str, fix: str | None) -> None:
    found = value.strip("'")
    shown = found if value.startswith("-") and found[-1].isdigit() else f"'{found}'"
    message = (
        "4:12: defaults.timeout: expected a duration like 500ms, 2s, 1.5m or 1h, or a number of seconds (0 or more),"
        f" got {shown}"
    )
    text = f"version: 1\njourneys: {{a: {{steps: []}}}}\ndefaults:\n  timeout: {value}\n"
    assert problems(text) == [f"{message} ({fix})" if fix else message]


def test_every_kind_of_value_error_starts_with_the_key_path() -> None:
    text = """
        version: 1
        users: {}
        data:
          f: {csv: x.csv, delimiter: ""}
        journeys:
          a:
            wait: {throughput: 0}
            steps:
              - get: /
                expect: {max_ms: 0, status: 2XX, json: {"$.a": {}}}
                auth: [a, b, c]
              - loop: {count: 2, max: 2000000}
                steps: []
        load:
          profiles:
            p: {ramp: {users: 2, up: 1s, spawn_rate: 0}}
        """
    assert problems(text) == [
        "2:8: users: expected a mapping of at least 1 entry, got 0 entries",
        "4:30: data.f.delimiter: expected text of at least 1 character, got ''",
        "7:24: journeys.a.wait.throughput: expected more than 0, got 0",
        "10:26: journeys.a.steps[0].expect.max_ms: expected more than 0, got 0",
        "10:37: journeys.a.steps[0].expect.status: expected a status code like 200, or a class like 2xx, got '2XX'"
        " (write 2xx)",
        '10:56: journeys.a.steps[0].expect.json["$.a"]: expected a mapping of at least 1 entry, got 0 entries',
        "11:15: journeys.a.steps[0].auth: expected a list [username, password], got 3 items",
        "12:31: journeys.a.steps[1].loop.max: expected 1000000 or less, got 2000000",
        "16:46: load.profiles.p.ramp.spawn_rate: expected more than 0, got 0",
    ]


def test_a_threshold_with_a_unit_in_words_gets_the_fix() -> None:
    text = "version: 1\njourneys: {a: {steps: []}}\nthresholds:\n  - {metric: p95, below: 2 sec}\n"
    assert problems(text) == [
        "4:26: thresholds[0].below: expected a number, a time like 300ms or 2s, or a percentage like 1%,"
        " got '2 sec' (write 2s)"
    ]
