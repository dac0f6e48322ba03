"""Hostile and garbage scenario files: refused with a message, in bounded time and memory, never a crash.

Each input is the exact one a hostile-input check found breaking the loader or ``validate``.
The bounds on time are generous (a loaded 2-core machine): they catch a hang, not a slowdown.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from runtime_support import validate_cli

from engine.load import check
from engine.source import MAX_DEPTH, MAX_NODES

ROOT = Path(__file__).resolve().parent.parent
HEAD = "version: 1\nname: c\nhost: http://127.0.0.1:9\n"
JOURNEY = "users:\n  U:\n    journeys:\n      j:\n        steps:\n"


def problems(tmp_path: Path, text: str, name: str = "s.yaml") -> list[str]:
    """``validate``'s problems for a file with ``text``, as ``line:col: message (hint)``."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    found, _library = check(path)
    return [str(p).removeprefix(f"{path}:") for p in found]


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * width)}]")
    return "\n".join(lines) + "\n"


# -- bombs and depth -----------------------------------------------------------------------------


def test_a_billion_laughs_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    started = time.process_time()
    found = problems(tmp_path, HEAD + billion_laughs())
    assert time.process_time() - started < 5  # it expands to 9**9 values: unrefused, it never ends
    assert found == [
        f"10:4: the aliases (*name) here expand to more than {MAX_NODES:,} values "
        "(an alias bomb? repeat less, or use fragments (use:) instead of aliases)"
    ]


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, HEAD + "vars: &v {a: *v}\n") == ["4:7: an alias refers to a node that contains it"]


def test_aliases_that_expand_modestly_still_load(tmp_path: Path) -> None:
    text = HEAD + "x-h: &h {Accept: application/json}\ndefaults: {headers: *h}\n" + JOURNEY + "          - get: /\n"
    assert problems(tmp_path, text) == []


@pytest.mark.parametrize(
    ("shape", "where"),
    [
        ("vars: {x: " + "[" * 1000 + "]" * 1000 + "}", "4:73"),  # flow lists
        ("vars:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 1000)), "68:129"),  # block mappings
    ],
    ids=["flow-lists", "block-maps"],
)
def test_a_thousand_levels_of_nesting_are_refused_at_the_line(tmp_path: Path, shape: str, where: str) -> None:
    hint = "flatten the structure: move deep parts into fragments (use:)"
    assert problems(tmp_path, HEAD + shape + "\n") == [f"{where}: nested more than {MAX_DEPTH} levels deep ({hint})"]


def test_a_thousand_nested_if_steps_are_refused(tmp_path: Path) -> None:
    step, indent = "", 10
    for _ in range(1000):
        step += " " * indent + '- if: "{{ true }}"\n' + " " * (indent + 2) + "then:\n"
        indent += 4
    step += " " * indent + "- get: /\n"
    found = problems(tmp_path, HEAD + JOURNEY + step)
    assert len(found) == 1 and f"nested more than {MAX_DEPTH} levels deep" in found[0]


# -- garbage in the text -------------------------------------------------------------------------


def test_a_control_character_is_an_error_at_its_place(tmp_path: Path) -> None:
    found = problems(tmp_path, HEAD + "description: a\x01b\n")
    assert found == [
        "4:15: control character U+0001 is not allowed in YAML "
        '(remove it, or write it as an escape ("\\x01") in a double-quoted string)'
    ]


def test_an_integer_of_5000_digits_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, HEAD + "vars: {n: " + "7" * 5000 + "}\n" + JOURNEY + "          - get: /\n")
    assert found == ["4:11: an integer with 5000 digits is too long (write a number of at most 4300 digits)"]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
def test_nan_and_infinity_are_not_numbers_a_scenario_can_use(tmp_path: Path, value: str) -> None:
    found = problems(tmp_path, HEAD + f"defaults: {{timeout: {value}}}\n" + JOURNEY + "          - get: /\n")
    assert found == [f"4:21: '{value}' is not a number a scenario can use (write a finite number)"]


# -- the five crashes of validate ------------------------------------------------------------------


def test_a_boolean_top_level_key_is_an_unknown_key(tmp_path: Path) -> None:
    found = problems(tmp_path, HEAD + JOURNEY + "          - get: /\ntrue: 1\n")
    assert found == ["10:1: unknown key 'true' (read by YAML as the boolean true)"]


def test_a_lone_question_mark_is_an_empty_key(tmp_path: Path) -> None:
    found = problems(tmp_path, HEAD + JOURNEY + "          - get: /\n?\n")
    assert found == ["10:2: a key is empty (write a name before the ':', or remove the line)"]


def test_a_list_as_a_request_name_is_a_type_error(tmp_path: Path) -> None:
    found = problems(tmp_path, HEAD + JOURNEY + "          - {get: /, name: [a]}\n")
    assert found == ["9:28: users.U.journeys.j.steps[0].name: expected a string, got a list"]


def test_a_boolean_operator_in_an_expectation_is_an_unknown_key(tmp_path: Path) -> None:
    text = HEAD + JOURNEY + '          - get: /\n            expect: {json: {"$.id": {true: 1}}}\n'
    found = problems(tmp_path, text)
    assert found == [
        """10:38: users.U.journeys.j.steps[0].expect.json["$.id"]: """
        "unknown key 'true' (read by YAML as the boolean true)"
    ]


def test_a_mapping_as_a_feeder_strategy_is_one_schema_error(tmp_path: Path) -> None:
    text = HEAD + "data: {x: {rows: [{a: 1}], strategy: {s: circular}}}\n" + JOURNEY + "          - get: /\n"
    found = problems(tmp_path, text)
    assert found == [
        "4:38: data.x.strategy: expected one of sequential, random, shuffle, circular, unique, got a mapping"
    ]


def test_a_number_as_a_request_name_and_a_threshold_on_an_unknown_request(tmp_path: Path) -> None:
    text = (
        HEAD
        + JOURNEY
        + "          - {get: /, name: 5}\n          - get: /b\n"
        + "thresholds:\n  - {request: nope, metric: p95, below: 100ms}\n"
    )
    assert problems(tmp_path, text) == [
        "9:28: users.U.journeys.j.steps[0].name: expected a string, got an integer",
        "12:5: no request is named 'nope' (request names: /, /b)",
    ]


@pytest.mark.slow
def test_validate_on_a_hostile_file_exits_1_with_the_message(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(HEAD + billion_laughs(), encoding="utf-8")
    done = validate_cli(str(path))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "expand to more than" in done.stdout + done.stderr
