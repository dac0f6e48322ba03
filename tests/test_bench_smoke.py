"""The benchmark still runs: ``python bench/compare.py --smoke`` end to end, without judging any figure.

A smoke run is far too short for its numbers to mean anything, so nothing here
asserts a speed, a ratio or a budget verdict: only that every part ran and
printed its lines (and that the journey's requests did not fail).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"[0-9]+(?:\.[0-9]+)?"


@pytest.mark.slow
def test_bench_smoke_run_prints_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "compare.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    output = done.stdout
    assert done.returncode == 0, f"exit code {done.returncode}\n{output}\n{done.stderr[-3000:]}"
    for client in ("http", "fast"):
        for journey in ("bench", "realistic"):
            summary = re.findall(rf"^journey={journey} client={client} cpu_us_per_request .*$", output, re.MULTILINE)
            assert len(summary) == 1, output
            spread = (
                rf"ratio={NUMBER} \(engine/handwritten; runs {NUMBER}-{NUMBER}\) control={NUMBER} \({NUMBER}-{NUMBER}\)"
            )
            assert re.search(rf"handwritten={NUMBER} engine={NUMBER} {spread}", summary[0]), summary[0]
            budget = rf"^budget cpu journey={journey} client={client}: engine/handwritten .* (met|MISSED)$"
            assert re.search(budget, output, re.MULTILINE), output
        assert re.search(rf"^secondary client={client} separate_runs_rps ", output, re.MULTILINE), output
        memory = rf"^memory client={client} users=[0-9]+ peak_rss_mib \(whole process\) "
        memory += rf"handwritten=-?{NUMBER} engine=-?{NUMBER}"
        assert re.search(memory, output, re.MULTILINE), output
        frames = rf"^memory client={client} deepest_frames_bytes handwritten=[0-9]+ \([0-9]+ pages?\) engine=[0-9]+ "
        assert re.search(frames, output, re.MULTILINE), output
    for scenario in ("scenarios/shop.yaml", "scenarios/inventory.yaml", "generated-1000-steps", "generated-5000-steps"):
        assert re.search(rf"^load {re.escape(scenario)} cpu_median={NUMBER} s ", output, re.MULTILINE), output
        assert re.search(rf"^budget load {re.escape(scenario)}: .* (met|MISSED)$", output, re.MULTILINE), output
    assert "failures=0" in output and not re.search(r"failures=[1-9]", output), output
