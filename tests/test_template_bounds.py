"""A template can never run away: bounded in what it builds and how long it runs, at load and run time.

Every input is one a hostile-input check found exhausting memory or time. The bounds on time
in these tests are generous (a loaded 2-core machine): they tell a bounded run from a hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runtime_support import CLIENTS, counts, messages, scenario, validate_cli

from engine.deadline import TemplateTimeout
from engine.errors import ErrorSink, Position
from engine.model import Limits
from engine.sandbox import MAX_COUNT, TemplateLimit
from engine.templates import Templates

ROOT = Path(__file__).resolve().parent.parent
RUNAWAY = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done"
WHERE = Position("s.yaml", 7, 15)
LOCUST = [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py")]


def render(text: str, limits: Limits | None = None) -> object:
    templates = Templates(limits=limits)
    sink = ErrorSink()
    renderer = templates.compile(text, WHERE, sink)
    assert not sink.errors
    scope = templates.builtins()
    return renderer.render(scope)


@pytest.mark.parametrize(
    "text",
    [
        "{{ 'a' * 10**10 }}",
        "{{ 'ab' * 10**9 }}",
        "{{ [0] * 10**10 }}",
        "{{ 10**10 * 'a' }}",
        "x{{ 'a' * 10**10 }}",
        "{{ '%*d' | format(10**10, 1) }}",
        "{{ '%10000000000d' % 1 }}",
        "{{ 'x' | center(10**10) }}",
        "{{ 'x'.center(10**10) }}",
        "{{ 'x'.ljust(10**10) }}",
        "{{ '{:>10000000000}'.format(1) }}",
        "{{ '{:>{w}}'.format(1, w=10**10) }}",
        "{{ fake.binary(10**10) }}",
        "{{ fake.pystr(max_chars=10**10) }}",
        "{{ now('%Y' * 10**9) }}",
        "{{ ('a' * 1000) | replace('a', 'b' * 100000) }}",
        "{{ ('a' * 5000000) ~ ('b' * 5000001) }}",
        "{{ ('a' * 5000000) + ('b' * 5000001) }}",
        "{% set ns = namespace(x='a') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x }}",
        "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
    ],
)
def test_a_template_that_would_build_too_much_fails_with_its_place(text: str) -> None:
    with pytest.raises(TemplateLimit) as failed:
        render(text)
    message = str(failed.value)
    assert "over the limit of 10,000,000" in message and "limits: {template_size: N}" in message
    assert message.endswith("(s.yaml:7)")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{{ 9 ** (9 ** 9) }}", "a power of more than 100,000 bits is too large"),
        ("{{ (2 ** 60000) * (2 ** 60000) }}", "a product of more than 100,000 bits is too large"),
        ("{{ lipsum(10**7) }}", f"n=10000000): at most {MAX_COUNT:,} can be made in one call"),
        ("{{ fake.words(nb=10**7) }}", f"words(nb=10000000): at most {MAX_COUNT:,}"),
        ("{% for i in range(10**6) %}{% endfor %}", "Range too big"),
    ],
)
def test_huge_numbers_and_counts_are_refused(text: str, says: str) -> None:
    with pytest.raises((TemplateLimit, OverflowError)) as failed:
        render(text)
    assert says in str(failed.value)


def test_a_template_that_runs_too_long_fails_at_its_limit() -> None:
    started = time.monotonic()
    with pytest.raises(TemplateTimeout) as failed:
        render(RUNAWAY, Limits(template_time=0.3))
    assert time.monotonic() - started < 30  # unbounded, it would run for hours
    assert str(failed.value) == (
        "the template ran longer than 0.3s (raise the limit with limits: {template_time: 5s}) (s.yaml:7)"
    )


def test_ordinary_templates_are_untouched() -> None:
    assert render("{{ 'ab' * 3 }}") == "ababab"
    assert render("{{ [1] * 3 }}") == [1, 1, 1]
    assert render("{{ 2 ** 64 }}") == 2**64
    assert render("{{ 'x' * 1000000 }}") == "x" * 1_000_000
    assert render("{{ '%5d' % 3 }}") == "    3"
    assert render("{{ '{:>4}|{}'.format(1, 'a') }}") == "   1|a"
    assert render("{{ 'x' | center(5) }}") == "  x  "
    assert render("{{ 'a b' | replace(' ', '-') }}") == "a-b"
    assert render("{{ 'a' ~ 1 ~ none }}") == "a1None"
    assert render("{% for i in range(3) %}{{ i }}{% endfor %}") == "012"
    assert render("{{ fake.random_int(0, 10**12) >= 0 }}") is True
    assert render("{{ lipsum(2, html=false) | length > 10 }}") is True


def test_the_limits_can_be_raised_and_lowered() -> None:
    with pytest.raises(TemplateLimit, match="over the limit of 100 "):
        render("{{ 'a' * 101 }}", Limits(template_size=100))
    assert render("{{ 'a' * 100 }}", Limits(template_size=100)) == "a" * 100
    assert len(str(render("{{ 'a' * 20000000 }}", Limits(template_size=20_000_000)))) == 20_000_000


@pytest.mark.slow
def test_validate_does_not_fold_a_huge_constant(tmp_path: Path) -> None:
    """Jinja folds constant expressions when it compiles: 'ab' * 10**9 took validate to 6 GB."""
    path = tmp_path / "s.yaml"
    path.write_text(scenario("""- log: "{{ 'ab' * 10**9 }}"\n- set: {x: "{{ [0] * 10**10 }}"}"""), encoding="utf-8")
    done = validate_cli(str(path))
    assert done.returncode == 0, done.stderr


def test_limits_are_read_from_the_scenario(tmp_path: Path) -> None:
    from engine.load import compile_file

    path = tmp_path / "s.yaml"
    path.write_text(
        scenario("- get: /", top="limits: {template_size: 50000000, template_time: 2500ms}"), encoding="utf-8"
    )
    program, _ = compile_file(path)
    assert program.scenario.limits == Limits(template_size=50_000_000, template_time=2.5)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_runaway_request_body_is_a_failed_request(harness, client):
    h = harness(
        scenario(
            """
            - post: /echo
              json: {blob: "{{ 'x' * 10**10 }}"}
            - get: /health
            """,
            client,
        )
    )
    h.journey(h.user(), times=2)
    found = messages(h)
    assert len(found) == 1 and found[0].startswith("template error: repetition would build 10,000,000,000"), found
    assert counts(h) == {("POST", "/echo"): (2, 2)}  # failed before it was sent; the journey stopped


def _locust(path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*LOCUST, "--scenario", str(path), "--headless", "-u", "2", "-r", "2", "--only-summary", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )


def _runaway_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "runaway.yaml"
    path.write_text(
        "version: 1\nname: runaway\nhost: http://127.0.0.1:9\n"
        "users:\n  U:\n    wait: {constant: 0}\n    journeys:\n      j:\n        steps:\n"
        f'          - set: {{x: "{RUNAWAY}"}}\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
def test_run_time_stops_a_run_whose_template_runs_away(tmp_path: Path) -> None:
    process = _locust(_runaway_scenario(tmp_path), "-t", "3s")
    try:
        out, _ = process.communicate(timeout=90)  # unbounded, it ran until killed
    finally:
        process.kill()
    assert "template error in x: the template ran longer than 1s" in out and "(runaway.yaml:10)" in out, out
    assert "Traceback" not in out


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="no SIGTERM")
def test_sigterm_stops_a_run_whose_template_runs_away(tmp_path: Path) -> None:
    process = _locust(_runaway_scenario(tmp_path))
    try:
        assert process.stdout is not None
        for line in process.stdout:  # wait until the users run (the template is running away)
            if "All users spawned" in line:
                break
        time.sleep(1.5)
        os.kill(process.pid, signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode is not None
    assert "template ran longer than 1s" in out, out
