"""The package as a user gets it: a wheel built from the sources, installed into a fresh virtualenv outside
the repository, runs a scenario from another folder with ``locust-scenario run`` against a test server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("engine", "schemas", "setup.cfg", "pyproject.toml", "README.md", "LICENSE")
TINY = """\
version: 1
name: tiny
journeys:
  look:
    steps:
      - get: /items
        expect: {status: 200, json: {"$[0].id": {type: integer}}}
thresholds:
  - {metric: requests, above: 0}
"""


def run(*command: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_virtualenv_runs_a_scenario_in_another_folder(
    tmp_path: Path, target_url: str
) -> None:
    source = tmp_path / "checkout"  # the sources alone: no build left over, no editable install nearby
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, source, cwd=tmp_path)
    (wheel,) = wheels.glob("locust_scenarios-*.whl")

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    run(venv / "bin/python", "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    (work / "tiny.yaml").write_text(TINY, encoding="utf-8")
    where = run(venv / "bin/python", "-c", "import engine, sys; print(engine.__file__)", cwd=work).stdout
    assert where.startswith(str(venv)), where  # the installed package, not the repository's
    assert run(venv / "bin/locust-scenario", "validate", "tiny.yaml", cwd=work).stdout == "tiny.yaml: ok\n"
    assert run(venv / "bin/locust-scenario", "--version", cwd=work).stdout.startswith("locust-scenario 0.1.0 (locust ")
    verdict = work / "verdict.json"
    run(
        *(venv / "bin/locust-scenario", "run", "tiny.yaml", "-H", target_url, "--headless"),
        *("-u", "1", "-r", "1", "-t", "2s", "--verdict-json", verdict),
        cwd=work,
        timeout=120,
    )
    report = json.loads(verdict.read_text(encoding="utf-8"))
    assert report["passed"] is True
    assert report["thresholds"][0]["measured"] > 0
