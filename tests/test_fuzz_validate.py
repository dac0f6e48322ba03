"""Property-based tests of the validate entry point: whatever the file holds, the answer is
"valid" or a list of problems at file:line:col, never an exception.

Three sources of input: random YAML documents, random text, and mutations of every shipped
scenario and example (keys deleted, renamed or retyped, garbage inserted). CI runs a few hundred
cases; ``FUZZ_EXAMPLES=10000 pytest tests/test_fuzz_validate.py`` runs 10,000 per property.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ScenarioError
from engine.load import INTERNAL_ERROR, check

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,  # CI: the same cases every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
SHIPPED = sorted(
    p.relative_to(ROOT).as_posix()
    for folder in ("scenarios", "examples")
    for p in (ROOT / folder).rglob("*.yaml")
    if "demo_store" not in p.parts
)
# Words the language uses, so that random documents reach past the top-level checks.
WORDS = [
    "version",
    "name",
    "host",
    "users",
    "journeys",
    "steps",
    "get",
    "post",
    "json",
    "expect",
    "save",
    "status",
    "think",
    "if",
    "then",
    "else",
    "loop",
    "while",
    "choose",
    "use",
    "feed",
    "poll",
    "until",
    "vars",
    "fragments",
    "data",
    "rows",
    "strategy",
    "thresholds",
    "metric",
    "below",
    "request",
    "load",
    "profiles",
    "ramp",
    "users",
    "up",
    "defaults",
    "headers",
    "timeout",
    "include",
    "set",
    "log",
    "on_start",
    "weight",
    "wait",
    "between",
    "services",
    "environments",
    "graphql",
    "query",
    "body",
    "form",
    "params",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS),
    st.text(max_size=12),
    st.sampled_from(["{{ x }}", "{{", "{% if %}", "1s", "500ms", "$.id", "/a/{{ id }}", "90%", "GET"]),
)
KEYS = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=8), st.booleans(), st.integers(0, 9))
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=40,
)


def outcome(path: Path) -> list[ScenarioError]:
    """Validate one file; the property is that this returns (the test fails on any exception)."""
    found, _library = check(path)
    for problem in found:
        assert isinstance(problem, ScenarioError)
        assert problem.message, problem
        assert not problem.message.startswith(INTERNAL_ERROR), problem
        assert problem.pos.line >= 1 and problem.pos.col >= 1, problem
    return found


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the scenarios and examples, so that mutations sit beside the files they include."""
    root = tmp_path_factory.mktemp("fuzz")
    for folder in ("scenarios", "examples"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


@FUZZ
@given(document=DOCUMENTS)
def test_random_yaml_documents(tmp_path_factory: pytest.TempPathFactory, document: Any) -> None:
    path = tmp_path_factory.mktemp("doc") / "s.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    outcome(path)


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("text") / "s.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    outcome(path)


def node_paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path to every node below ``node`` (mapping keys and list indexes)."""
    found = [at]
    if isinstance(node, dict):
        for key, value in node.items():
            found += node_paths(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += node_paths(value, (*at, index))
    return found


def mutate(data: Any, path: tuple[Any, ...], how: str, new_value: Any, new_key: Any) -> Any:
    """``data`` with the node at ``path`` deleted, renamed, retyped or joined by garbage."""
    if not path:
        return new_value if how == "retype" else data
    parent = data
    for item in path[:-1]:
        parent = parent[item]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "rename" and isinstance(parent, dict):
        parent[new_key] = parent.pop(last)
    elif how == "garbage" and isinstance(parent, dict):
        parent[new_key] = new_value
    elif how == "garbage":
        parent.insert(last, new_value)
    else:
        parent[last] = new_value
    return data


@FUZZ
@given(
    file=st.sampled_from(SHIPPED),
    choice=st.integers(min_value=0),
    how=st.sampled_from(["delete", "rename", "retype", "garbage"]),
    new_value=DOCUMENTS,
    new_key=KEYS,
)
def test_mutated_shipped_files(tree: Path, file: str, choice: int, how: str, new_value: Any, new_key: Any) -> None:
    original = tree / file
    data = yaml.safe_load(original.read_text(encoding="utf-8"))
    paths = node_paths(data)
    mutated = mutate(data, paths[choice % len(paths)], how, new_value, new_key)
    path = original.with_name(f"fuzz-{original.name}")
    path.write_text(yaml.safe_dump(mutated, allow_unicode=True, sort_keys=False), encoding="utf-8")
    outcome(path)


@FUZZ
@given(file=st.sampled_from(SHIPPED), offset=st.integers(min_value=0), garbage=st.text(min_size=1, max_size=20))
def test_garbage_inserted_in_shipped_text(tree: Path, file: str, offset: int, garbage: str) -> None:
    original = tree / file
    text = original.read_text(encoding="utf-8")
    at = offset % (len(text) + 1)
    path = original.with_name(f"fuzz-{original.name}")
    path.write_bytes((text[:at] + garbage + text[at:]).encode("utf-8", "surrogatepass"))
    outcome(path)


def test_every_shipped_file_is_fuzzed() -> None:
    assert "scenarios/shop.yaml" in SHIPPED and "examples/quickstart.yaml" in SHIPPED
    assert len(SHIPPED) > 20
