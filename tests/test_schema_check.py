"""engine.schema_check: the compiled yes/no check agrees with jsonschema on every document.

A document the check passes skips jsonschema altogether (engine.validate), so a
check that says "valid" where jsonschema finds an error would hide a problem:
every shipped scenario and example, thousands of seeded mutations of them and
hand-picked edge cases must get the same verdict from both. ``SCHEMA_CHECK_CASES=20000``
runs more mutations.
"""

from __future__ import annotations

import copy
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from jsonschema._utils import equal

from engine import validate
from engine.schema_check import _equal, _unique, compile_check

ROOT = Path(__file__).resolve().parent.parent
CASES = int(os.environ.get("SCHEMA_CHECK_CASES", "1500"))
VALUES: list[Any] = [None, True, False, 0, 1, -1, 2.5, 1.0, "", "x", "10s", "{{ x }}", "get", [], [1], {}, {"a": 1}]
VALUES += ["200", 200, "2xx", 1e9, "GET", "/path", ["a"], {"status": 200}, {"get": "/"}, 0.0, -0.5, "90%", "$.id"]
KEYS: list[Any] = ["get", "post", "name", "expect", "save", "think", "if", "then", "else", "loop", "steps", True, 1]
KEYS += [None, "x-foo", "weight", "users", "status", "json", "headers", "use", "with", "count", "metric", "below"]


def shipped() -> list[tuple[str, Any]]:
    found = []
    for folder in ("scenarios", "examples", "bench"):
        for path in sorted((ROOT / folder).rglob("*.yaml")):
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(document, dict) and "version" in document:
                found.append((path.relative_to(ROOT).as_posix(), document))
    return found


def slow_valid(document: Any) -> bool:
    return not any(True for _ in validate._validator().iter_errors(document))


def nodes(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    found = [(path, document)]
    if isinstance(document, dict):
        for key, value in document.items():
            found += nodes(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += nodes(value, (*path, index))
    return found


def mutate(document: Any, rnd: random.Random) -> Any:
    """One to three edits: a key deleted or added, an item dropped or appended, a value replaced."""
    document = copy.deepcopy(document)
    for _ in range(rnd.randint(1, 3)):
        every = nodes(document)
        path, node = rnd.choice(every)
        spare = copy.deepcopy(rnd.choice([*VALUES, rnd.choice(every)[1]]))
        op = rnd.random()
        if isinstance(node, dict) and node and op < 0.3:
            del node[rnd.choice(list(node))]
        elif isinstance(node, dict) and op < 0.6:
            node[rnd.choice(KEYS)] = spare
        elif isinstance(node, list) and node and op < 0.5:
            node.pop(rnd.randrange(len(node)))
        elif isinstance(node, list):
            node.append(spare)
        elif path:
            parent = document
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = copy.deepcopy(rnd.choice(VALUES))
    return document


def test_the_scenario_schema_compiles() -> None:
    assert validate._fast_check() is not None


@pytest.mark.parametrize(("name", "document"), shipped(), ids=[name for name, _ in shipped()])
def test_every_shipped_scenario_gets_the_same_verdict(name: str, document: Any) -> None:
    check = validate._fast_check()
    assert check is not None
    assert check(document) == slow_valid(document) is True, name


def test_mutations_of_the_shipped_scenarios_get_the_same_verdict() -> None:
    check = validate._fast_check()
    assert check is not None
    documents = [document for _, document in shipped()]
    rnd = random.Random(20261206)
    verdicts = {True: 0, False: 0}
    for _ in range(CASES):
        mutant = mutate(rnd.choice(documents), rnd)
        expected = slow_valid(mutant)
        verdicts[expected] += 1
        assert check(mutant) == expected, mutant
    assert min(verdicts.values()) > CASES // 20, verdicts  # both verdicts well represented


@pytest.mark.parametrize(
    ("schema", "document", "valid"),
    [
        ({"enum": ["a", 1]}, True, False),  # true is not 1
        ({"enum": ["a", 1]}, 1.0, True),  # 1.0 is 1
        ({"const": [1, {"a": False}]}, [1, {"a": 0}], False),
        ({"type": "integer"}, 2.0, True),
        ({"type": "integer"}, True, False),
        ({"uniqueItems": True}, [1, True], True),
        ({"uniqueItems": True}, [1, 1.0], False),
        ({"additionalProperties": {"type": "string"}}, {1: "a"}, False),  # a YAML key that is not text is no name
        ({"additionalProperties": {"type": "string"}, "propertyNames": True}, {1: "a"}, True),
        ({"patternProperties": {"^x": {"type": "string"}}, "additionalProperties": False}, {"xa": "s"}, True),
        ({"patternProperties": {"^x": {"type": "string"}}, "additionalProperties": False}, {True: "s"}, False),
        ({"properties": {"a": {"$ref": "#/definitions/n"}}, "definitions": {"n": {"minimum": 3}}}, {"a": 2}, False),
        ({"$ref": "#/definitions/n", "type": "string", "definitions": {"n": {"type": "number"}}}, 5, True),
        ({"if": {"required": ["a"]}, "then": {"required": ["b"]}}, {"a": 1}, False),
        ({"dependencies": {"a": ["b"]}}, {"a": 1, "b": 2}, True),
        ({"contains": {"const": 3}}, [1, 2], False),
    ],
)
def test_edge_cases_agree_with_jsonschema(schema: dict[str, Any], document: Any, valid: bool) -> None:
    import engine.validate as v

    check = compile_check(schema)
    assert check is not None
    jsonschema_says = not any(True for _ in _extended(v)(schema).iter_errors(document))
    assert check(document) == jsonschema_says == valid


def _extended(v: Any) -> Any:
    return jsonschema.validators.extend(
        jsonschema.Draft7Validator,
        {"patternProperties": v._pattern_properties, "additionalProperties": v._additional_properties},
    )


def test_a_keyword_it_does_not_know_turns_it_off() -> None:
    assert compile_check({"multipleOf": 2}) is None
    assert compile_check({"items": {"additionalItems": False}}) is None


@pytest.mark.parametrize("pair", [(1, 1.0), (True, 1), ([1, "a"], [1.0, "a"]), ({"a": [True]}, {"a": [1]}), ("1", 1)])
def test_json_equality_is_jsonschemas(pair: tuple[Any, Any]) -> None:
    assert _equal(*pair) == equal(*pair)
    assert _unique(list(pair)) == (not equal(*pair))


@pytest.mark.slow
def test_loading_a_valid_scenario_does_not_import_jsonschema() -> None:
    code = (
        "import sys, locust; from engine.load import load_plan; load_plan('bench/realistic.yaml', module='m'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'jsonpath_ng')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_settle_forgets_the_schema_and_a_later_load_rebuilds_it(tmp_path: Path) -> None:
    from engine.load import load_plan, settle

    load_plan(ROOT / "bench" / "journey.yaml", module="settle_first")
    assert validate._fast_check.cache_info().currsize == 1
    settle()
    assert validate._fast_check.cache_info().currsize == 0 and validate.schema.cache_info().currsize == 0
    plan = load_plan(ROOT / "bench" / "journey.yaml", module="settle_again")  # the check is compiled again
    assert plan.user_classes and validate._fast_check.cache_info().currsize == 1
