"""Soak test: does the engine's memory keep rising under a steady load? A real Locust run against the demo store.

Run it from the repository root (it is not part of CI: the default run takes 10 minutes)::

    python bench/soak.py                                  # 50 users, 10 minutes, RSS every 10 s
    python bench/soak.py --users 5 --duration 20s --interval 2s --warmup 6s    # a quick check that it works
    python bench/soak.py -- --processes 2                 # anything after -- goes to locust

It starts the demo store (``python -m examples.demo_store --port 0``) on
127.0.0.1, then runs ``locust -f locustfile.py --scenario scenarios/shop.yaml
--headless -u 50 -r 10 -t 10m -H <store>`` as a subprocess. Every ``--interval``
it samples the resident set size (RSS) of the locust process, summed with its
children when there are any (``--processes``: shared pages then count more
than once), and prints a row: seconds since locust started, locust RSS in MiB,
the demo store's RSS (for information only) and the requests made so far (from
locust's ``--csv`` statistics).

Samples taken during ``--warmup`` (imports, spawning, caches and pools filling
up) are left out. Over the others it reports the least-squares slope in MiB per
minute, the same slope over their later half, the growth (median of the last
third of the samples minus median of the first third) and the total change (last
sample minus first). Memory *keeps rising* -- exit 1, LEAK -- when all three hold:

* the slope is above ``--max-slope`` (default 1 MiB/min);
* the slope of the later half is above half of ``--max-slope``: still rising at
  the end, so a one-off step (a cache or a pool filling up) followed by a flat
  line is not a leak;
* the growth is above ``--max-growth`` (default 5 MiB): more than the noise of
  the allocator and the garbage collector.

Exit codes: 0 no leak, 1 leak, 2 the run did not take place as asked (the store
did not start; locust could not start, stopped early, hung, made no request or
exited with 2 or an unexpected code; fewer than 6 samples after the warm-up).
Locust's own verdicts -- 1 failed requests, 3 setup/teardown failed, 4 a
threshold missed -- are printed but do not decide the exit code: the run took
place and its memory was measured.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
READY = "Demo store listening on "
MIB = 1024 * 1024
MIN_SAMPLES = 6
LOCUST_VERDICTS = {0: "passed", 1: "some requests failed", 3: "setup or teardown failed", 4: "a threshold missed"}
EXIT_PASS, EXIT_LEAK, EXIT_RUN_PROBLEM = 0, 1, 2


# --- the analysis (pure) --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    seconds: float  # since locust started
    rss_mib: float  # locust (and its children)
    requests: int | None = None  # made so far, when known


@dataclass(frozen=True)
class Verdict:
    status: str  # "pass", "leak" or "too few samples"
    samples: int  # after the warm-up
    slope: float = 0.0  # MiB per minute, all post-warm-up samples
    late_slope: float = 0.0  # MiB per minute, their later half
    growth: float = 0.0  # MiB: median of the last third minus median of the first third
    total: float = 0.0  # MiB: last sample minus first
    reason: str = ""

    @property
    def exit_code(self) -> int:
        return {"pass": EXIT_PASS, "leak": EXIT_LEAK}.get(self.status, EXIT_RUN_PROBLEM)


def slope_per_minute(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time, in MiB per minute (0 for fewer than 2 distinct times)."""
    if len(samples) < 2:
        return 0.0
    mean_t = statistics.fmean(s.seconds for s in samples)
    mean_m = statistics.fmean(s.rss_mib for s in samples)
    var = sum((s.seconds - mean_t) ** 2 for s in samples)
    if var == 0:
        return 0.0
    cov = sum((s.seconds - mean_t) * (s.rss_mib - mean_m) for s in samples)
    return cov / var * 60


