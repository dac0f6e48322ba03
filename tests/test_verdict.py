"""Thresholds, counters and load profiles: load-time errors, then real ``locust`` runs.

The end-to-end tests run ``locust -f locustfile.py --scenario ...`` as
subprocesses against ``tests/target.py`` (its own process, 127.0.0.1, port 0).
Each run is headless, a few seconds long and bounded by a timeout; one
passing and one failing run check many thresholds at once.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from engine.load import check_file, compile_file

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = str(ROOT / "locustfile.py")
LOCUST = str(Path(sys.executable).with_name("locust"))


# -- load-time errors ---------------------------------------------------------------------------------------------

BASE = """\
version: 1
users:
  Shopper:
    journeys:
      shop:
        steps:
          - get: /items
            name: Items
            count: {listed: "{{ json | length }}"}
          - post: /echo
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return [str(error).removeprefix(f"{path}:") for error in check_file(path)]


def test_threshold_errors_name_the_place_and_the_fix(tmp_path: Path) -> None:
    text = BASE + textwrap.dedent(
        """\
        thresholds:
          - {metric: p59, below: 300ms}
          - {metric: p59, below: 300}
          - metric: p95
            below: 1%
          - {metric: error_rate, below: 300ms}
          - {metric: error_rate, below: 5}
          - {metric: requests, above: 2s}
          - {metric: p95, below: 300ms, request: Itmes}
          - {metric: p95, below: 300ms, request: /echo, method: POST}
          - {metric: p95, below: 300ms, journey: shp}
          - {metric: p95, below: 300ms, journey: Shoper.shop}
          - {metric: p95, below: 300ms, abort: true}
          - {metric: p95, below: 300ms, above: 10ms}
          - {metric: listd, above: 1}
          - {metric: listed, above: 5%}
          - {metric: listed, above: 1, for: 1s}
          - {metric: listed, above: 1, request: Items}
        """
    )
    assert problems(tmp_path, text) == [
        "12:5: unknown metric 'p59' (did you mean 'p99'?)",  # (a unit does not hide the unknown metric)
        "13:5: unknown metric 'p59' (did you mean 'p99'?)",
        "15:12: p95 is a response time: give it like 300ms or 2s, not 1%",
        "16:33: error_rate is a rate: give it like 1% or 0.01, not 300ms",
        "17:33: error_rate is a rate: give it like 1% or 0.01, not 5",
        "18:31: requests is a number: give it without a unit, not 2s",
        "19:5: no request is named 'Itmes' (did you mean 'Items'?)",
        "21:5: no journey is named 'shp' (did you mean 'shop'?)",
        "22:5: no journey is named 'Shoper.shop' (did you mean 'Shopper.shop'?)",
        "23:33: thresholds[10]: 'abort' needs 'for' too (abort stops the test when the sliding window of for: fails)",
        "24:33: a threshold has either below or above, not both",
        "25:5: unknown metric 'listd' (did you mean 'listed'?)",
        "26:29: counter 'listed' is a number: give it without a unit",
        "27:5: counter 'listed' is checked once, at the end of the run (a counter has no sliding window: remove for:)",
        "28:5: counter 'listed' is counted for the whole run only",
    ]


def test_an_unknown_metric_without_a_close_match_lists_the_metrics(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE + "thresholds:\n  - {metric: latency, below: 300ms}\n") == [
        "12:5: unknown metric 'latency' (metrics: p50, p90, p95, p99, avg, max, min, error_rate, rps, requests, "
        "failures, or a counter from count:)"
    ]


def test_profile_errors(tmp_path: Path) -> None:
    text = BASE + textwrap.dedent(
        """\
        load:
          default: smok
          profiles:
            smoke:
              stages:
                - {duration: 1s, users: 1}
                - {duration: 1s, users: 2, personas: [Shoper]}
        """
    )
    assert problems(tmp_path, text) == [
        "12:12: unknown profile 'smok' (did you mean 'smoke'?)",
        "17:46: profile 'smoke': unknown persona 'Shoper' (did you mean 'Shopper'?)",
    ]
    no_profiles = BASE + "load:\n  default: smoke\n  profiles:\n    endurance: {soak: {users: 1, hold: 1s}}\n"
    assert problems(tmp_path, no_profiles) == ["12:12: unknown profile 'smoke' (declare it under load.profiles)"]


