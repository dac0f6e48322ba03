"""The command line: ``locust-scenario`` (or ``python -m engine``) and its subcommands.

``run`` hands the scenario and every other option to Locust with the generic
locustfile shipped in the package; ``validate`` checks files without running
them; ``dry-run`` shows what would be sent (:mod:`engine.dryrun`); ``trace``
plays each journey once, out loud (:mod:`engine.trace`). The stages are imported
by the command that needs them: ``validate`` and ``dry-run`` never import
Locust, and ``trace`` imports it first (gevent must patch before ``ssl`` loads).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import textwrap
from collections.abc import Sequence
from importlib import metadata
from typing import Any, TextIO

from engine import __version__
from engine.locustfiles import LOCUSTFILE
from engine.options import OPTIONS

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
PROG = "locust-scenario"

DESCRIPTION = """\
Declarative YAML scenarios for Locust.

  locust-scenario run scenarios/shop.yaml [any locust option]   run it with Locust (web UI, or --headless ...)
  locust-scenario validate scenarios/*.yaml                     check files, send nothing
  locust-scenario dry-run scenarios/shop.yaml [--format curl]   every request rendered, nothing sent
  locust-scenario trace scenarios/shop.yaml -H URL              each journey once, every step shown

`locust-scenario run FILE` is `locust -f <the engine's locustfile> --scenario FILE`: every Locust
option passes through (`locust --help` lists them); `locust-scenario run --help` lists the ones the
engine adds.
"""


def version() -> str:
    """``locust-scenario 0.1.0 (locust 2.47.0, Python 3.11.7)``."""

    def of(distribution: str) -> str:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return "not installed"

    return f"{PROG} {__version__} (locust {of('locust')}, Python {platform.python_version()})"


def parser() -> argparse.ArgumentParser:
    from engine.dryrun import FORMATS

    root = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=options_help(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    root.add_argument("--version", action="version", version=version())
    commands = root.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "run",
        help="run a scenario with Locust: run FILE [any locust option] (run --help: the engine's options)",
        add_help=False,
    )
    validate = commands.add_parser(
        "validate",
        help="check scenario files without running them",
        description="Check scenario files: exit 0 when all are valid, 1 with one FILE:LINE:COL line per problem. "
        "A file that scenarios include (only vars, fragments, data, services, environments) is checked as a library.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    scenario_options(validate)
    validate.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    dry = commands.add_parser(
        "dry-run",
        help="show every request fully rendered, sending nothing",
        description="Show what the scenario would send, sending nothing: for each persona its on_start, each "
        "journey and on_stop, every branch shown (both arms of an if, every choose branch, one round of a loop, one "
        "attempt of a poll), each request rendered as it would go on the wire. Values only a run gives are shown "
        "as <saved: NAME from REQUEST SOURCE>; fake, uuid() and the random functions are seeded (the same output "
        "every time); secrets are masked.",
    )
    dry.add_argument("file", metavar="FILE")
    selection_options(dry)
    dry.add_argument("-H", "--host", metavar="URL", help="the host the paths go to (default: the scenario's)")
    dry.add_argument("--format", choices=FORMATS, default="text", help="text (default), http (an .http file) or curl")
    dry.add_argument("--seed", type=int, help="seed for fake, uuid() and random (default: faker.seed, or 0)")
    scenario_options(dry)
    trace = commands.add_parser(
        "trace",
        help="play each journey once against the target and show every request, response, check and save",
        description="One user of each persona runs on_start, each journey once and on_stop against the target "
        "(setup and teardown too), printing for every request what was sent, the response (status, time, headers, "
        "the body up to --body-limit characters, JSON pretty-printed), each expectation with pass or fail and the "
        "actual value, and each value saved. Thinks are skipped. Secrets are masked. Exit 0 when every step passed, "
        "1 otherwise, 2 for an invalid scenario or a usage error.",
    )
    trace.add_argument("file", metavar="FILE")
    trace.add_argument("-H", "--host", metavar="URL", help="the target (default: the scenario's host)")
    selection_options(trace)
    trace.add_argument("--output", metavar="FILE", help="also write the trace as JSON to FILE")
    trace.add_argument("--body-limit", type=int, default=2000, metavar="N", help="characters of a body to show")
    scenario_options(trace)
    return root


def scenario_options(command: argparse.ArgumentParser) -> None:
    """--env, --var and --allow-path, as locust takes them."""
    command.add_argument("--env", metavar="NAME", help="apply one of the scenario's environments")
    command.add_argument("--var", metavar="NAME=VALUE", action="append", default=[], help="replace a var (repeatable)")
    command.add_argument(
        "--allow-path",
        metavar="DIR",
        action="append",
        default=[],
        help="let the scenario read files from this folder too (repeatable); by default only its own folder",
    )


def selection_options(command: argparse.ArgumentParser) -> None:
    """--persona and --journey: which part of the scenario a dry run or a trace plays."""
    command.add_argument(
        "--persona", action="append", default=[], metavar="NAME", help="only this persona (repeatable)"
    )
    command.add_argument(
        "--journey", action="append", default=[], metavar="NAME", help="only this journey (repeatable)"
    )


def overrides_of(args: argparse.Namespace) -> Any:
    from engine.compose import Overrides

    return Overrides(env=args.env, vars=tuple(args.var), allow=tuple(args.allow_path))


def unknown_names(program: Any, args: argparse.Namespace, stderr: TextIO) -> bool:
    """Whether --persona or --journey names something the scenario does not define (then said on stderr)."""
    names = {persona.persona.name for persona in program.personas}
    journeys = {journey.journey.name for persona in program.personas for journey in persona.journeys}
    for given, known, what in ((args.persona, names, "persona"), (args.journey, journeys, "journey")):
        for name in given:
            if name not in known:
                stderr.write(f"error: no {what} '{name}' in {args.file} ({what}s: {', '.join(sorted(known))})\n")
                return True
    return False


def dry_run_command(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from engine.dryrun import dry_run
    from engine.errors import ScenarioErrors
    from engine.load import compile_file

    try:
        program, _ = compile_file(args.file, overrides_of(args))
    except ScenarioErrors as exc:
        for error in exc.errors:
            stderr.write(f"{error}\n")
        return EXIT_INVALID
    if unknown_names(program, args, stderr):
        return EXIT_USAGE
    text = dry_run(
        program, host=args.host, personas=args.persona, journeys=args.journey, output=args.format, seed=args.seed
    )
    stdout.write(text)
    return EXIT_OK


def options_help() -> str:
    """The options the engine adds to Locust, one line each (wrapped), and where Locust's own are listed."""
    lines = ["Options the engine adds to Locust (for `run`, and `locust -f locustfile.py` too):"]
    width = max(len(option.usage()) for option in OPTIONS) + 4
    for option in OPTIONS:
        text = textwrap.wrap(option.help, 100 - width)
        lines.append(f"  {option.usage():<{width - 2}}{text[0]}")
        lines += [" " * width + line for line in text[1:]]
    lines.append("Locust's own options: `locust --help`.")
    return "\n".join(lines)


def run_help(file: str | None, stdout: TextIO) -> int:
    """``run --help``: the engine's options, one line each, and the profiles of FILE when one is given."""
    lines = [
        f"usage: {PROG} run FILE [locust options]",
        "",
        f"Runs `locust -f {LOCUSTFILE} --scenario FILE [locust options]`.",
        "Every Locust option passes through: `locust --help` lists Locust's own.",
        "",
        *options_help().splitlines()[:-1],
    ]
    if file is not None:
        from engine.errors import ScenarioErrors
        from engine.load import compile_file

        lines.append("")
        try:
            scenario = compile_file(file)[0].scenario
        except ScenarioErrors as exc:
            count = f"{len(exc.errors)} problem{'s' if len(exc.errors) != 1 else ''}"
            lines.append(f"{file}: not valid ({count}: `{PROG} validate {file}` lists them)")
        except OSError as exc:
            lines.append(f"{file}: cannot be read ({exc.strerror})")
        else:
            names = [profile.name for profile in scenario.profiles]
            default = f" (default: {scenario.default_profile})" if scenario.default_profile else ""
            shown = ", ".join(names) if names else "none (Locust's -u, -r and -t decide the load)"
            lines.append(f"Load profiles of {file} (--profile NAME){default}: {shown}")
    stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def run_locust(args: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """``run FILE [locust options]``: become Locust with the packaged locustfile (never returns, but for help)."""
    file = args[0] if args and not args[0].startswith("-") else None
    if "-h" in args or "--help" in args:
        return run_help(file, stdout)
    if file is None:
        stderr.write(f"usage: {PROG} run FILE [locust options]: the scenario file comes first\n")
        return EXIT_USAGE
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--scenario", file, *args[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)
    return EXIT_USAGE  # not reached


def validate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from engine.load import check

    invalid = 0
    for file in args.files:
        problems, library = check(file, overrides_of(args))
        for problem in problems:
            stderr.write(f"{problem}\n")
        if problems:
            invalid += 1
        elif not args.quiet:
            stdout.write(f"{file}: ok (library: {library})\n" if library else f"{file}: ok\n")
    return EXIT_INVALID if invalid else EXIT_OK


def trace_command(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import json

    from engine.errors import ScenarioErrors
    from engine.load import load_plan
    from engine.trace import Trace

    try:
        plan = load_plan(args.file, module="locust_scenario_trace", overrides=overrides_of(args))
    except ScenarioErrors as exc:
        for error in exc.errors:
            stderr.write(f"{error}\n")
        return EXIT_USAGE
    if unknown_names(plan.program, args, stderr):
        return EXIT_USAGE
    host = args.host or plan.program.host
    if not host:
        stderr.write("error: no host: give -H URL (the scenario has no host:)\n")
        return EXIT_USAGE
    trace = Trace(plan, host, stdout, body_limit=args.body_limit)
    passed = trace.run(args.persona, args.journey)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as file:
            json.dump(trace.report(), file, indent=2, ensure_ascii=False, default=str)
    return EXIT_OK if passed else EXIT_INVALID


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run the command line; returns the exit code."""
    argv = list(argv)
    if argv[:1] == ["trace"]:
        import locust  # noqa: F401  (gevent patches the standard library on this import: before anything loads ssl)
    if argv[:1] == ["run"]:
        return run_locust(argv[1:], stdout, stderr)
    args_parser = parser()
    try:
        args = args_parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "validate":
        return validate(args, stdout, stderr)
    if args.command == "dry-run":
        return dry_run_command(args, stdout, stderr)
    if args.command == "trace":
        return trace_command(args, stdout, stderr)
    args_parser.print_help(stderr)
    return EXIT_USAGE


def main() -> None:
    sys.exit(run(sys.argv[1:], sys.stdout, sys.stderr))
