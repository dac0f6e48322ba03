"""Command line: ``python -m engine validate FILE...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from engine.compose import Overrides
from engine.load import check

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
Declarative YAML scenarios for Locust.

Run a scenario with Locust itself (every Locust option works):
  locust -f locustfile.py --scenario scenarios/shop.yaml [--headless -u 10 -r 5 -t 1m]
  (--scenario can also come from LOCUST_SCENARIO, locust.conf or --config)
"""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m engine", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = root.add_subparsers(dest="command", metavar="COMMAND")
    validate = commands.add_parser(
        "validate",
        help="check scenario files without running them",
        description="Check scenario files: exit 0 when all are valid, 1 with one FILE:LINE:COL line per problem. "
        "A file that scenarios include (only vars, fragments, data, services, environments) is checked as a library.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--env", metavar="NAME", help="check with one of the scenario's environments applied")
    validate.add_argument(
        "--var", metavar="NAME=VALUE", action="append", default=[], help="check with a var replaced (repeatable)"
    )
    validate.add_argument(
        "--allow-path",
        metavar="DIR",
        action="append",
        default=[],
        help="let the scenario read files from this folder too (repeatable); by default only its own folder",
    )
    validate.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    return root


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run the command line; returns the exit code."""
    args_parser = parser()
    try:
        args = args_parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command != "validate":
        args_parser.print_help(stderr)
        return EXIT_USAGE
    invalid = 0
    for file in args.files:
        overrides = Overrides(env=args.env, vars=tuple(args.var), allow=tuple(args.allow_path))
        problems, library = check(file, overrides)
        for problem in problems:
            stderr.write(f"{problem}\n")
        if problems:
            invalid += 1
        elif not args.quiet:
            stdout.write(f"{file}: ok (library: {library})\n" if library else f"{file}: ok\n")
    return EXIT_INVALID if invalid else EXIT_OK


def main() -> None:
    sys.exit(run(sys.argv[1:], sys.stdout, sys.stderr))
