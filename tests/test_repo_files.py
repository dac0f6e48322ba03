"""Every scenario and example shipped in the repo validates and compiles into Locust classes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from locust import FastHttpUser, HttpUser

from engine.load import check_file, load_plan

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted([*ROOT.glob("scenarios/*.yaml"), *ROOT.glob("examples/*.yaml")])


def test_the_repo_ships_examples() -> None:
    names = {path.name for path in FILES}
    for concept in ("quickstart", "personas", "chaining", "save", "expect", "templates", "requests", "failures"):
        assert f"{concept}.yaml" in names


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_file_validates_and_compiles(path: Path) -> None:
    assert [str(e) for e in check_file(path)] == []
    plan = load_plan(path, module=f"repo_{path.stem}")
    assert plan.user_classes
    for cls in plan.user_classes.values():
        assert issubclass(cls, (HttpUser, FastHttpUser))
        assert cls.tasks
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../schemas/scenario.schema.json"


def test_readme_scenario_compiles(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [
        b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if b.lstrip("# \n").find("version: 1") >= 0
    ]
    assert blocks, "the README shows a complete scenario"
    for index, block in enumerate(blocks):
        path = tmp_path / f"readme_{index}.yaml"
        path.write_text(block, encoding="utf-8")
        assert [str(e) for e in check_file(path)] == []


def test_the_license_file_matches_the_metadata() -> None:
    metadata = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    assert re.search(r"^license = MIT$", metadata, re.M) and re.search(r"^license_files = LICENSE$", metadata, re.M)
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


def test_the_quick_start_is_two_make_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in quick_start.splitlines()] == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo: \$\(INSTALLED\)\n\t\$\(BIN\)/python -m examples\.demo$", makefile, re.M)
    assert re.search(r"^test: lint\n\t\$\(BIN\)/pytest$", makefile, re.M)
    assert 'pip install --quiet -e ".[dev]"' in makefile  # the README's install command
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
    assert [line.split("#")[0].strip() for line in ci if line.startswith("make ")] == ["make install", "make test"]
