"""The verdict: thresholds evaluated on Locust's aggregated statistics, as a table, files and an exit code.

Everything here runs where the aggregated statistics are — the local runner,
or the master of a distributed run — so it holds with ``--processes`` and
master/worker runs. Workers send their counter increments and journey
statistics with Locust's own stats reports. Thresholds with ``for:`` are
evaluated every second over a sliding window (and may ``abort`` the test);
the others once, when Locust quits. With thresholds, they decide the exit
code: 0 when all pass, :data:`EXIT_THRESHOLDS_FAILED` when one fails.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import RequestStats, StatsEntry, calculate_response_time_percentile

from engine.compiler import Program
from engine.metrics import METRICS
from engine.metrics import unit as metric_unit
from engine.model import Threshold

log = logging.getLogger("engine.verdict")
EXIT_THRESHOLDS_FAILED = 4
EXIT_NOT_RUN = 2
REFUSAL = "engine_refusal"
"""The environment attribute that holds why the run did not take place (see :func:`refuse`)."""


@dataclass
class Result:
    """One threshold's outcome."""

    threshold: Threshold
    measured: float | None
    passed: bool
    aborted: bool = False
    no_data: str = "no data: nothing it measures ran"
    """Why nothing was measured, in words (shown when ``measured`` is None)."""

    @property
    def status(self) -> str:
        return "PASS" if self.passed else "ABORT" if self.aborted else "FAIL"

    def shown(self) -> str:
        """``measured 123ms``, or why there is no measurement."""
        return self.no_data if self.measured is None else f"measured {show(self.threshold, self.measured)}"


def holds(threshold: Threshold, value: float | None) -> bool:
    """Whether ``value`` meets the threshold. No data meets a ``below`` (nothing was too slow or
    failed: a short run may never reach a rare request) and fails an ``above`` (nothing happened)."""
    if value is None:
        return threshold.bound == "below"
    return value < threshold.limit if threshold.bound == "below" else value > threshold.limit


def entry_for(threshold: Threshold, stats: RequestStats, journeys: RequestStats) -> StatsEntry | None:
    """The statistics a threshold reads: the whole run, one request (all its methods), or one journey."""
    if threshold.journey is not None:
        return journeys.entries.get((threshold.journey, "JOURNEY"))
    if threshold.request is None:
        return stats.total
    rows = [
        entry
        for (name, method), entry in stats.entries.items()
        if name == threshold.request and threshold.method in (None, method)
    ]
    if len(rows) <= 1:
        return rows[0] if rows else None
    combined = StatsEntry(stats, threshold.request, "")
    for row in rows:
        combined.extend(row)
    return combined


def measure(threshold: Threshold, entry: StatsEntry | None, counters: dict[str, float]) -> float | None:
    """The metric's value (ms for times, a fraction for error_rate), or None when nothing was measured."""
    metric = threshold.metric
    if metric in counters:
        return counters[metric]
    if entry is None or entry.num_requests == 0:
        return None
    return METRICS[metric].read(EntrySample(entry))


class EntrySample:
    """A Locust stats entry as a :class:`~engine.metrics.Sample` (the whole run, a request or a journey)."""

    def __init__(self, entry: StatsEntry) -> None:
        self.entry = entry
        self.requests: int = entry.num_requests
        self.failures: int = entry.num_failures

    def percentile(self, fraction: float) -> float:
        return float(self.entry.get_response_time_percentile(fraction))

    def avg(self) -> float:
        return float(self.entry.avg_response_time)

    def max(self) -> float:
        return float(self.entry.max_response_time)

    def min(self) -> float:
        return float(self.entry.min_response_time or 0)

    def rps(self) -> float:
        return float(self.entry.total_rps)


@dataclass
class WindowSample:
    """What happened between two snapshots of a stats entry, as a :class:`~engine.metrics.Sample`."""

    times: dict[int, int]
    requests: int
    failures: int
    total_time: float
    seconds: float

    def percentile(self, fraction: float) -> float:
        return float(calculate_response_time_percentile(self.times, self.requests, fraction))

    def avg(self) -> float:
        return self.total_time / self.requests

    def max(self) -> float | None:
        return float(max(self.times)) if self.times else None

    def min(self) -> float | None:
        return float(min(self.times)) if self.times else None

    def rps(self) -> float:
        return self.requests / self.seconds


