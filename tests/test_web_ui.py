"""The web UI with load profiles: a real ``locust`` process serving its UI on 127.0.0.1, driven over HTTP.

The start form posts to ``/swarm`` exactly as the browser does; the answers and
the runner's state are read from Locust's own JSON endpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from test_cli import LOCUST, LOCUSTFILE, free_port

SCENARIO = """\
version: 1
name: web
users:
  Reader:
    wait: {constant: 0.1}
    journeys:
      browse:
        steps:
          - get: /items
load:
  profiles:
    smoke: {stages: [{duration: 1m, users: 2, spawn_rate: 2}]}
    soak: {soak: {users: 3, ramp: 1s, hold: 1m}}
"""


def get(url: str) -> Any:
    return json.loads(urllib.request.urlopen(url, timeout=10).read())


def post(url: str, fields: dict[str, Any]) -> Any:
    data = urllib.parse.urlencode(fields).encode()
    return json.loads(urllib.request.urlopen(url, data=data, timeout=10).read())


def wait_for(check: Any, seconds: float = 30.0) -> bool:
    """Poll ``check`` until it holds (generous: a loaded machine's Locust may be slow)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return bool(check())


@contextlib.contextmanager
def web_ui(scenario: Path, target_url: str) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """A real ``locust`` serving its web UI for ``scenario`` on a free port: (process, base URL, first page)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    command = [LOCUST, "-f", LOCUSTFILE, "--scenario", str(scenario), "-H", target_url]
    command += ["--web-host", "127.0.0.1", "--web-port", str(port)]
    process = subprocess.Popen(
        command, cwd=scenario.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    pages: list[str] = []

    def served() -> bool:
        try:
            pages.append(urllib.request.urlopen(base, timeout=1).read().decode())
        except OSError:
            return False
        return True

    try:
        assert wait_for(served), "the web UI did not come up"
        yield process, base, pages[-1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def template_args(page: str) -> Any:
    found = re.search(r"window\.templateArgs = (.*)$", page, re.MULTILINE)
    assert found is not None, page
    return json.loads(found.group(1))


def test_the_start_form_offers_the_profiles_and_refuses_an_unknown_one(target_url: str, tmp_path: Path) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    with web_ui(path, target_url) as (process, base, page):
        assert template_args(page)["all_profiles"] == ["smoke", "soak"]  # the "Profile" field's choices

        form = {"user_count": 5, "spawn_rate": 5, "host": target_url}
        refused = post(f"{base}/swarm", {**form, "profile": "smok"})
        assert refused["success"] is False
        assert (
            refused["message"]
            == "no such profile 'smok' in web.yaml (did you mean 'smoke'?); its profiles: smoke, soak"
        )
        assert post(f"{base}/swarm", {**form, "profile": "nightly"})["message"] == (
            "no such profile 'nightly' in web.yaml; its profiles: smoke, soak"
        )
        time.sleep(1.5)  # a start would have ticked the shape by now
        report = get(f"{base}/stats/requests")
        assert (report["state"], report["user_count"]) == ("ready", 0)
        assert all(row["num_requests"] == 0 for row in report["stats"])

        started = post(f"{base}/swarm", {**form, "profile": "smoke"})
        assert started["success"] is True, started
        assert wait_for(lambda: get(f"{base}/stats/requests")["user_count"] == 2)  # the profile's 2, not the form's 5
        urllib.request.urlopen(urllib.request.Request(f"{base}/stop", method="POST"), timeout=10)
        process.terminate()  # Locust shuts down gracefully on SIGTERM
        assert process.wait(timeout=30) == 0


THRESHOLDS = """\
version: 1
name: watched
users:
  Reader:
    wait: {constant: 0.1}
    journeys:
      browse:
        steps:
          - get: /items
            name: Items
            count: {listed: "{{ json | length }}"}
thresholds:
  - {metric: p95, below: 10s}
  - {metric: requests, above: 100000}
  - {metric: error_rate, below: 1%, for: 1h}
"""


def test_the_thresholds_tab_and_the_html_report_show_the_verdict_live(target_url: str, tmp_path: Path) -> None:
    """The tab is declared in the page's template arguments; its rows come with every ``/stats/requests``
    (live, "so far"); the HTML report has the same rows and names the scenario file."""
    path = tmp_path / "watched.yaml"
    path.write_text(THRESHOLDS, encoding="utf-8")
    with web_ui(path, target_url) as (process, base, page):
        args = template_args(page)
        assert args["extended_tabs"] == [{"title": "Thresholds", "key": "thresholds"}]
        assert [column["key"] for column in args["extended_tables"][0]["structure"]] == [
            "status",
            "threshold",
            "measured",
        ]
        assert args["locustfile"] == "watched.yaml"  # the page names the scenario, not locustfile.py

        assert post(f"{base}/swarm", {"user_count": 2, "spawn_rate": 2, "host": target_url})["success"] is True

        def rows() -> dict[str, dict[str, str]]:
            stats = get(f"{base}/stats/requests")
            (table,) = [entry["data"] for entry in stats["extended_stats"] if entry["key"] == "thresholds"]
            return {row["threshold"]: row for row in table}

        assert wait_for(lambda: rows()["listed"]["measured"] not in ("0", ""))
        live = rows()
        assert live["p95 below 10s"]["status"] == "PASS so far"
        assert re.fullmatch(r"measured [0-9]+ms", live["p95 below 10s"]["measured"])
        assert live["requests above 100000"]["status"] == "FAIL so far"
        assert live["error_rate below 1% over 1h"] == {
            "status": "waiting",
            "threshold": "error_rate below 1% over 1h",
            "measured": "no data: the run ended before one full 3600s window",
        }
        assert live["listed"]["status"] == "counter" and int(live["listed"]["measured"]) > 0

        report = urllib.request.urlopen(f"{base}/stats/report", timeout=10).read().decode()
        section = re.search(r'<section id="engine-thresholds".*?</section>', report, re.DOTALL)
        assert section is not None
        assert "<td>p95 below 10s</td>" in section.group(0) and "<td>counter</td><td>listed</td>" in section.group(0)
        assert '"locustfile": "watched.yaml"' in report
        urllib.request.urlopen(urllib.request.Request(f"{base}/stop", method="POST"), timeout=10)
        process.terminate()
        assert process.wait(timeout=30) == 4  # "requests above 100000" failed