def test_valid_limits_in_their_units(tmp_path: Path) -> None:
    text = BASE + textwrap.dedent(
        """\
        thresholds:
          - {metric: p95, below: 300ms}
          - {metric: p99, below: 2s}
          - {metric: avg, below: 250}
          - {metric: max, below: "1.5s"}
          - {metric: p50, below: "300"}
          - {metric: min, above: 1m}
          - {metric: error_rate, below: 1%}
          - {metric: error_rate, below: "0.5%"}
          - {metric: error_rate, below: 0.05, request: /echo, method: POST}
          - {metric: rps, above: 10, journey: Shopper.shop}
          - {metric: requests, above: "7", journey: shop, for: 2s, abort: true}
          - {metric: listed, above: 3}
        """
    )
    path = tmp_path / "valid.yaml"
    path.write_text(text, encoding="utf-8")
    program, _ = compile_file(path)
    thresholds = program.scenario.thresholds
    assert [t.limit for t in thresholds] == [300, 2000, 250, 1500, 300, 60000, 0.01, 0.005, 0.05, 10, 7, 3]
    assert [t.text for t in thresholds] == [
        "p95 below 300ms",
        "p99 below 2s",
        "avg below 250",
        "max below 1.5s",
        "p50 below 300",
        "min above 1m",
        "error_rate below 1%",
        "error_rate below 0.5%",
        "error_rate below 0.05 for POST /echo",
        "rps above 10 for journey Shopper.shop",
        "requests above 7 for journey shop over 2s",
        "listed above 3",
    ]
    windowed = thresholds[10]
    assert (windowed.window, windowed.abort, windowed.journey) == (2.0, True, "shop")
    assert (thresholds[8].request, thresholds[8].method) == ("/echo", "POST")
    assert [t.bound for t in thresholds] == ["below"] * 5 + ["above"] + ["below"] * 3 + ["above"] * 3


