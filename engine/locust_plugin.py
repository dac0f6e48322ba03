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
import logging
import sys
from typing import Any

from locust import events
from locust.argument_parser import get_empty_argument_parser

from engine import diagnose, lifecycle, shape, templates, verdict, webui
from engine.compose import Overrides
from engine.errors import ScenarioErrors, did_you_mean
from engine.load import Plan, load_plan, settle
from engine.options import OPTIONS

EXIT_INVALID_SCENARIO = 2
DIGEST_MESSAGE = "scenario_digest"
_registered = False
log = logging.getLogger("engine")


def add_arguments(parser: Any) -> None:
    """Add the engine's options (:data:`engine.options.OPTIONS`) to a Locust argument parser."""
    for option in OPTIONS:
        if not option.locust_own:
            flags, kwargs = option.arguments()
            parser.add_argument(*flags, **kwargs)


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
    parser.add_argument("--profile")  # Locust's own option: here it also selects a load profile
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
        overrides = Overrides(env=options.env, vars=tuple(options.var or ()), allow=tuple(options.allow_path or ()))
        plan = load_plan(options.scenario, module, options.tags, options.exclude_tags, overrides)
    except ScenarioErrors as exc:
        for error in exc.errors:
            sys.stderr.write(f"{error}\n")
        count = len(exc.errors)
        sys.stderr.write(f"{count} problem{'s' if count != 1 else ''} in {options.scenario}; nothing was started.\n")
        sys.exit(EXIT_INVALID_SCENARIO)
    profiles = [profile.name for profile in plan.program.scenario.profiles]
    if profiles and options.profile and options.profile not in profiles:
        hint = did_you_mean(options.profile, profiles) or f"profiles: {', '.join(profiles)}"
        sys.stderr.write(f"error: --profile {options.profile}: no such profile in {options.scenario} ({hint})\n")
        sys.exit(EXIT_INVALID_SCENARIO)
    watch_workers(plan)
    settle()
    events.init.add_listener(lambda environment, runner=None, web_ui=None, **_: hook(plan, environment, runner, web_ui))
    return plan


def hook(plan: Plan, environment: Any, runner: Any, web_ui: Any = None) -> None:
    """Once per process: setup/teardown, feeders, counters, the verdict on this runner, the web UI's profiles."""
    import gevent
    from locust.runners import STATE_INIT, STATE_STOPPED, WorkerRunner

    # gevent's loop caches "now" since it last ran, which may be before the (long) imports and setup of a
    # Locust start: a timer set from that stale time fires early, e.g. -t 2s ending the test after 1 s.
    gevent.get_hub().loop.update_now()
    index = max(runner.worker_index, -1) + 1 if isinstance(runner, WorkerRunner) else 0
    templates.seed_fake(plan.program.builtins.get("fake"), plan.program.scenario.faker_seed, index)
    diagnose.attach(environment)  # before setup: a new test's counts start before setup's requests
    lifecycle.attach(plan.program, environment, runner)
    judge = verdict.attach(plan.program, environment, runner)
    if web_ui is not None:
        guard_profiles(plan, web_ui)
    if isinstance(runner, WorkerRunner):
        return
    shape.report_progress(environment, runner)
    webui.name_the_scenario(judge, environment)
    webui.extend_reports(judge, environment)
    if web_ui is not None:
        webui.attach(judge, environment, web_ui)

    def quitting(environment: Any, **_: Any) -> None:
        if runner.state not in (STATE_INIT, STATE_STOPPED):
            runner.stop()  # e.g. Ctrl-C: the test ends here, so teardown runs before the verdict
        judge.conclude(environment, runner)

    environment.events.quitting.add_listener(quitting)
    environment.events.quit.add_listener(lambda exit_code, **_: verdict.print_table(judge))


def guard_profiles(plan: Plan, web_ui: Any) -> None:
    """The web UI's start form: offer the scenario's profiles, and refuse a profile it does not define.

    Locust's "Profile" field suggests the names in its ``all_profiles`` template
    argument (it still takes free text). A start (or edit) naming another profile
    is answered ``{"success": false, "message": ...}`` before Locust's ``/swarm``
    runs, so the form shows why and no user starts; an empty field selects
    ``load.default`` (or the form's users and rate without one).
    """
    from flask import jsonify, request

    names = [profile.name for profile in plan.program.scenario.profiles]
    if not names:
        return  # Locust's --profile is then only its own test-run label
    web_ui.template_args["all_profiles"] = names
    path = plan.program.scenario.path.name

    @web_ui.app.before_request
    def before_swarm() -> Any:
        if request.method != "POST" or request.endpoint != "locust.swarm":
            return None
        return web_ui.auth_required_if_enabled(refuse_unknown_profile)()  # with --web-login, only once logged in

    def refuse_unknown_profile() -> Any:
        name = request.form.get("profile", "")
        if not name or name in names:
            return None
        hint = did_you_mean(name, names)
        message = f"no such profile '{name}' in {path}{f' ({hint})' if hint else ''}; its profiles: {', '.join(names)}"
        log.error("web UI start refused: %s", message)
        return jsonify({"success": False, "message": message, "host": web_ui.environment.host})


def watch_workers(plan: Plan) -> None:
    """Make a master refuse workers that compiled a different scenario.

    The master dispatches users by class name, so a worker with another
    scenario would crash on unknown classes while the master reports success
    with zero requests. Each worker sends the digest of its scenario when it
    starts; on a mismatch the master logs why and quits with exit code 2.
    """
    from locust.runners import MasterRunner, WorkerRunner

    def on_init(environment: Any, runner: Any = None, **_: Any) -> None:
        if isinstance(runner, MasterRunner):

            def check(environment: Any, msg: Any, **_: Any) -> None:
                if msg.data.get("digest") == plan.digest:
                    return
                log.error(
                    "worker %s runs a different scenario (%s, digest %s) than the master (%s, digest %s): "
                    "give every worker the same scenario file. Stopping.",
                    msg.node_id,
                    msg.data.get("path"),
                    msg.data.get("digest"),
                    plan.program.scenario.path,
                    plan.digest,
                )
                reason = (
                    f"worker {msg.node_id} runs a different scenario ({msg.data.get('path')}) "
                    f"than the master ({plan.program.scenario.path})"
                )
                verdict.refuse(environment, reason)
                runner.quit()

            runner.register_message(DIGEST_MESSAGE, check)
        elif isinstance(runner, WorkerRunner):
            data = {"digest": plan.digest, "path": str(plan.program.scenario.path)}
            runner.send_message(DIGEST_MESSAGE, data)

    events.init.add_listener(on_init)
