"""bench/soak.py: the verdict on synthetic RSS samples, its options, and one short real run of the command."""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.soak import EXIT_LEAK, EXIT_PASS, EXIT_RUN_PROBLEM, Sample, analyse, duration, slope_per_minute, warmup_of

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 120.0


def run(rss: Callable[[float], float], seconds: float = 600, interval: float = 10) -> list[Sample]:
    """Samples every ``interval`` seconds from 0 to ``seconds``, RSS given by ``rss(t)`` (MiB)."""
    count = int(seconds // interval) + 1
    return [Sample(i * interval, rss(i * interval), i * 30) for i in range(count)]


def warming_up(t: float) -> float:
    """Memory climbing from 10 to 70 MiB during the warm-up (never judged)."""
    return min(70.0, 10 + t / 2)


def test_flat_memory_passes() -> None:
    verdict = analyse(run(lambda t: warming_up(t) if t < WARMUP else 70.0), WARMUP)
    assert verdict.status == "pass", verdict
    assert verdict.exit_code == EXIT_PASS
    assert verdict.samples == 49  # 120, 130, ..., 600
    assert verdict.slope == pytest.approx(0.0) and verdict.growth == pytest.approx(0.0)
    assert verdict.total == pytest.approx(0.0)


def test_steadily_rising_memory_is_a_leak() -> None:
    verdict = analyse(run(lambda t: 70 + 2 * t / 60), WARMUP)  # 2 MiB a minute, all along
    assert verdict.status == "leak", verdict
    assert verdict.exit_code == EXIT_LEAK
    assert verdict.slope == pytest.approx(2.0) and verdict.late_slope == pytest.approx(2.0)
    assert verdict.total == pytest.approx(16.0)  # from 120 s to 600 s
    assert 9 < verdict.growth < 16
    assert "slope +2.00 > 1 MiB/min" in verdict.reason


def test_noisy_but_flat_memory_passes() -> None:
    noise = random.Random(11)
    samples = run(lambda t: warming_up(t) if t < WARMUP else 70 + noise.gauss(0, 1.5) + noise.choice([0, 0, 0, 4]))
    verdict = analyse(samples, WARMUP)
    assert verdict.status == "pass", verdict
    assert abs(verdict.slope) < 1.0


def test_noisy_rising_memory_is_a_leak() -> None:
    noise = random.Random(7)
    verdict = analyse(run(lambda t: 70 + 3 * t / 60 + noise.gauss(0, 2)), WARMUP)
    assert verdict.status == "leak", verdict


def test_a_step_then_flat_is_not_a_leak() -> None:
    """A cache or a pool filling up once after the warm-up: a rise, then a flat line to the end."""
    verdict = analyse(run(lambda t: 70.0 if t < 240 else 90.0), WARMUP)
    assert verdict.slope > 1.0 and verdict.growth > 5.0  # it rose ...
    assert verdict.late_slope == pytest.approx(0.0)  # ... and stopped rising
    assert verdict.status == "pass", verdict
    assert "flat at the end" in verdict.reason


def test_a_step_during_the_warm_up_is_not_judged() -> None:
    samples = run(lambda t: 50.0 if t < 100 else 80.0)
    judged = analyse(samples, WARMUP)
    assert judged.status == "pass" and judged.slope == judged.growth == judged.total == 0.0, judged
    assert analyse(samples, 0).growth > 10  # the same samples with no warm-up: the step counts


def test_a_slow_rise_below_the_thresholds_passes() -> None:
    slow = run(lambda t: 70 + 0.5 * t / 60)  # 0.5 MiB a minute: 4 MiB over the judged 8 minutes
    assert analyse(slow, WARMUP).status == "pass"
    assert analyse(slow, WARMUP, max_slope=0.4, max_growth=2).status == "leak"  # stricter thresholds


def test_too_few_samples_is_a_run_problem() -> None:
    verdict = analyse(run(lambda t: 70 + t, seconds=50), 0)  # 6 samples: enough
    assert verdict.status == "leak"
    verdict = analyse(run(lambda t: 70 + t, seconds=40), 0)
    assert verdict.status == "too few samples" and verdict.exit_code == EXIT_RUN_PROBLEM
    assert "5 samples after the warm-up, at least 6" in verdict.reason


def test_samples_out_of_order_are_sorted() -> None:
    samples = run(lambda t: 70 + 2 * t / 60)
    assert analyse(list(reversed(samples)), WARMUP) == analyse(samples, WARMUP)


def test_slope_is_least_squares_in_mib_per_minute() -> None:
    assert slope_per_minute([Sample(0, 10), Sample(30, 11), Sample(60, 12)]) == pytest.approx(2.0)
    assert slope_per_minute([Sample(0, 10), Sample(60, 14), Sample(120, 12)]) == pytest.approx(1.0)
    assert slope_per_minute([Sample(5, 10)]) == 0.0
    assert slope_per_minute([Sample(5, 10), Sample(5, 20)]) == 0.0


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("20s", 20), ("10m", 600), ("1h30m", 5400), ("2m30s", 150), ("1.5m", 90)]
)
def test_durations(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "10x", "0", "0s", "-5", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


@pytest.mark.parametrize(("text", "seconds"), [("2m", 120), ("30s", 30), ("0.2", 120), ("25%", 150), ("0", 0)])
def test_warmup_is_a_duration_or_a_fraction(text: str, seconds: float) -> None:
    assert warmup_of(text, 600) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["1.5", "100%", "abc"])
