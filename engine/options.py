"""The options the engine adds to Locust's command line, as one table.

:mod:`engine.locust_plugin` registers them with Locust's parser and
:mod:`engine.cli` lists them in ``locust-scenario run --help``, so both say
the same. Nothing here imports Locust.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Option:
    """One command-line option: its flags, what it takes and one line of help."""

    flags: tuple[str, ...]
    help: str
    metavar: str | None = None
    env_var: str | None = None
    repeatable: bool = False
    locust_own: bool = False
    """Locust defines it; the engine gives it a meaning too (not registered again)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def arguments(self) -> tuple[tuple[str, ...], dict[str, Any]]:
        """``add_argument`` positional and keyword arguments for Locust's (configargparse) parser."""
        kwargs: dict[str, Any] = {"metavar": self.metavar, "help": self.help, "include_in_web_ui": False}
        if self.env_var:
            kwargs["env_var"] = self.env_var
        if self.repeatable:
            kwargs.update(action="append", default=[])
        return self.flags, {**kwargs, **self.extra}

    def usage(self) -> str:
        """``--var <name=value>`` as help text shows it."""
        return " ".join(self.flags) + (f" {self.metavar}" if self.metavar else "")


OPTIONS: tuple[Option, ...] = (
    Option(
        ("--scenario",),
        "YAML scenario to run (also LOCUST_SCENARIO, or scenario = FILE in locust.conf).",
        "<file>",
        env_var="LOCUST_SCENARIO",
    ),
    Option(
        ("--env",),
        "Apply one of the scenario's environments (its host, vars, services and defaults).",
        "<name>",
        env_var="LOCUST_SCENARIO_ENV",
    ),
    Option(
        ("--var",),
        "Replace a var of the scenario (repeatable): --var password=s3cret --var defaults.client=fast.",
        "<name=value>",
        repeatable=True,
    ),
    Option(
        ("--profile",),
        "Locust's own label for a test run; the engine also plays the scenario's load profile of that name "
        "(instead of load.default).",
        "<name>",
        locust_own=True,
    ),
    Option(("--verdict-json",), "Write the thresholds' verdict (and counters) to this JSON file.", "<file>"),
    Option(("--junit-xml",), "Write the thresholds' verdict as JUnit XML (one test case per threshold).", "<file>"),
    Option(
        ("--allow-path",),
        "Let the scenario read includes, data and schema files from this folder too (repeatable); "
        "by default only its own folder.",
        "<dir>",
        repeatable=True,
    ),
)
"""Every option the engine adds to Locust (and ``--profile``, which it reads too)."""
