"""Snapshots of ``python -m engine validate`` on invalid scenarios: one problem family per file.

Each ``tests/invalid/X.yaml`` has an ``X.expected`` holding the exact stderr of
``python -m engine validate tests/invalid/X.yaml`` run from the repository root.
``UPDATE_SNAPSHOTS=1 pytest tests/test_invalid_snapshots.py`` rewrites them (read
the diff before committing it: every message must stay at the right place and
say how to fix the problem).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from engine.cli import run

ROOT = Path(__file__).resolve().parent.parent
INVALID = ROOT / "tests" / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
UNSET_ENV = "LOCUST_SCENARIO_TEST_UNSET_HOST"  # used by env_var_not_set_in_host.yaml


def validate(monkeypatch: pytest.MonkeyPatch, *files: str) -> tuple[int, str, str]:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv(UNSET_ENV, raising=False)
    out, err = io.StringIO(), io.StringIO()
    code = run(["validate", *files], out, err)
    return code, out.getvalue(), err.getvalue()


def relative(case: Path) -> str:
    return case.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_invalid_scenario_matches_snapshot(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = validate(monkeypatch, relative(case))
    assert code == 1
    assert out == ""
    # One "file:line:col: message" line per problem, with the path as given on the command line
    # (or, for a problem inside a file it includes, that file's path: tests/invalid/parts/ holds them).
    line = re.compile(rf"(?:{re.escape(relative(case))}|tests/invalid/parts/[^:]+\.yaml):[0-9]+:[0-9]+: \S.*")
    assert err.endswith("\n")
    assert all(line.fullmatch(text) for text in err.splitlines()), err
    snapshot = case.with_suffix(".expected")
    if UPDATE:
        snapshot.write_text(err, encoding="utf-8")
    assert err == snapshot.read_text(encoding="utf-8")


def test_every_scenario_has_a_snapshot_and_every_snapshot_a_scenario() -> None:
    scenarios = {path.stem for path in INVALID.glob("*.yaml")}
    snapshots = {path.stem for path in INVALID.glob("*.expected")}
    if UPDATE:
        for stale in snapshots - scenarios:
            (INVALID / f"{stale}.expected").unlink()
        snapshots &= scenarios
    assert scenarios, "no invalid scenarios found"
    assert sorted(scenarios - snapshots) == [], "scenarios without a .expected snapshot"
    assert sorted(snapshots - scenarios) == [], ".expected snapshots without a scenario"


def test_all_files_in_one_run_report_every_snapshot_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = validate(monkeypatch, *(relative(case) for case in CASES))
    assert code == 1
    assert out == ""
    assert err == "".join(case.with_suffix(".expected").read_text(encoding="utf-8") for case in CASES)


def test_a_valid_file_next_to_invalid_ones_is_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\njourneys:\n  browse:\n    steps:\n      - get: /items\n", encoding="utf-8")
    bad = relative(INVALID / "version_missing.yaml")
    code, out, err = validate(monkeypatch, str(good), bad)
    assert code == 1
    assert out == f"{good}: ok\n"
    assert err == f"{bad}:1:1: missing required key 'version'\n"
    code, out, err = validate(monkeypatch, str(good))
    assert (code, out, err) == (0, f"{good}: ok\n", "")