def test_bad_warmups(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        warmup_of(text, 600)


def soak(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "bench" / "soak.py"), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_a_short_real_soak_run_samples_and_judges() -> None:
    """The real command, briefly: too short for its figures to mean anything, so only the shape is checked."""
    done = soak("--users", "5", "--duration", "20s", "--interval", "2s", "--warmup", "6s", timeout=150)
    output = done.stdout
    assert done.returncode in (EXIT_PASS, EXIT_LEAK), f"exit code {done.returncode}\n{output}\n{done.stderr[-3000:]}"
    assert "against the demo store at http://127.0.0.1:" in output
    rows = re.findall(r"^ +([0-9.]+) +([0-9.]+) +([0-9.]+|-) +([0-9]+|-)(  \(warm-up\))?$", output, re.MULTILINE)
    assert len(rows) >= 7, output  # 0 s and at least 6 samples after the warm-up, however loaded the machine
    assert rows[0][4] and not rows[-1][4], output  # the first one in the warm-up, the last one not
    assert float(rows[-1][0]) >= 20 and int(rows[-1][3]) > 0, output
    assert re.search(r"^soak: locust exited with [0-9] \(.*\) after [0-9]+ requests$", output, re.MULTILINE), output
    summary = r"^soak: [0-9]+ samples after the warm-up: slope [+-][0-9.]+ MiB/min \(later half [+-][0-9.]+\), growth "
    assert re.search(summary, output, re.MULTILINE), output
    verdict = "PASS" if done.returncode == EXIT_PASS else "LEAK"
    assert re.search(rf"^soak verdict: {verdict}: ", output, re.MULTILINE), output


@pytest.mark.slow
def test_a_scenario_locust_cannot_load_is_a_run_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("users: [\n")
    done = soak("--duration", "20s", "--interval", "2s", "--scenario", str(broken), timeout=90)
    assert done.returncode == EXIT_RUN_PROBLEM, f"{done.stdout}\n{done.stderr[-3000:]}"
    assert "soak: RUN PROBLEM: locust exited with code 2" in done.stdout, done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--duration", "1m", "--warmup", "2m"], "--warmup must be shorter than --duration"),
        (["--warmup", "0"], "--warmup must be more than 0"),
        (["--interval", "soon"], "expected a duration like 30s, 10m or 1h30m, got 'soon'"),
    ],
)
def test_bad_options_are_usage_errors(options: list[str], message: str) -> None:
    done = soak(*options, timeout=30)
    assert done.returncode == 2 and message in done.stderr, done.stderr
