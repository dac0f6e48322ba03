"""The step-kind registry: KINDS, the schema's step list and the README's step reference name the same kinds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.build import build
from engine.errors import INTERNAL_ERROR, ErrorSink
from engine.source import MarkedDict, parse_text
from engine.steps import KINDS, think
from engine.validate import schema

ROOT = Path(__file__).resolve().parent.parent


def schema_steps() -> dict[str, set[str]]:
    """Each step definition of the schema, with the keys that select it (its required keys)."""
    definitions = schema()["definitions"]
    found = {}
    for ref in definitions["step"]["anyOf"]:
        name = ref["$ref"].split("/")[-1]
        node = definitions[name]
        keys = set(node.get("required", []))
        for branch in node.get("anyOf", []):
            keys |= set(branch.get("required", []))
        found[name] = keys
    return found


def readme_kinds() -> dict[str, str]:
    """The README's step reference table: kind -> module."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z]+)` \| .* \| `(engine/steps/[a-z_]+\.py)` \|$", text, re.MULTILINE)
    return dict(rows)


def test_kinds_match_the_schema_step_list() -> None:
    steps = schema_steps()
    assert {kind.schema for kind in KINDS} == set(steps)
    for kind in KINDS:
        assert set(kind.keys or (kind.name,)) <= steps[kind.schema], kind
        assert kind.model.__name__ == kind.schema[0].upper() + kind.schema[1:], kind  # model names match the keys
    for name, keys in steps.items():
        selecting = {key for kind in KINDS if kind.schema == name for key in (*kind.keys, kind.name)}
        assert keys - {"steps"} <= selecting, name


def test_kinds_match_the_readme_step_reference() -> None:
    documented = readme_kinds()
    assert set(documented) == {kind.name for kind in KINDS}
    for kind in KINDS:
        assert documented[kind.name] == "engine/" + type(kind).__module__.split(".", 1)[1].replace(".", "/") + ".py"


def test_a_builder_that_raises_on_a_valid_file_is_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict building: on a file the schema passed, a kind that cannot build its step is reported, not dropped."""

    def broken(self: object, node: MarkedDict, b: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(think.Think, "build", broken)
    text = "version: 1\njourneys:\n  j:\n    steps:\n      - think: 1\n"
    path = Path("s.yaml")
    data = parse_text(text, str(path))
    sink = ErrorSink()
    scenario = build(data, path, sink)
    assert scenario.personas[0].journeys[0].steps == ()
    assert [(str(e.pos), e.message.split(":")[0]) for e in sink.errors] == [("s.yaml:5:9", INTERNAL_ERROR)]
    lenient = ErrorSink()
    build(data, path, lenient, strict=False)  # after schema errors: a consequence of them, left out
    assert lenient.errors == []
