"""The step-kind registry: KINDS, the schema's step list and the README's step reference name the same kinds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.build import build
from engine.errors import INTERNAL_ERROR, ErrorSink
from engine.source import MarkedDict, parse_text
from engine.steps import KINDS, StepProgram, think
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


def test_every_kind_runs_and_rehearses() -> None:
    """A kind's program says how it runs and how a dry run shows it (``rehearse``): neither is left out."""
    for kind in KINDS:
        assert kind.program.run is not StepProgram.run, kind
        assert kind.program.rehearse is not StepProgram.rehearse, kind


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


# -- a new leaf kind, added as the README's Development section says ----------------------------------------------

UPPER = '''\
"""The ``upper`` step: variables set to the upper-case text of their values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import Position
from engine.model import Value
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram
from engine.templates import Renderer, Scope


@dataclass(frozen=True)
class UpperStep:
    values: tuple[tuple[str, Value], ...]
    pos: Position


class UpperProgram(StepProgram):
    def __init__(self, values: list[tuple[str, Renderer]]) -> None:
        self.values = values

    def run(self, user: Runner, scope: Scope) -> bool:
        for name, renderer in self.values:
            scope[name] = str(renderer.render(scope)).upper()
        return True

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        for name, renderer in self.values:
            scope[name] = str(rehearsal.value(renderer, scope, name)).upper()
            rehearsal.note(f"upper {name} = {scope[name]}", scope)


class Upper(StepKind[UpperStep]):
    name = "upper"
    schema = "upperStep"
    model = UpperStep
    program = UpperProgram

    def build(self, node: MarkedDict, b: Building) -> UpperStep | None:
        return UpperStep(b.assignments(node["upper"]), b.pos(node))

    def compile(self, step: UpperStep, c: Compiling, known: set[str]) -> StepProgram:
        values = []
        for name, value in step.values:
            values.append((name, c.renderer(value.raw, value.pos, known)))
            known.add(name)
        return UpperProgram(values)

    def defines(self, step: UpperStep) -> Iterable[tuple[str, Position]]:
        return ((name, value.pos) for name, value in step.values)


KIND = Upper()
'''

UPPER_SCHEMA = {
    "description": "Set variables to the upper-case text of their values.",
    "type": "object",
    "required": ["upper"],
    "additionalProperties": False,
    "properties": {"upper": {"$ref": "#/definitions/variables"}},
}

SHOUTING = """\
version: 1
journeys:
  shout:
    steps:
      - set: {word: hello}
      - upper: {loud: "{{ word }}!"}
      - get: /echo?said={{ loud }}
        name: Echo
        expect:
          json: {"$.args.said[0]": "HELLO!"}
        count: {shouted: "{{ json.args.said[0] == 'HELLO!' }}"}
thresholds:
  - {metric: shouted, above: 0}
  - {metric: failures, below: 1}
"""


@pytest.mark.slow
def test_a_new_leaf_kind_is_one_module_a_registry_entry_and_its_schema_fragment(
    tmp_path: Path, target_url: str
) -> None:
    """A copy of the engine gets a new leaf kind ``upper`` in exactly the places the README names (one new
    module; its import and line in ``KINDS``; its schema definition and line in the step list); then a scenario
    using it validates, and a real ``locust`` run plays it: its saved name reaches the next request."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "engine", copy / "engine", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "schemas", copy / "schemas")
    shutil.copy(ROOT / "locustfile.py", copy / "locustfile.py")

    (copy / "engine/steps/upper.py").write_text(UPPER, encoding="utf-8")  # 1. the module
    registry = copy / "engine/steps/__init__.py"  # 2. the registry: its import and its line in KINDS
    text = registry.read_text(encoding="utf-8")
    text = text.replace(
        "from engine.steps import choose,", "from engine.steps import upper\nfrom engine.steps import choose,"
    )
    text = text.replace("    log.KIND,\n)", "    log.KIND,\n    upper.KIND,\n)")
    registry.write_text(text, encoding="utf-8")
    schema_file = copy / "schemas/scenario.schema.json"  # 3. the schema: the definition and its line in the list
    document = json.loads(schema_file.read_text(encoding="utf-8"))
    document["definitions"]["upperStep"] = UPPER_SCHEMA
    document["definitions"]["step"]["anyOf"].append({"$ref": "#/definitions/upperStep"})
    schema_file.write_text(json.dumps(document, indent=2), encoding="utf-8")

    scenario = tmp_path / "shout.yaml"
    scenario.write_text(SHOUTING, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    original = subprocess.run(
        [sys.executable, "-m", "engine", "validate", str(scenario)], capture_output=True, text=True, timeout=120
    )
    assert original.returncode == 1 and "upper" in original.stdout + original.stderr  # the shipped engine has none

    def engine(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "engine", *args]
        return subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=120)

    checked = engine("validate", str(scenario))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shown = engine("dry-run", str(scenario))
    assert "upper loud = HELLO!" in shown.stdout, shown.stdout + shown.stderr  # a dry run shows it too
    verdict = tmp_path / "verdict.json"
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("locust")),
            *("-f", str(copy / "locustfile.py"), "--scenario", str(scenario), "--host", target_url),
            *("--headless", "-u", "1", "-r", "1", "-t", "2s", "--verdict-json", str(verdict)),
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(verdict.read_text(encoding="utf-8"))
    assert report["counters"]["shouted"] > 0
    assert [t["passed"] for t in report["thresholds"]] == [True, True]
