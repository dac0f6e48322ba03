"""Real command lines: ``locust -f locustfile.py --scenario ...`` and ``python -m engine validate``.

The target API runs as its own process on 127.0.0.1 (port 0); every locust
run is headless, a few seconds long, and bounded by a timeout.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine import cli
from engine.options import OPTIONS

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = str(ROOT / "locustfile.py")
LOCUST = str(Path(sys.executable).with_name("locust"))

SCENARIO = """\
version: 1
name: cli
users:
  Reader:
    wait: {constant: 0.05}
    on_start:
      - post: /login
        json: {username: cli, password: secret}
        save: {token: $.token}
      - headers: {Authorization: "Bearer {{ token }}"}
    journeys:
      browse:
        tags: [browse]
        steps:
          - get: /items
            save: {item_id: {jsonpath: "$[*].id", pick: random}}
          - get: /items/{{ item_id }}
            expect: {json: {"$.id": "{{ item_id }}"}}
      account:
        tags: [account]
        steps:
          - get: /me
            expect: {json: {"$.id": {type: integer}}}
"""


def locust(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    full_env.update(env or {})
    return subprocess.run(
        [LOCUST, "-f", LOCUSTFILE, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def headless(url: str, seconds: int = 2, users: int = 2) -> list[str]:
    return [
        "-H",
        url,
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--json",
        "--only-summary",
    ]


def stats(result: subprocess.CompletedProcess[str]) -> dict[tuple[str, str], dict[str, int]]:
    """Locust's --json output: (method, name) -> {requests, failures}.

    With --processes every worker prints its own (empty) list too: the master's comes last.
    """
    decoder, text, documents = json.JSONDecoder(), result.stdout, []
    position = 0
    while position < len(text.rstrip()):
        document, end = decoder.raw_decode(text, position)
        documents.append(document)
        position = end + (len(text[end:]) - len(text[end:].lstrip()))
    rows = [d for d in documents if d][-1]
    return {(r["method"], r["name"]): {"requests": r["num_requests"], "failures": r["num_failures"]} for r in rows}


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "cli.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_headless_run_with_scenario_option(target_url: str, scenario: Path, tmp_path: Path) -> None:
    result = locust(["--scenario", str(scenario), *headless(target_url)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = stats(result)
    for key in [("POST", "/login"), ("GET", "/items"), ("GET", "/items/{item_id}"), ("GET", "/me")]:
        assert rows[key]["requests"] > 0, key
        assert rows[key]["failures"] == 0, key
    assert rows[("POST", "/login")]["requests"] == 2  # on_start runs once per user


def test_scenario_from_environment_variable(target_url: str, scenario: Path, tmp_path: Path) -> None:
    result = locust(headless(target_url), cwd=tmp_path, env={"LOCUST_SCENARIO": str(scenario)})
    assert result.returncode == 0, result.stderr
    assert stats(result)[("GET", "/items")]["requests"] > 0


def test_scenario_from_locust_conf_pyproject_and_config(target_url: str, scenario: Path, tmp_path: Path) -> None:
    (tmp_path / "locust.conf").write_text(f"scenario = {scenario}\n", encoding="utf-8")
    result = locust(headless(target_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stats(result)[("GET", "/me")]["requests"] > 0

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[tool.locust]\nscenario = "{scenario}"\n', encoding="utf-8")
    result = locust(headless(target_url), cwd=project)
    assert result.returncode == 0, result.stderr
    assert stats(result)[("GET", "/me")]["requests"] > 0

    other = tmp_path / "other"
    other.mkdir()
    (other / "ci.conf").write_text(f"scenario = {scenario}\nheadless = true\n", encoding="utf-8")
    result = locust(["--config", "ci.conf", *headless(target_url)], cwd=other)
    assert result.returncode == 0, result.stderr
    assert stats(result)[("GET", "/me")]["requests"] > 0


def test_tags_select_journeys(target_url: str, scenario: Path, tmp_path: Path) -> None:
    result = locust(["--scenario", str(scenario), "--tags", "account", *headless(target_url)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = stats(result)
    assert rows[("GET", "/me")]["requests"] > 0
    assert ("GET", "/items") not in rows


def test_processes_and_reports(target_url: str, scenario: Path, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    port = str(free_port())  # not Locust's default 5557, which another run may be using
    args = ["--scenario", str(scenario), "--processes", "2", "--master-bind-port", port, "--master-port", port]
    args += ["--html", str(html), *headless(target_url, 3, 4)]
    result = locust(args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = stats(result)
    assert rows[("POST", "/login")]["requests"] == 4
    assert rows[("GET", "/items/{item_id}")]["failures"] == 0
    assert "/items/{item_id}" in html.read_text(encoding="utf-8")


def test_failed_requests_give_locust_exit_code_1(target_url: str, tmp_path: Path) -> None:
    path = tmp_path / "fails.yaml"
    path.write_text(
        "version: 1\njourneys:\n  Missing:\n    wait: 0.1\n    steps:\n      - get: /items/999\n",
        encoding="utf-8",
    )
    result = locust(["--scenario", str(path), *headless(target_url, 1, 1)], cwd=tmp_path)
    assert result.returncode == 1
    row = stats(result)[("GET", "/items/999")]
    assert row["failures"] == row["requests"] > 0
    assert "status 404, status < 400" in result.stderr


def test_invalid_scenario_stops_before_any_user(target_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\nusers:\n  U:\n    journeys:\n      j:\n        steps:\n"
        "          - get: /items/{{ item }}\n            expct: {status: 200}\n",
        encoding="utf-8",
    )
    result = locust(["--scenario", str(path), *headless(target_url, 1, 1)], cwd=tmp_path)
    assert result.returncode == 2
    assert f"{path}:8:13: users.U.journeys.j.steps[0]: unknown key 'expct' (did you mean 'expect'?)" in result.stderr
    assert "nothing was started" in result.stderr
    assert "spawn" not in result.stderr.lower()
    assert result.stdout == ""


@pytest.mark.slow
def test_missing_scenario_option(tmp_path: Path) -> None:
    result = locust(["--headless", "-u", "1", "-t", "1s"], cwd=tmp_path)
    assert result.returncode == 2
    assert "no scenario given: pass --scenario FILE" in result.stderr


def run_engine(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_validate_command(scenario: Path, tmp_path: Path) -> None:
    ok = run_engine("validate", str(scenario), cwd=ROOT)
    assert ok.returncode == 0
    assert ok.stdout == f"{scenario}: ok\n"
    assert ok.stderr == ""

    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\njourneys:\n  J:\n    steps:\n      - get: /x/{{ nope }}\n", encoding="utf-8")
    result = run_engine("validate", str(scenario), str(bad), cwd=ROOT)
    assert result.returncode == 1
    assert result.stdout == f"{scenario}: ok\n"
    assert result.stderr.startswith(f"{bad}:5:14: undefined variable 'nope'")


@pytest.mark.slow
def test_validate_checks_a_fragment_only_file_as_a_library(tmp_path: Path) -> None:
    lib = tmp_path / "lib.yaml"
    lib.write_text(
        "version: 1\nvars: {password: s}\nfragments:\n  login:\n    params: [username]\n"
        "    steps:\n      - post: /login\n"
        '        json: {u: "{{ username }}", p: "{{ password }}", t: "{{ token }}"}\n',
        encoding="utf-8",
    )
    ok = run_engine("validate", str(lib), cwd=ROOT)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, f"{lib}: ok (library: vars password; fragments login)\n", "")
    # Still checked: templates, JSONPaths, the schema of its steps.
    lib.write_text(
        'version: 1\nfragments:\n  f:\n    steps:\n      - get: "/{{ x }"\n      - get: /a\n        bogus: 1\n',
        encoding="utf-8",
    )
    bad = run_engine("validate", str(lib), cwd=ROOT)
    assert (bad.returncode, bad.stdout) == (1, "")
    assert (
        bad.stderr
        == f"{lib}:5:14: template syntax error: unexpected '}}'\n{lib}:7:9: fragments.f.steps[1]: unknown key 'bogus'\n"
    )
    # A file with users, journeys or settings is a scenario, as before.
    lib.write_text("version: 1\nhost: http://127.0.0.1:1\nvars: {a: 1}\n", encoding="utf-8")
    assert "a scenario needs users: or journeys:" in run_engine("validate", str(lib), cwd=ROOT).stderr


@pytest.mark.slow
def test_validate_passes_on_every_yaml_file_of_scenarios_and_examples() -> None:
    files = sorted(
        str(p.relative_to(ROOT)) for folder in ("scenarios", "examples") for p in (ROOT / folder).rglob("*.y*ml")
    )
    assert any("common/" in file for file in files)  # libraries, included by scenarios
    result = run_engine("validate", *files, cwd=ROOT)
    assert (result.returncode, result.stderr) == (0, "")
    assert "examples/common/store_auth.yaml: ok (library: vars password; fragments login, sign_up, logout)\n" in (
        result.stdout
    )


@pytest.mark.slow
def test_validate_usage_errors() -> None:
    assert run_engine("validate", cwd=ROOT).returncode == 2
    assert run_engine(cwd=ROOT).returncode == 2
    missing = run_engine("validate", "no/such/file.yaml", cwd=ROOT)
    assert missing.returncode == 1
    assert missing.stderr == "no/such/file.yaml:1:1: file not found\n"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def master_and_worker(
    url: str, master_scenario: Path, worker_scenario: Path, cwd: Path
) -> tuple[subprocess.CompletedProcess[str], str]:
    port = str(free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    worker = subprocess.Popen(
        [LOCUST, "-f", LOCUSTFILE, "--scenario", str(worker_scenario), "--worker", "--master-port", port],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        master = locust(
            [
                "--scenario", str(master_scenario), "--master", "--master-bind-host", "127.0.0.1",
                "--master-bind-port", port, "--expect-workers", "1", "--expect-workers-max-wait", "20",
                *headless(url, 3, 2),
            ],
            cwd=cwd,
        )  # fmt: skip
    finally:
        try:
            _, worker_err = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, worker_err = worker.communicate()
    return master, worker_err


def test_master_and_worker_run_the_same_scenario(target_url: str, scenario: Path, tmp_path: Path) -> None:
    master, _ = master_and_worker(target_url, scenario, scenario, tmp_path)
    assert master.returncode == 0, master.stderr
    rows = stats(master)
    assert rows[("POST", "/login")]["requests"] == 2
    assert rows[("GET", "/items")]["failures"] == 0


def test_worker_with_another_scenario_fails_loudly(target_url: str, scenario: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(SCENARIO.replace("Reader:", "Writer:"), encoding="utf-8")
    master, _ = master_and_worker(target_url, scenario, other, tmp_path)
    assert master.returncode == 2
    assert "runs a different scenario" in master.stderr
    assert "give every worker the same scenario file" in master.stderr


def test_web_ui_runs_the_scenario(target_url: str, scenario: Path, tmp_path: Path) -> None:
    """The web UI starts, takes a swarm request like the browser's form, and reports live stats."""
    import time
    import urllib.parse
    import urllib.request

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    command = [LOCUST, "-f", LOCUSTFILE, "--scenario", str(scenario), "-H", target_url]
    command += ["--web-host", "127.0.0.1", "--web-port", str(port)]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                page = urllib.request.urlopen(base, timeout=1).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert "Locust" in page
        form = urllib.parse.urlencode({"user_count": 2, "spawn_rate": 2, "host": target_url}).encode()
        started = json.loads(urllib.request.urlopen(f"{base}/swarm", data=form, timeout=5).read())
        assert started["success"] is True
        for _ in range(300):
            rows = json.loads(urllib.request.urlopen(f"{base}/stats/requests", timeout=5).read())["stats"]
            names = {row["name"]: row["num_requests"] for row in rows}
            if names.get("/items/{item_id}", 0) > 0:
                break
            time.sleep(0.1)
        assert names.get("/login", 0) == 2
        assert names["/items/{item_id}"] > 0
        assert all(row["num_failures"] == 0 for row in rows)
        urllib.request.urlopen(urllib.request.Request(f"{base}/stop", method="POST"), timeout=5)
        process.terminate()  # Locust shuts down gracefully on SIGTERM
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- locust-scenario: the command installed with the package -------------------------------------------------------

