"""Expectation operators and threshold metrics are tables: the schema, the README and the code name the same
entries, an unknown name fails at load, and a metric reads the whole run and a sliding window alike."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from locust.stats import RequestStats

from engine.errors import ErrorSink, Position
from engine.expect import OPERATORS, Operator
from engine.metrics import METRICS
from engine.model import Match, Threshold, Value
from engine.templates import Templates
from engine.validate import schema
from engine.verdict import Window, measure

ROOT = Path(__file__).resolve().parent.parent
HERE = Position("s.yaml", 7, 9)


def test_operators_are_the_schema_operators() -> None:
    assert list(OPERATORS) == list(schema()["definitions"]["operators"]["properties"])


def test_an_operator_the_table_does_not_know_fails_at_load_not_at_run_time() -> None:
    """An operator added to the schema but not to the code is a load-time problem with the operators listed."""
    sink = ErrorSink()
    Operator(Match("longer_than", Value(3, HERE)), Templates(), sink)
    assert [str(error) for error in sink.errors] == [
        "s.yaml:7:9: unknown operator 'longer_than' (operators: " + ", ".join(OPERATORS) + ")"
    ]
    close = ErrorSink()
    Operator(Match("min_lenght", Value(3, HERE)), Templates(), close)
    assert [str(error) for error in close.errors] == [
        "s.yaml:7:9: unknown operator 'min_lenght' (did you mean 'min_length'?)"
    ]


@pytest.mark.parametrize(
    ("op", "expected", "actual", "reason"),
    [
        ("eq", 1, 1, None),
        ("eq", 1, 2, "expected == 1"),
        ("ne", 1, 1, "expected != 1"),
        ("gt", 1, 2, None),
        ("gt", 1, "2", "expected a number > 1"),
        ("ge", 2, 2, None),
        ("lt", 2, 2, "expected < 2"),
        ("le", "x", 2, "<= x: not a number"),
        ("in", [1, 2], 3, "expected in [1, 2]"),
        ("contains", "b", "abc", None),
        ("contains", "b", 5, "expected a string, list or object that contains b"),
        ("matches", "^a", "abc", None),
        ("matches", "^b", "abc", "expected matches ^b"),
        ("exists", False, 1, "present, expected absent"),
        ("type", "integer", True, "expected type integer"),
        ("length", 2, [1, 2], None),
        ("min_length", 3, "ab", "expected min length 3"),
        ("max_length", 1, 5, "expected max length 1, got a value without a length"),
    ],
)
def test_every_operator_answers_from_its_table_entry(op: str, expected: object, actual: object, reason: str) -> None:
    sink = ErrorSink()
    check = Operator(Match(op, Value(expected, HERE)), Templates(), sink)
    assert sink.errors == []
    assert check.failure(actual, {}) == reason


def test_metrics_are_the_ones_the_readme_and_the_schema_list() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pattern = r"^Metrics: `([a-z0-9 ]+)` \(response times.*?\), `(\w+)` .*?, `(\w+)`, `(\w+)`,\n`(\w+)`"
    listed = re.search(pattern, readme, re.M | re.S)
    assert listed is not None
    assert [*listed.group(1).split(), *listed.groups()[1:]] == list(METRICS)
    described = schema()["definitions"]["threshold"]["properties"]["metric"]["description"]
    assert re.findall(r"\b(p\d\d|avg|max|min|error_rate|rps|requests|failures)\b", described) == list(METRICS)
    assert [metric.unit for metric in METRICS.values()] == ["ms"] * 7 + ["ratio", "", "", ""]


def threshold(metric: str, window: float | None = None) -> Threshold:
    return Threshold(metric, "below", 1.0, metric, HERE, HERE, window=window)


def test_every_metric_reads_the_whole_run_and_a_window_alike() -> None:
    """One table serves ``measure`` (aggregated statistics) and ``Window`` (a sliding window): over a window
    that holds every request, each metric measures the same (rps aside: its denominator is the window)."""
    stats = RequestStats()
    entry = stats.get("/items", "GET")
    windows = {name: Window(threshold(name, window=10)) for name in METRICS}
    for window in windows.values():
        assert window.value(entry, now=0.0) is None  # the first snapshot: nothing yet
    for ms in (12, 15, 15, 40, 90, 7):
        entry.log(ms, 100)
    entry.log_error(RuntimeError("boom"))
    entry.log_error(RuntimeError("boom"))
    whole = {name: measure(threshold(name), entry, {}) for name in METRICS}
    windowed = {name: window.value(entry, now=10.0) for name, window in windows.items()}
    assert whole.pop("rps") is not None
    assert windowed.pop("rps") == 6 / 10
    assert windowed == whole
    assert whole == {
        "p50": 15.0,
        "p90": 90.0,
        "p95": 90.0,
        "p99": 90.0,
        "avg": pytest.approx(179 / 6),
        "max": 90.0,
        "min": 7.0,
        "error_rate": 2 / 6,
        "requests": 6.0,
        "failures": 2.0,
    }


def test_a_counter_is_measured_before_the_table_and_nothing_is_no_data() -> None:
    stats = RequestStats()
    assert measure(threshold("orders"), stats.total, {"orders": 3}) == 3
    assert measure(threshold("p95"), stats.total, {}) is None  # no request: no data
    assert measure(threshold("p95"), None, {}) is None


def test_a_window_without_data_says_why_in_words() -> None:
    stats = RequestStats()
    entry = stats.get("/items", "GET")
    short = Window(threshold("p95", window=30))
    assert short.value(entry, now=0.0) is None
    assert short.value(entry, now=12.0) is None
    assert short.no_data() == "no data: the run ended before one full 30s window"
    idle = Window(threshold("p95", window=10))
    assert idle.value(entry, now=0.0) is None
    assert idle.value(entry, now=10.0) is None  # a whole window passed, without a request
    assert idle.no_data() == "no data: no request in any 10s window"