def analyse(samples: list[Sample], warmup: float, max_slope: float = 1.0, max_growth: float = 5.0) -> Verdict:
    """The verdict on ``samples``: those taken at ``warmup`` seconds or later are judged (see the module's help)."""
    kept = sorted((s for s in samples if s.seconds >= warmup), key=lambda s: s.seconds)
    if len(kept) < MIN_SAMPLES:
        return Verdict(
            "too few samples",
            len(kept),
            reason=f"{len(kept)} samples after the warm-up, at least {MIN_SAMPLES} are needed "
            "(a longer --duration, a shorter --interval or --warmup)",
        )
    third = len(kept) // 3
    first = statistics.median(s.rss_mib for s in kept[:third])
    last = statistics.median(s.rss_mib for s in kept[-third:])
    slope = slope_per_minute(kept)
    late_slope = slope_per_minute(kept[len(kept) // 2 :])
    growth = last - first
    total = kept[-1].rss_mib - kept[0].rss_mib
    rising = slope > max_slope
    still_rising = late_slope > max_slope / 2
    grown = growth > max_growth
    if rising and still_rising and grown:
        reason = (
            f"slope {slope:+.2f} > {max_slope:g} MiB/min, later half {late_slope:+.2f} > {max_slope / 2:g} MiB/min "
            f"and growth {growth:+.1f} > {max_growth:g} MiB"
        )
        return Verdict("leak", len(kept), slope, late_slope, growth, total, reason)
    if not rising:
        reason = f"slope {slope:+.2f} <= {max_slope:g} MiB/min"
    elif not still_rising:
        reason = f"flat at the end: later half {late_slope:+.2f} <= {max_slope / 2:g} MiB/min"
    else:
        reason = f"growth {growth:+.1f} <= {max_growth:g} MiB"
    return Verdict("pass", len(kept), slope, late_slope, growth, total, reason)


# --- the command line -----------------------------------------------------------------------------------------------

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?")


def duration(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``1h30m``, ``2m30s`` -> seconds (more than 0)."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"expected a duration like 30s, 10m or 1h30m, got {text!r}")
    hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    value = hours * 3600 + minutes * 60 + seconds
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration of more than 0, got {text!r}")
    return value


def warmup_of(text: str, total: float) -> float:
    """``--warmup``: a duration (``2m``), or a fraction of ``--duration`` (``0.2`` or ``20%``)."""
    text = text.strip()
    try:
        if text.endswith("%"):
            fraction = float(text[:-1]) / 100
        elif "." in text and not text[-1].isalpha():
            fraction = float(text)
        else:
            return duration(text) if text not in ("0", "0s") else 0.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration (2m) or a fraction (0.2, 20%), got {text!r}") from None
    if not 0 <= fraction < 1:
        raise argparse.ArgumentTypeError(f"a warm-up fraction must be at least 0 and below 1, got {text!r}")
    return fraction * total


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        prog="python bench/soak.py",
        description=doc.split("\n\n")[0],
        epilog=doc.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=50, help="users (default 50)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second (default 10)")
    parser.add_argument("--duration", default="10m", help="how long locust runs (-t; default 10m)")
    parser.add_argument("--interval", default="10s", help="time between two RSS samples (default 10s)")
    parser.add_argument(
        "--warmup", default="0.2", help="samples left out at the start: a duration (2m) or a fraction (default 0.2)"
    )
    parser.add_argument("--scenario", default="scenarios/shop.yaml", help="scenario (default scenarios/shop.yaml)")
    parser.add_argument("--max-slope", type=float, default=1.0, help="MiB per minute (default 1; see below)")
    parser.add_argument("--max-growth", type=float, default=5.0, help="MiB (default 5; see below)")
    extra: list[str] = []
    if "--" in argv:
        index = argv.index("--")
        argv, extra = argv[:index], argv[index + 1 :]
    args = parser.parse_args(argv)
    if (Path.cwd() / args.scenario).is_file():  # relative to where it is run from; else to the repository root
        args.scenario = str((Path.cwd() / args.scenario).resolve())
    try:
        args.duration_s = duration(args.duration)
        args.interval_s = duration(args.interval)
        args.warmup_s = warmup_of(args.warmup, args.duration_s)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    if args.users < 1:
        parser.error("--users must be at least 1")
    args.duration_s = float(max(1, round(args.duration_s)))  # locust's -t takes whole seconds
    if args.warmup_s >= args.duration_s:
        parser.error("--warmup must be shorter than --duration")
    if args.warmup_s <= 0:
        parser.error("--warmup must be more than 0: locust starts up during it")
    return args, extra


# --- the run ----------------------------------------------------------------------------------------------------------


class RunProblem(Exception):
    """The run did not take place as asked (exit code 2)."""


def start_store() -> tuple[subprocess.Popen[str], str]:
    store = subprocess.Popen(
        [sys.executable, "-m", "examples.demo_store", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert store.stdout is not None
    line = store.stdout.readline().strip()
    if not line.startswith(READY):
        stop(store)
        raise RunProblem(f"the demo store did not start (it said {line!r}, exit code {store.returncode})")
    return store, line.removeprefix(READY)


def stop(process: subprocess.Popen[str], timeout: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_mib(pid: int) -> float | None:
    """RSS of ``pid`` and its children in MiB (None once it is gone)."""
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
    except psutil.Error:
        return None
    return total / MIB


def requests_so_far(stats_csv: Path) -> int | None:
    """The Aggregated row's request count in locust's ``--csv`` statistics (None before the first write)."""
    try:
        with stats_csv.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("Name") == "Aggregated":
                    return int(row["Request Count"])
    except (OSError, ValueError, KeyError):
        return None
    return None


def say(text: str = "") -> None:
    print(text, flush=True)


def soak(args: argparse.Namespace, extra: list[str], workdir: Path) -> tuple[list[Sample], int, int | None]:
    """Run the store and locust, sampling; returns the samples, locust's exit code and the final request count."""
    store, url = start_store()
    log_path = workdir / "locust.log"
    stats_csv = workdir / "soak_stats.csv"
    try:
        command = [
            sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"), "--scenario", args.scenario,
            "--headless", "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.duration_s:g}s",
            "-H", url, "--only-summary", "--loglevel", "WARNING", "--csv", str(workdir / "soak"), *extra,
        ]  # fmt: skip
        scenario = os.path.relpath(args.scenario, ROOT)
        say(
            f"soak: {args.users} users for {args.duration_s:g} s, {scenario}, against the demo store at {url}; "
            f"RSS every {args.interval_s:g} s, warm-up {args.warmup_s:g} s"
        )
        say(f"{'time s':>8} {'locust MiB':>11} {'store MiB':>10} {'requests':>10}")
        with log_path.open("w") as log:
            locust = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
            started = time.monotonic()
            samples: list[Sample] = []
            try:
                next_at = 0.0
                while locust.poll() is None:
                    now = time.monotonic() - started
                    rss = rss_mib(locust.pid)
                    if rss is None or locust.poll() is not None:
                        break
                    requests = requests_so_far(stats_csv)
                    samples.append(Sample(now, rss, requests))
                    store_rss = rss_mib(store.pid)
                    store_text = f"{store_rss:10.1f}" if store_rss is not None else f"{'-':>10}"
                    request_text = f"{requests:10d}" if requests is not None else f"{'-':>10}"
                    mark = "  (warm-up)" if now < args.warmup_s else ""
                    say(f"{now:8.1f} {rss:11.1f} {store_text} {request_text}{mark}")
                    if now >= args.duration_s:
                        break
                    next_at += args.interval_s
                    while next_at <= now:  # a late sample (a loaded machine): skip the slots it missed
                        next_at += args.interval_s
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        locust.wait(timeout=max(0.0, next_at - (time.monotonic() - started)))
                ended = time.monotonic() - started
                try:
                    code = locust.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    raise RunProblem(
                        f"locust did not stop within 120 s of the end of the run\n{tail(log_path)}"
                    ) from None
            finally:
                stop(locust)
        if code not in LOCUST_VERDICTS:
            raise RunProblem(f"locust exited with code {code}\n{tail(log_path)}")
        if ended < args.duration_s:
            raise RunProblem(
                f"locust stopped after {ended:.0f} s, before the {args.duration_s:g} s run\n{tail(log_path)}"
            )
        total = requests_so_far(stats_csv)
        if not total:
            raise RunProblem(f"locust made no request\n{tail(log_path)}")
        return samples, code, total
    finally:
        stop(store)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="soak-") as workdir:
        try:
            samples, code, total = soak(args, extra, Path(workdir))
        except RunProblem as problem:
            say(f"soak: RUN PROBLEM: {problem}")
            return EXIT_RUN_PROBLEM
        except KeyboardInterrupt:
            return 130
    say(f"soak: locust exited with {code} ({LOCUST_VERDICTS[code]}) after {total} requests")
    verdict = analyse(samples, args.warmup_s, args.max_slope, args.max_growth)
    if verdict.status == "too few samples":
        say(f"soak: RUN PROBLEM: {verdict.reason}")
        return verdict.exit_code
    say(
        f"soak: {verdict.samples} samples after the warm-up: slope {verdict.slope:+.2f} MiB/min "
        f"(later half {verdict.late_slope:+.2f}), growth {verdict.growth:+.1f} MiB (median of the last third "
        f"minus the first), total {verdict.total:+.1f} MiB (last sample minus first)"
    )
    say(f"soak verdict: {'LEAK' if verdict.status == 'leak' else 'PASS'}: {verdict.reason}")
    return verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())
