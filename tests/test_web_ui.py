"""The web UI with load profiles: a real ``locust`` process serving its UI on 127.0.0.1, driven over HTTP.

The start form posts to ``/swarm`` exactly as the browser does; the answers and
the runner's state are read from Locust's own JSON endpoints.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request
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


def test_the_start_form_offers_the_profiles_and_refuses_an_unknown_one(target_url: str, tmp_path: Path) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    command = [LOCUST, "-f", LOCUSTFILE, "--scenario", str(path), "-H", target_url]
    command += ["--web-host", "127.0.0.1", "--web-port", str(port)]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        page = ""

        def served() -> bool:
            nonlocal page
            try:
                page = urllib.request.urlopen(base, timeout=1).read().decode()
            except OSError:
                return False
            return True

        assert wait_for(served), "the web UI did not come up"
        found = re.search(r"window\.templateArgs = (.*)$", page, re.MULTILINE)
        assert found is not None, page
        assert json.loads(found.group(1))["all_profiles"] == ["smoke", "soak"]  # the "Profile" field's choices

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
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
