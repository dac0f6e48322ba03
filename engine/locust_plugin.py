"""Locust glue: the ``--scenario`` option, read while Locust imports the locustfile.

Locust imports the locustfile before it parses its full command line, and the
generated user classes must be module globals by the time the import ends. So
the option is registered for Locust's parser (which would otherwise reject it)
*and* read at import time with Locust's own empty parser, which honours the
command line, ``LOCUST_SCENARIO``, ``locust.conf``, ``pyproject.toml`` and
``--config`` with Locust's precedence.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from locust import events
from locust.argument_parser import get_empty_argument_parser

from engine.errors import ScenarioErrors
from engine.load import Plan, load_plan

EXIT_INVALID_SCENARIO = 2
SCENARIO_HELP = "YAML scenario to run (also LOCUST_SCENARIO, or scenario = FILE in locust.conf)."
_registered = False


def add_arguments(parser: Any) -> None:
    """Add the engine's options to a Locust argument parser."""
    parser.add_argument(
        "--scenario",
        metavar="<file>",
        env_var="LOCUST_SCENARIO",
        include_in_web_ui=False,
        help=SCENARIO_HELP,
    )


def register() -> None:
    """Make Locust's parser accept ``--scenario`` (once per process)."""
    global _registered
    if not _registered:
        events.init_command_line_parser.add_listener(add_arguments)
        _registered = True


def read_options(argv: list[str] | None = None) -> argparse.Namespace:
    """The engine's options (and --tags / --exclude-tags) as Locust would parse them."""
    parser = get_empty_argument_parser(add_help=False)
    add_arguments(parser)
    parser.add_argument("-T", "--tags", nargs="*", env_var="LOCUST_TAGS")
    parser.add_argument("-E", "--exclude-tags", nargs="*", env_var="LOCUST_EXCLUDE_TAGS")
    options, _ = parser.parse_known_args(argv)
    return options


def load_from_command_line(module: str, argv: list[str] | None = None) -> Plan:
    """Load the scenario named on Locust's command line; exit before any user starts if it is invalid."""
    register()
    options = read_options(argv)
    if not options.scenario:
        sys.stderr.write(
            "error: no scenario given: pass --scenario FILE "
            "(or set LOCUST_SCENARIO, or scenario = FILE in locust.conf)\n"
        )
        sys.exit(EXIT_INVALID_SCENARIO)
    try:
        return load_plan(options.scenario, module, options.tags, options.exclude_tags)
    except ScenarioErrors as exc:
        for error in exc.errors:
            sys.stderr.write(f"{error}\n")
        count = len(exc.errors)
        sys.stderr.write(f"{count} problem{'s' if count != 1 else ''} in {options.scenario}; nothing was started.\n")
        sys.exit(EXIT_INVALID_SCENARIO)