# -- end to end: helpers ------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One finished ``locust`` process and what it wrote."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    dir: Path

    def rows(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Locust's --json statistics, (method, name) -> row (with --processes, the master's list comes last)."""
        decoder, text, documents, position = json.JSONDecoder(), self.stdout, [], 0
        while position < len(text.rstrip()):
            document, end = decoder.raw_decode(text, position)
            documents.append(document)
            position = end + (len(text[end:]) - len(text[end:].lstrip()))
        return {(row["method"], row["name"]): row for row in [d for d in documents if d][-1]}

    def verdict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.dir / "verdict.json").read_text(encoding="utf-8"))
        return result

    def measured(self) -> dict[str, Any]:
        return {t["threshold"]: t["measured"] for t in self.verdict()["thresholds"]}

    def junit(self) -> ElementTree.Element:
        return ElementTree.parse(self.dir / "junit.xml").getroot()

    def table(self) -> list[str]:
        """The verdict table printed on stderr, from its title to the verdict line."""
        lines = self.stderr.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("Thresholds of scenario"))
        end = next(i for i, line in enumerate(lines) if line.startswith("Verdict: "))
        return lines[start : end + 1]

    def history(self) -> list[dict[str, str]]:
        """The Aggregated rows of --csv-full-history's stats history."""
        with open(self.dir / "run_stats_history.csv", encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    def user_counts(self) -> list[int]:
        """The "User Count" column over time, consecutive repeats collapsed."""
        counts: list[int] = []
        for row in self.history():
            if row["Name"] == "Aggregated" and (not counts or counts[-1] != int(row["User Count"])):
                counts.append(int(row["User Count"]))
        return counts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def locust(directory: Path, scenario: str, args: list[str], url: str | None = None, timeout: float = 60) -> Run:
    """Run locust headless on ``scenario`` (written to ``directory``) with the verdict files and --json."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "scenario.yaml"
    path.write_text(textwrap.dedent(scenario).lstrip("\n"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    command = [LOCUST, "-f", LOCUSTFILE, "--scenario", str(path), "--headless", "--only-summary", "--json"]
    command += ["--verdict-json", str(directory / "verdict.json"), "--junit-xml", str(directory / "junit.xml")]
    command += [*(["-H", url] if url else []), *args]
    started = time.monotonic()
    result = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True, timeout=timeout)
    return Run(result.returncode, result.stdout, result.stderr, time.monotonic() - started, directory)


def status_line(run: Run, status: str, threshold: str) -> re.Match[str]:
    """The table line of ``threshold``, which must have ``status``: returns the match of its measured value."""
    pattern = re.compile(rf"  {status:<5} {re.escape(threshold)} +(?:measured )?(.+)")
    for line in run.table():
        if match := pattern.fullmatch(line):
            return match
    raise AssertionError(f"no line '{status} {threshold}' in:\n" + "\n".join(run.table()))


# -- end to end: one passing run, one failing run ------------------------------------------------------------------

SHOP = """
version: 1
name: verdict
users:
  Shopper:
    wait: {constant: 0.02}
    journeys:
      shop:
        steps:
          - get: /items
            name: Items
            count:
              items_ok: "{{ status == 200 }}"
          - post: /echo
            name: Echo
            json: {n: 1}
          - get: /echo
            name: Echo
          - get: /slow
            name: Slow
            params: {ms: 60}
          - get: /items/102
            name: Never
            if: "{{ false }}"
          - get: /status/503
            name: Broken
"""
# Each journey run: 5 requests, 1 of which (Broken) fails: an error rate of 20%; Slow takes >= 60 ms.

PASSING = [
    "p95 below 5s",
    "avg below 2s",
    "max below 10s",
    "min below 1s",
    "error_rate below 25%",  # an error budget: the failed Broken requests are within it
    "rps above 1",
    "requests above 5",
    "failures above 0",
    "p95 above 50ms for Slow",
    "error_rate below 0.01 for Items",
    "requests above 0 for POST Echo",
    "requests above 0 for GET Echo",
    "requests above 0 for Echo",
    "error_rate above 99% for Broken",
    "avg above 50ms for journey shop",
    "error_rate above 99% for journey Shopper.shop",  # every run ends with the failing Broken
    "items_ok above 2",
]
FAILING = [
    "p95 below 20ms",
    "avg below 5ms",
    "max below 50ms",
    "error_rate below 10%",
    "rps above 100000",
    "requests below 5",
    "failures below 1",
    "p50 below 30ms for Slow",
    "error_rate below 0.01 for Items",  # the one that passes
    "requests above 100000 for POST Echo",
    "requests below 1 for Echo",
    "avg below 30ms for journey shop",
    "error_rate below 50% for journey Shopper.shop",
    "items_ok below 1",
    "requests above 0 for Never",  # never sent: nothing measured, which fails
    "requests above 0 over 1m",  # a window that never fills measures nothing either
]


def thresholds_yaml(texts: list[str]) -> str:
    """``p95 below 5s for POST Echo`` -> a YAML threshold (the same words the table prints)."""
    lines = ["thresholds:"]
    for text in texts:
        pattern = r"(\w+) (below|above) (\S+)(?: for (journey )?(?:(GET|POST) )?(\S+))?(?: over (\S+))?"
        match = re.fullmatch(pattern, text)
        assert match, text
        metric, bound, limit, journey, method, name, window = match.groups()
        item = f"  - {{metric: {metric}, {bound}: {limit}"
        if name:
            item += f", {'journey' if journey else 'request'}: {name}"
        if method:
            item += f", method: {method}"
        if window:
            item += f", for: {window}"
        lines.append(item + "}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def passing(target_url: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    scenario = textwrap.dedent(SHOP).lstrip("\n") + thresholds_yaml(PASSING)
    return locust(tmp_path_factory.mktemp("passing"), scenario, ["-u", "2", "-r", "2", "-t", "2s"], target_url)


@pytest.fixture(scope="module")
def failing(target_url: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    scenario = textwrap.dedent(SHOP).lstrip("\n") + thresholds_yaml(FAILING)
    directory = tmp_path_factory.mktemp("failing")
    return locust(
        directory, scenario, ["-u", "2", "-r", "2", "-t", "2s", "--html", str(directory / "report.html")], target_url
    )


def test_passing_thresholds_exit_0_despite_failed_requests_within_the_budget(passing: Run) -> None:
    assert passing.returncode == 0, passing.stderr
    rows = passing.rows()
    assert rows[("GET", "Broken")]["num_failures"] == rows[("GET", "Broken")]["num_requests"] > 0
    assert passing.table()[0] == "Thresholds of scenario verdict:"
    assert passing.table()[-1] == "Verdict: PASS"
    for text in PASSING:
        status_line(passing, "PASS", text)
    assert re.fullmatch(r"[0-9]+ms", status_line(passing, "PASS", "p95 above 50ms for Slow")[1])
    assert re.fullmatch(r"(2[0-4]|1[5-9])\.[0-9]{2}%", status_line(passing, "PASS", "error_rate below 25%")[1])
    assert "Shutting down (exit code 0)" in passing.stderr
    # After Locust's own summary (on stderr with --json: stdout carries only the JSON).
    assert passing.stderr.index("Thresholds of scenario") > passing.stderr.index("Shutting down")
    assert "Thresholds" not in passing.stdout


def test_passing_verdict_json_and_junit(passing: Run) -> None:
    verdict = passing.verdict()
    assert (verdict["scenario"], verdict["passed"], verdict["exit_code"]) == ("verdict", True, 0)
    assert [t["threshold"] for t in verdict["thresholds"]] == PASSING
    assert all(t["passed"] and not t["aborted"] for t in verdict["thresholds"])
    first = verdict["thresholds"][0]
    assert {k: first[k] for k in ("metric", "bound", "limit", "unit", "request", "journey", "window_s")} == {
        "metric": "p95", "bound": "below", "limit": 5000.0, "unit": "ms",
        "request": None, "journey": None, "window_s": None,
    }  # fmt: skip
    by_text = {t["threshold"]: t for t in verdict["thresholds"]}
    assert by_text["error_rate below 25%"]["unit"] == "ratio"
    assert by_text["error_rate below 25%"]["limit"] == 0.25
    post = by_text["requests above 0 for POST Echo"]
    assert (post["request"], post["method"]) == ("Echo", "POST")
    assert by_text["avg above 50ms for journey shop"]["journey"] == "shop"

    suite = passing.junit().find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("thresholds.verdict", "17", "0")
    assert [case.get("name") for case in suite.iter("testcase")] == PASSING
    assert suite.find("testcase/failure") is None


def test_measured_values_match_locust_statistics(passing: Run) -> None:
    rows, measured = passing.rows(), passing.measured()
    total = sum(row["num_requests"] for row in rows.values())
    failures = sum(row["num_failures"] for row in rows.values())
    assert measured["requests above 5"] == total
    assert measured["failures above 0"] == failures == rows[("GET", "Broken")]["num_requests"]
    assert measured["error_rate below 25%"] == pytest.approx(failures / total)
    assert measured["requests above 0 for POST Echo"] == rows[("POST", "Echo")]["num_requests"]
    assert measured["requests above 0 for GET Echo"] == rows[("GET", "Echo")]["num_requests"]
    assert measured["requests above 0 for Echo"] == (
        rows[("POST", "Echo")]["num_requests"] + rows[("GET", "Echo")]["num_requests"]
    )
    assert measured["p95 above 50ms for Slow"] >= 60
    assert measured["max below 10s"] == max(row["max_response_time"] for row in rows.values())
    assert measured["error_rate above 99% for Broken"] == 1.0
    # The counter is not a request: it counts the Items responses with status 200.
    assert measured["items_ok above 2"] == rows[("GET", "Items")]["num_requests"]
    assert passing.verdict()["counters"] == {"items_ok": rows[("GET", "Items")]["num_requests"]}
    assert f"Counters: items_ok={rows[('GET', 'Items')]['num_requests']}" in passing.table()
    # Journey runs: each took the Slow request's time, and each one failed at Broken.
    assert measured["avg above 50ms for journey shop"] >= 60
    assert measured["error_rate above 99% for journey Shopper.shop"] == 1.0
    assert ("GET", "Never") not in rows


def test_failing_thresholds_exit_4(failing: Run) -> None:
    assert failing.returncode == 4, failing.stderr
    assert "Shutting down (exit code 4)" in failing.stderr
    assert failing.table()[-1] == f"Verdict: FAIL ({len(FAILING) - 1} of {len(FAILING)} thresholds failed)"
    for text in FAILING:
        status_line(failing, "PASS" if text == "error_rate below 0.01 for Items" else "FAIL", text)
    assert status_line(failing, "FAIL", "requests above 0 for Never")[1] == "no data: nothing it measures ran"
    ended = "no data: the run ended before one full 60s window"  # a window that never filled says so in words
    assert status_line(failing, "FAIL", "requests above 0 over 1m")[1] == ended
    assert re.fullmatch(r"[0-9]+ms", status_line(failing, "FAIL", "p50 below 30ms for Slow")[1])
    assert re.fullmatch(r"[0-9]+", status_line(failing, "FAIL", "requests below 5")[1])
    assert status_line(failing, "FAIL", "error_rate below 50% for journey Shopper.shop")[1] == "100.00%"


def test_the_html_report_has_the_verdict_and_names_the_scenario(failing: Run) -> None:
    """The table of the run's end, in a section of Locust's HTML report (``--html``), counters included."""
    report = (failing.dir / "report.html").read_text(encoding="utf-8")
    assert '"locustfile": "scenario.yaml"' in report
    section = re.search(r'<section id="engine-thresholds".*?</section>', report, re.DOTALL)
    assert section is not None
    table = {}
    for status, text in re.findall(r"<tr><td>([A-Za-z ]+)</td><td>([^<]+)</td>", section.group(0)):
        table[html.unescape(text)] = status
    assert table["error_rate below 0.01 for Items"] == "PASS"
    assert table["p95 below 20ms"] == "FAIL"
    assert table["items_ok"] == "counter"
    assert "no data: nothing it measures ran" in section.group(0)


def test_failing_verdict_json_and_junit(failing: Run) -> None:
    verdict = failing.verdict()
    assert (verdict["passed"], verdict["exit_code"]) == (False, 4)
    passed = {t["threshold"]: t["passed"] for t in verdict["thresholds"]}
    assert passed == {text: text == "error_rate below 0.01 for Items" for text in FAILING}
    measured, rows = failing.measured(), failing.rows()
    assert measured["requests above 0 for Never"] is None
    assert measured["requests above 0 over 1m"] is None
    no_data = {t["threshold"]: t["no_data"] for t in verdict["thresholds"]}
    assert no_data["requests above 0 over 1m"] == "no data: the run ended before one full 60s window"
    assert no_data["requests above 0 for Never"] == "no data: nothing it measures ran"
    assert no_data["p95 below 20ms"] is None
    assert measured["p95 below 20ms"] >= 60
    assert measured["requests above 100000 for POST Echo"] == rows[("POST", "Echo")]["num_requests"]
    assert measured["items_ok below 1"] == rows[("GET", "Items")]["num_requests"] > 0
    assert measured["error_rate below 10%"] == pytest.approx(0.2, abs=0.04)

    suite = failing.junit().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == (str(len(FAILING)), str(len(FAILING) - 1))
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == FAILING
    assert cases["error_rate below 0.01 for Items"].find("failure") is None
    never = cases["requests above 0 for Never"].find("failure")
    assert never is not None and never.get("message") == "no data: nothing it measures ran"
    assert never.text == "requests above 0 for Never: no data: nothing it measures ran"
    p95 = cases["p95 below 20ms"].find("failure")
    assert p95 is not None and re.fullmatch(r"measured [0-9]+ms", p95.get("message", ""))
    counter = cases["items_ok below 1"].find("failure")
    assert counter is not None and counter.get("message") == f"measured {rows[('GET', 'Items')]['num_requests']}"


# -- windows and abort ---------------------------------------------------------------------------------------------


def test_a_failing_windowed_threshold_with_abort_stops_the_run_early(target_url: str, tmp_path: Path) -> None:
    scenario = textwrap.dedent(SHOP).lstrip("\n") + textwrap.dedent(
        """\
        thresholds:
          - {metric: p95, below: 20ms, request: Slow, for: 1s, abort: true}
          - {metric: requests, above: 0}
          - {metric: error_rate, below: 50%, for: 1s}
        """
    )
    run = locust(tmp_path, scenario, ["-u", "2", "-r", "2", "-t", "30s"], target_url)
    assert run.returncode == 4, run.stderr
    assert run.seconds < 25, run.seconds  # -t was 30 s (a bound that holds on a loaded machine)
    assert "aborting the test: p95 below 20ms for Slow over 1s" in run.stderr
    assert re.search(r"threshold failed: p95 below 20ms for Slow over 1s \(measured [0-9]+ms\)", run.stderr)
    measured = status_line(run, "ABORT", "p95 below 20ms for Slow over 1s")[1]
    assert int(measured.removesuffix("ms")) >= 60
    status_line(run, "PASS", "requests above 0")
    status_line(run, "PASS", "error_rate below 50% over 1s")
    assert run.table()[-1] == "Verdict: FAIL (1 of 3 thresholds failed)"
    verdict = run.verdict()
    assert (verdict["passed"], verdict["exit_code"]) == (False, 4)
    aborted = verdict["thresholds"][0]
    assert (aborted["passed"], aborted["aborted"], aborted["window_s"]) == (False, True, 1.0)
    # The other window was checked at the aborting tick too.
    error_rate = verdict["thresholds"][2]
    assert (error_rate["window_s"], error_rate["passed"]) == (1.0, True)
    assert error_rate["measured"] == pytest.approx(0.2, abs=0.1)
    # Far fewer requests than 30 s would have made (2 users send about 5 requests per 100 ms each).
    requests = sum(row["num_requests"] for row in run.rows().values())
    assert 0 < requests == run.measured()["requests above 0"]
    assert requests < 1000


# -- without thresholds; count: ------------------------------------------------------------------------------------


def test_without_thresholds_locust_decides_and_counters_stay_out_of_the_statistics(
    target_url: str, tmp_path: Path
) -> None:
    """No thresholds: exit 1 for failed requests (Locust's); profiles without load.default: -u/-r/-t apply."""
    scenario = textwrap.dedent(SHOP).lstrip("\n").replace(
        '            count:\n              items_ok: "{{ status == 200 }}"\n',
        "            count:\n"
        '              items_ok: "{{ status == 200 }}"\n'
        '              listed: "{{ json | length }}"\n'
        '              teapots: "{{ status == 418 }}"\n'
        "              always: true\n"
        "              two: 2\n",
    ) + textwrap.dedent(
        """\
        load:
          profiles:
            long: {stages: [{duration: 1m, users: 1}]}
        """
    )
    run = locust(
        tmp_path, scenario, ["-u", "3", "-r", "3", "-t", "2s", "--csv", "run", "--csv-full-history"], target_url
    )
    assert run.returncode == 1, run.stderr
    assert run.seconds < 30  # -t 2s, not the profile's minute
    rows = run.rows()
    assert set(rows) == {("GET", "Items"), ("POST", "Echo"), ("GET", "Echo"), ("GET", "Slow"), ("GET", "Broken")}
    items = rows[("GET", "Items")]["num_requests"]
    counters = run.verdict()["counters"]
    assert counters == {"items_ok": items, "listed": 3 * items, "teapots": 0, "always": items, "two": 2 * items}
    assert run.verdict()["thresholds"] == [] and run.verdict()["passed"] is True
    assert f"Counters: always={items}, items_ok={items}, listed={3 * items}, teapots=0, two={2 * items}" in run.stderr
    assert "Thresholds of scenario" not in run.stderr and "Verdict:" not in run.stderr
    # -u 3 from the command line, not the profile's 1 user
    assert [count for count in run.user_counts() if count] == [3]
    history_names = {row["Name"] for row in run.history()}
    assert history_names == {"Items", "Echo", "Slow", "Broken", "Aggregated"}


# -- counters across worker processes ------------------------------------------------------------------------------


def test_counters_and_journeys_are_summed_across_worker_processes(target_url: str, tmp_path: Path) -> None:
    scenario = """
    version: 1
    name: distributed
    users:
      Lister:
        wait: {constant: 0.05}
        journeys:
          list:
            steps:
              - think: 0.1  # where the end of the test mostly finds the users
              - get: /items
                name: Items
                count: {items_ok: "{{ status == 200 }}", listed: "{{ json | length }}"}
    thresholds:
      - {metric: items_ok, above: 0}
      - {metric: requests, above: 0, journey: list}
      - {metric: failures, below: 1, journey: Lister.list}
    """
    port = str(free_port())
    args = ["-u", "4", "-r", "4", "-t", "3s", "--processes", "2", "--master-bind-port", port, "--master-port", port]
    run = locust(tmp_path, scenario, args, target_url)
    assert run.returncode == 0, run.stderr
    items = run.rows()[("GET", "Items")]["num_requests"]
    assert items > 20
    verdict = run.verdict()
    assert verdict["counters"] == {"items_ok": items, "listed": 3 * items}
    measured = run.measured()
    assert measured["items_ok above 0"] == items
    # One request per journey run; runs cut short by the end of the test are not (failed) runs.
    assert measured["requests above 0 for journey list"] == items
    assert measured["failures below 1 for journey Lister.list"] == 0
    assert verdict["passed"] is True


REFUSED = """
version: 1
name: refused
users:
  Reader:
    wait: {constant: 0.05}
    journeys:
      read:
        steps:
          - get: /health
thresholds:
  - {metric: p95, below: 10s}
  - {metric: error_rate, below: 50%}
"""


def test_a_master_that_refused_a_worker_says_the_run_did_not_take_place(target_url: str, tmp_path: Path) -> None:
    """No thresholds are judged on a run that never happened: no "Verdict: PASS", exit code 2."""
    port = str(free_port())
    worker_dir = tmp_path / "worker"
    worker_dir.mkdir()
    other = worker_dir / "other.yaml"
    other.write_text(textwrap.dedent(REFUSED).lstrip("\n").replace("Reader:", "Writer:"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    worker = subprocess.Popen(
        [LOCUST, "-f", LOCUSTFILE, "--scenario", str(other), "--worker", "--master-host", "127.0.0.1",
         "--master-port", port],
        cwd=worker_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-port", port]
        args += ["--expect-workers", "1", "--expect-workers-max-wait", "30", "-u", "2", "-r", "2", "-t", "5s"]
        run = locust(tmp_path / "master", REFUSED, args, target_url, timeout=60)
    finally:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    assert run.returncode == 2, run.stderr
    assert "Verdict: PASS" not in run.stderr and "  PASS " not in run.stderr
    assert re.search(
        r"^Verdict: run did not take place: worker \S+ runs a different scenario \(\S*other\.yaml\) "
        r"than the master \(\S*scenario\.yaml\)$",
        run.stderr,
        re.MULTILINE,
    ), run.stderr
    verdict = run.verdict()
    assert verdict["passed"] is False and verdict["exit_code"] == 2 and verdict["thresholds"] == []
    assert "runs a different scenario" in verdict["not_run"]
    suite = run.junit().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


# -- load profiles end to end --------------------------------------------------------------------------------------

STAGED = """
version: 1
name: staged
users:
  A:
    wait: {constant: 0.1}
    journeys:
      a:
        steps:
          - get: /items
            name: A
  B:
    wait: {constant: 0.1}
    journeys:
      b:
        steps:
          - get: /items/101
            name: B
load:
  default: staged
  profiles:
    staged:
      stages:
        - {duration: 2s, users: 1, personas: [A]}
        - {duration: 2s, users: 3}
        - {duration: 2s, users: 2}
    long:
      stages:
        - {duration: 1m, users: 4}
"""


def test_a_staged_profile_plays_its_user_counts_and_ends_by_itself(target_url: str, tmp_path: Path) -> None:
    run = locust(tmp_path, STAGED, ["-t", "30s", "--csv", "run", "--csv-full-history"], target_url)
    assert run.returncode == 0, run.stderr
    assert run.seconds < 25, run.seconds  # the profile's 6 s, not -t 30s
    assert "Shape test completed" in run.stderr
    counts = run.user_counts()
    assert [count for count in counts if count] == [1, 3, 2], counts
    # The first stage runs persona A only; the next ones all personas again.
    history = run.history()
    first_stage = {row["Timestamp"] for row in history if row["Name"] == "Aggregated" and row["User Count"] == "1"}
    assert first_stage
    assert all(
        row["Name"] != "B" or row["Total Request Count"] == "0" for row in history if row["Timestamp"] in first_stage
    )
    rows = run.rows()
    assert rows[("GET", "A")]["num_requests"] > 0
    assert rows[("GET", "B")]["num_requests"] > 0


def test_a_headless_run_prints_where_the_profile_is_beside_locusts_table(target_url: str, tmp_path: Path) -> None:
    """Without --only-summary, each periodic table is followed by the profile's stage, time and users."""
    path = tmp_path / "staged.yaml"
    path.write_text(textwrap.dedent(STAGED).lstrip("\n"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    command = [LOCUST, "-f", LOCUSTFILE, "--scenario", str(path), "--headless", "-H", target_url, "-t", "30s"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    lines = re.findall(
        r"^profile staged: (stage ([1-3]) of 3), (00:0[0-6]) of 00:06, ([0-3])/([1-3]) users$", output, re.M
    )
    assert lines, output[-3000:]  # one every 2 s of a 6 s profile (at least the first, on a busy machine)
    for _, stage, elapsed, _, target in lines:
        assert int(stage) == min(int(elapsed[-1]) // 2 + 1, 3)  # the stage that holds at that time
        assert int(target) == {1: 1, 2: 3, 3: 2}[int(stage)]
    quiet = locust(tmp_path / "quiet", STAGED, ["-t", "30s"], target_url)  # --only-summary: no such line
    assert quiet.returncode == 0 and "profile staged:" not in quiet.stdout + quiet.stderr


def test_profile_option_selects_a_profile_and_run_time_caps_it(target_url: str, tmp_path: Path) -> None:
    run = locust(tmp_path, STAGED, ["--profile", "long", "-t", "2s", "--csv", "run", "--csv-full-history"], target_url)
    assert run.returncode == 0, run.stderr
    assert run.seconds < 30, run.seconds  # -t 2s: the profile lasts 1 minute
    assert [count for count in run.user_counts() if count] == [4]  # "long", not the default "staged"


def test_an_unknown_profile_is_refused_before_any_user(target_url: str, tmp_path: Path) -> None:
    run = locust(tmp_path, STAGED, ["--profile", "unknown", "-t", "5s"], target_url)
    assert run.returncode == 2
    path = tmp_path / "scenario.yaml"
    assert f"error: --profile unknown: no such profile in {path} (profiles: staged, long)" in run.stderr
    assert "spawn" not in run.stderr.lower()
    close = locust(tmp_path, STAGED, ["--profile", "stagd", "-t", "5s"], target_url)
    assert close.returncode == 2
    assert "no such profile" in close.stderr and "(did you mean 'staged'?)" in close.stderr
