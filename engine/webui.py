"""The verdict where people look: a Thresholds tab in Locust's web UI, and the same table in its HTML report.

The tab uses Locust's own extension points: ``extended_tabs`` and
``extended_tables`` in the web UI's template arguments, and an
``extended_stats`` entry added to every ``/stats/requests`` answer (refreshed
as the UI polls it). The HTML report (``--html``, or downloaded from the UI)
gets a "Thresholds" section with the same rows; its header names the scenario
file and the profile played.
"""

from __future__ import annotations

import html
import json
from typing import Any

from engine.verdict import Verdict

KEY = "thresholds"
TAB = {"title": "Thresholds", "key": KEY}
TABLE = {
    "key": KEY,
    "structure": [
        {"key": "status", "title": "Status"},
        {"key": "threshold", "title": "Threshold or counter"},
        {"key": "measured", "title": "Measured"},
    ],
}


def attach(judge: Verdict, environment: Any, web_ui: Any) -> None:
    """Add the Thresholds tab to a web UI (the local runner's or the master's)."""
    from flask import request

    args = web_ui.template_args
    args["extended_tabs"] = [*args.get("extended_tabs", []), TAB]
    args["extended_tables"] = [*args.get("extended_tables", []), TABLE]

    @web_ui.app.after_request
    def add_thresholds(response: Any) -> Any:
        if request.path != "/stats/requests" or response.status_code != 200 or not response.is_json:
            return response
        data = response.get_json()
        rows = judge.live(environment.runner.stats)
        others = [entry for entry in data.get("extended_stats", []) if entry.get("key") != KEY]  # Locust caches
        data["extended_stats"] = [*others, {"key": KEY, "data": rows}]  # this answer for a moment: replace, once
        response.set_data(json.dumps(data))
        return response


def name_the_scenario(judge: Verdict, environment: Any) -> None:
    """The web UI's title and the report's header name the scenario file and the profile it plays."""
    scenario = judge.program.scenario
    environment.locustfile = scenario.path.name
    if not environment.profile and scenario.default_profile:
        environment.profile = scenario.default_profile  # what the shape plays without --profile


def report_section(judge: Verdict, environment: Any, ended: bool) -> str:
    """The Thresholds section of an HTML report."""
    rows = judge.live(environment.runner.stats, ended=ended)
    if not rows:
        return ""
    cells = "".join(
        f"<tr><td>{html.escape(row['status'])}</td><td>{html.escape(row['threshold'])}</td>"
        f"<td>{html.escape(row['measured'])}</td></tr>"
        for row in rows
    )
    scenario = judge.program.scenario
    return (
        '<section id="engine-thresholds" style="font-family: sans-serif; margin: 2em">'
        f"<h2>Thresholds</h2><p>scenario {html.escape(scenario.name)} ({html.escape(scenario.path.name)})</p>"
        '<table border="1" cellpadding="4" style="border-collapse: collapse">'
        "<tr><th>Status</th><th>Threshold or counter</th><th>Measured</th></tr>"
        f"{cells}</table></section>"
    )


def extend_reports(judge: Verdict, environment: Any) -> None:
    """Every HTML report of this environment (``--html``, the UI's download) gets the Thresholds section.

    Locust builds both with ``locust.html.get_html_report``, imported by name into ``locust.main`` and
    ``locust.web``: the engine wraps it there.
    """
    import locust.main
    import locust.web
    from locust.runners import STATE_STOPPED, STATE_STOPPING

    original: Any = locust.web.get_html_report
    original = getattr(original, "__wrapped__", original)  # wrapped once, whatever the number of runs

    def get_html_report(env: Any, *args: Any, **kwargs: Any) -> str:
        report: str = original(env, *args, **kwargs)
        if env is not environment:
            return report
        ended = environment.runner.state in (STATE_STOPPED, STATE_STOPPING)
        return report.replace("</body>", report_section(judge, environment, ended) + "</body>", 1)

    get_html_report.__wrapped__ = original  # type: ignore[attr-defined]
    for module in (locust.main, locust.web):
        setattr(module, "get_html_report", get_html_report)  # noqa: B010