class Window:
    """A sliding window over one entry: per-second snapshots, values over the last ``window`` seconds."""

    def __init__(self, threshold: Threshold) -> None:
        self.threshold = threshold
        self.metric = METRICS[threshold.metric]  # a counter has no window (refused at load)
        self.snapshots: deque[tuple[float, dict[int, int], int, int, float]] = deque()
        self.worst: float | None = None
        self.last: float | None = None
        """The value of the latest full window (for the live view)."""
        self.failed = False
        self.filled = False
        """Whether one whole window has passed (with or without requests)."""

    def no_data(self) -> str:
        """Why the window measured nothing, in words."""
        seconds = f"{self.threshold.window:g}s"
        if not self.filled:
            return f"no data: the run ended before one full {seconds} window"
        return f"no data: no request in any {seconds} window"

    def value(self, entry: StatsEntry | None, now: float) -> float | None:
        """Snapshot ``entry`` and measure the metric over the window (None until the window is full)."""
        window = self.threshold.window
        assert window is not None
        if entry is None:
            return None
        snapshot = (now, dict(entry.response_times), entry.num_requests, entry.num_failures, entry.total_response_time)
        self.snapshots.append(snapshot)
        while len(self.snapshots) > 1 and now - self.snapshots[1][0] >= window:
            self.snapshots.popleft()
        start = self.snapshots[0]
        if now - start[0] < window:
            return None
        self.filled = True
        requests = entry.num_requests - start[2]
        if requests <= 0:
            return None
        times = {k: v - start[1].get(k, 0) for k, v in entry.response_times.items() if v - start[1].get(k, 0) > 0}
        failures = entry.num_failures - start[3]
        return self.metric.read(WindowSample(times, requests, failures, entry.total_response_time - start[4], window))