LOCUST_SCENARIO = str(Path(sys.executable).with_name("locust-scenario"))


def test_version_and_help_in_process() -> None:
    """``--version`` names the product, Locust and Python; ``run --help`` lists every option the engine adds."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited, contextlib.redirect_stdout(out):
        cli.parser().parse_args(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"locust-scenario \S+ \(locust 2\.\d+\.\d+, Python 3\.\d+\.\d+\)\n", out.getvalue())
    shown = io.StringIO()
    assert cli.run(["run", "--help"], shown, err) == 0
    text = shown.getvalue()
    assert "usage: locust-scenario run FILE [locust options]" in text
    assert "`locust --help` lists Locust's own" in text
    for option in OPTIONS:
        assert re.search(rf"^  {re.escape(option.usage())} +\S", text, re.M), option.flags
    assert "--profile <name>       Locust's own label for a test run; the engine also plays" in text


def test_run_help_names_the_scenarios_profiles() -> None:
    shown = io.StringIO()
    assert cli.run(["run", str(ROOT / "scenarios/shop.yaml"), "--help"], shown, io.StringIO()) == 0
    assert shown.getvalue().endswith("shop.yaml (--profile NAME): smoke, load, stress, spike, soak\n")
    ramp = io.StringIO()
    assert cli.run(["run", str(ROOT / "examples/profile_ramp.yaml"), "-h"], ramp, io.StringIO()) == 0
    assert ramp.getvalue().endswith("profile_ramp.yaml (--profile NAME) (default: ramp): ramp\n")


def test_run_without_a_file_is_a_usage_error() -> None:
    err = io.StringIO()
    assert cli.run(["run", "--headless"], io.StringIO(), err) == cli.EXIT_USAGE
    assert "the scenario file comes first" in err.getvalue()


@pytest.mark.slow
def test_the_command_runs_a_scenario_from_any_folder(target_url: str, scenario: Path, tmp_path: Path) -> None:
    """``locust-scenario run FILE [locust options]`` is Locust with the packaged locustfile: options pass through."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    verdict = elsewhere / "verdict.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    result = subprocess.run(
        [LOCUST_SCENARIO, "run", str(scenario), *headless(target_url), "--verdict-json", str(verdict)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Aggregated" in result.stderr + result.stdout
    assert json.loads(verdict.read_text())["passed"] is True
    versions = [
        subprocess.run(command, capture_output=True, text=True, timeout=60).stdout
        for command in ([LOCUST_SCENARIO, "--version"], [sys.executable, "-m", "engine", "--version"])
    ]
    assert versions[0] == versions[1] == cli.version() + "\n"