class Verdict:
    """Thresholds, counters and journey statistics of one scenario, wired to a runner."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.thresholds = list(program.scenario.thresholds)
        self.windows = [Window(t) for t in self.thresholds if t.window is not None]
        self.results: list[Result] = []
        self.watcher: Any = None
        self.refusal: str | None = None

    @property
    def journeys(self) -> RequestStats:
        stats: RequestStats = self.program.journey_stats
        return stats

    def evaluate(self, stats: RequestStats) -> list[Result]:
        counters = self.program.counters.totals
        windowed = {id(w.threshold): w for w in self.windows}
        results = []
        for threshold in self.thresholds:
            window = windowed.get(id(threshold))
            if window is not None:
                # A window that never filled measured nothing: "no data", judged as for any threshold.
                passed = not window.failed and (window.worst is not None or holds(threshold, None))
                aborted = window.failed and threshold.abort
                results.append(Result(threshold, window.worst, passed, aborted, window.no_data()))
                continue
            value = measure(threshold, entry_for(threshold, stats, self.journeys), counters)
            results.append(Result(threshold, value, holds(threshold, value)))
        return results

    def watch(self, environment: Any, runner: Any) -> None:
        """Every second, check the windowed thresholds; abort the test when one with ``abort`` fails."""
        while True:
            gevent.sleep(1)
            now = time.monotonic()
            aborting: Window | None = None
            for window in self.windows:  # all of them, also when an earlier one aborts the test
                entry = entry_for(window.threshold, runner.stats, self.journeys)
                value = window.value(entry, now)
                if value is None:
                    continue
                window.last = value
                if window.worst is None or _worse(window, value):
                    window.worst = value
                if holds(window.threshold, value):
                    continue
                if not window.failed:
                    window.failed = True
                    log.error(
                        "threshold failed: %s (measured %s)", window.threshold.text, show(window.threshold, value)
                    )
                if window.threshold.abort and aborting is None:
                    aborting = window
            if aborting is not None:
                log.error("aborting the test: %s", aborting.threshold.text)
                environment.process_exit_code = EXIT_THRESHOLDS_FAILED
                gevent.spawn(runner.quit)
                return

    def live(self, stats: RequestStats, ended: bool = False) -> list[dict[str, str]]:
        """Each threshold now (``status``, ``threshold``, ``measured``), then the counters: the web UI's tab.

        Before the end a threshold shows its value so far (a windowed one: its latest full window); once
        the run has ended (``ended``, or concluded), its verdict.
        """
        rows = []
        results = self.results or (self.evaluate(stats) if ended and self.refusal is None else [])
        if results:
            for r in results:
                rows.append({"status": r.status, "threshold": r.threshold.text, "measured": r.shown()})
        else:
            windowed = {id(w.threshold): w for w in self.windows}
            counters = self.program.counters.totals
            for threshold in self.thresholds:
                window = windowed.get(id(threshold))
                if window is not None:
                    value = window.last
                    status = "FAIL" if window.failed else "waiting" if value is None else "PASS so far"
                    shown = window.no_data() if value is None else f"measured {show(threshold, value)}"
                else:
                    value = measure(threshold, entry_for(threshold, stats, self.journeys), counters)
                    status = ("PASS" if holds(threshold, value) else "FAIL") + " so far"
                    shown = "no data yet" if value is None else f"measured {show(threshold, value)}"
                rows.append({"status": status, "threshold": threshold.text, "measured": shown})
        for name, total in sorted(self.program.counters.totals.items()):
            rows.append({"status": "counter", "threshold": name, "measured": _number(total)})
        return rows

    def conclude(self, environment: Any, runner: Any) -> None:
        """At quitting: evaluate, set the exit code, write the files the options asked for."""
        if self.watcher is not None:
            self.watcher.kill(block=False)
        self.refusal = getattr(environment, REFUSAL, None)
        if self.refusal is not None:  # nothing to judge: no threshold passes or fails
            self.results = []
            environment.process_exit_code = EXIT_NOT_RUN
        else:
            self.results = self.evaluate(runner.stats)
        failed = [r for r in self.results if not r.passed]
        if self.thresholds and environment.process_exit_code is None:
            environment.process_exit_code = EXIT_THRESHOLDS_FAILED if failed else 0
        options = environment.parsed_options
        exit_code = environment.process_exit_code
        if exit_code is None:  # no thresholds: Locust decides, as main.shutdown() will
            failed_requests = bool(runner.errors or runner.exceptions)
            exit_code = getattr(options, "exit_code_on_error", 1) if failed_requests else 0
        if getattr(options, "verdict_json", None):
            write_json(Path(options.verdict_json), self.report(exit_code))
        if getattr(options, "junit_xml", None):
            write_junit(Path(options.junit_xml), self.program.scenario.name, self.results, self.refusal)

    def report(self, exit_code: int | None) -> dict[str, Any]:
        return {
            "scenario": self.program.scenario.name,
            "passed": self.refusal is None and all(r.passed for r in self.results),
            "exit_code": exit_code,
            "not_run": self.refusal,
            "thresholds": [
                {
                    "threshold": r.threshold.text,
                    "metric": r.threshold.metric,
                    "bound": r.threshold.bound,
                    "limit": r.threshold.limit,
                    "unit": unit(r.threshold),
                    "request": r.threshold.request,
                    "method": r.threshold.method,
                    "journey": r.threshold.journey,
                    "window_s": r.threshold.window,
                    "measured": r.measured,
                    "no_data": r.no_data if r.measured is None else None,
                    "passed": r.passed,
                    "aborted": r.aborted,
                }
                for r in self.results
            ],
            "counters": dict(self.program.counters.totals),
        }

    def table(self) -> str:
        if self.refusal is not None:
            return f"Verdict: run did not take place: {self.refusal}"
        lines = []
        if self.results:
            width = max(len(r.threshold.text) for r in self.results)
            lines.append(f"Thresholds of scenario {self.program.scenario.name}:")
            for r in self.results:
                lines.append(f"  {r.status:<5} {r.threshold.text:<{width}}  {r.shown()}")
        if self.program.counters.totals:
            counters = ", ".join(f"{k}={_number(v)}" for k, v in sorted(self.program.counters.totals.items()))
            lines.append(f"Counters: {counters}")
        if self.results:
            failed = sum(not r.passed for r in self.results)
            verdict = "PASS" if not failed else f"FAIL ({failed} of {len(self.results)} thresholds failed)"
            lines.append(f"Verdict: {verdict}")
        return "\n".join(lines)


def _worse(window: Window, value: float) -> bool:
    worst = window.worst
    assert worst is not None
    return value > worst if window.threshold.bound == "below" else value < worst


def unit(threshold: Threshold) -> str:
    return metric_unit(threshold.metric)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def show(threshold: Threshold, value: float | None) -> str:
    """A measured value in the threshold's terms: 123ms, 0.50%, 12.3."""
    if value is None:
        return "no data"
    kind = metric_unit(threshold.metric)
    if kind == "ms":
        return f"{value:.0f}ms"
    if kind == "ratio":
        return f"{value * 100:.2f}%"
    return _number(value)


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def write_junit(path: Path, scenario: str, results: list[Result], refusal: str | None = None) -> None:
    """One JUnit test case per threshold: CI systems show them as tests (one failed case when nothing ran)."""
    from xml.etree import ElementTree

    suite = ElementTree.Element(
        "testsuite",
        name=f"thresholds.{scenario}",
        tests=str(len(results) or int(refusal is not None)),
        failures=str(sum(not r.passed for r in results) or int(refusal is not None)),
    )
    if refusal is not None:
        case = ElementTree.SubElement(suite, "testcase", classname=f"thresholds.{scenario}", name="run")
        failure = ElementTree.SubElement(case, "failure", message="run did not take place")
        failure.text = f"run did not take place: {refusal}"
    for r in results:
        case = ElementTree.SubElement(suite, "testcase", classname=f"thresholds.{scenario}", name=r.threshold.text)
        if not r.passed:
            failure = ElementTree.SubElement(case, "failure", message=r.shown())
            failure.text = f"{r.threshold.text}: {r.shown()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = ElementTree.Element("testsuites")
    root.append(suite)
    ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def attach(program: Program, environment: Any, runner: Any) -> Verdict:
    """Wire counters, journey statistics and thresholds to a runner (from Locust's init event)."""
    verdict = Verdict(program)
    journeys = verdict.journeys

    def reset(environment: Any, **_: Any) -> None:
        program.counters.reset()
        journeys.clear_all()
        for window in verdict.windows:
            window.snapshots.clear()
            window.worst, window.last, window.failed = None, None, False

    environment.events.test_start.add_listener(reset)
    if isinstance(runner, WorkerRunner):

        def report(client_id: str, data: dict[str, Any]) -> None:
            data["engine_counters"] = program.counters.take_unreported()
            data["engine_journeys"] = journeys.serialize_stats()

        environment.events.report_to_master.add_listener(report)
        return verdict
    if isinstance(runner, MasterRunner):

        def merge(client_id: str, data: dict[str, Any]) -> None:
            program.counters.merge(data.get("engine_counters", {}))
            for row in data.get("engine_journeys", []):
                entry = StatsEntry.unserialize(row, journeys)
                journeys.get(entry.name, entry.method).extend(entry)

        environment.events.worker_report.add_listener(merge)

    def start_watch(environment: Any, **_: Any) -> None:
        if verdict.windows and (verdict.watcher is None or verdict.watcher.dead):
            verdict.watcher = gevent.spawn(verdict.watch, environment, runner)

    def stop_watch(environment: Any, **_: Any) -> None:
        if verdict.watcher is not None:
            verdict.watcher.kill(block=False)

    environment.events.test_start.add_listener(start_watch)
    environment.events.test_stop.add_listener(stop_watch)
    return verdict


def refuse(environment: Any, reason: str) -> None:
    """Record that the run did not take place (e.g. the master refused a worker): the verdict says so, exit 2.

    The first reason is kept; the caller stops the runner.
    """
    if getattr(environment, REFUSAL, None) is None:
        setattr(environment, REFUSAL, reason)
    environment.process_exit_code = EXIT_NOT_RUN


def print_table(verdict: Verdict) -> None:
    """After Locust's own summary: the verdict table on stderr (stdout may carry --json)."""
    text = verdict.table()
    if text:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
