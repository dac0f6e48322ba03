"""Once per test: ``setup`` before any user starts, ``teardown`` after the load.

Both run where Locust's aggregated statistics live — the local runner, or the
master of a distributed run (``--processes`` or ``--master``) — through a user
object of their own, so their requests appear in the statistics like any other.
Values that ``setup`` saves are sent to every worker before users are spawned.
A failure in setup stops the test before any user is spawned (and skips
teardown); a failure in teardown (a failed request or expectation) sets the exit
code. Both exit with :data:`EXIT_LIFECYCLE_FAILED`.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from locust import constant
from locust.runners import MasterRunner, WorkerRunner

from engine.compiler import PersonaProgram, Program
from engine.model import Persona
from engine.steps import StepProgram, run_steps
from engine.users import ScenarioHttpUser

log = logging.getLogger("engine.lifecycle")
EXIT_LIFECYCLE_FAILED = 3
SETUP_MESSAGE = "engine_setup_values"


def runner_user(program: Program, environment: Any) -> Any:
    """A user object (never spawned by Locust, always client: http) that runs setup or teardown steps."""
    scenario = program.scenario
    persona = Persona(name="ScenarioLifecycle", pos=scenario.pos, journeys=())
    attributes = {
        "__module__": __name__,
        "abstract": True,
        "program": program,
        "persona_program": PersonaProgram(persona, [], [], []),
        "host": environment.host or program.host,
        "wait_time": constant(0),
    }
    cls = type("ScenarioLifecycle", (ScenarioHttpUser,), attributes)
    return cls(environment)


def run_once(program: Program, steps: list[StepProgram], environment: Any, what: str) -> tuple[bool, dict[str, Any]]:
    """Run ``steps`` once; returns whether they all passed, and the user's variables after them."""
    user = runner_user(program, environment)
    failures_before = environment.stats.total.num_failures
    try:
        passed = run_steps(steps, user, user.vars)
    except Exception as exc:  # a feeder stopping the "user", a bug: never silently
        log.error("%s stopped: %s", what, exc)
        passed = False
    passed = passed and environment.stats.total.num_failures == failures_before
    return passed, user.vars


def attach(program: Program, environment: Any, runner: Any) -> None:
    """Wire setup, teardown and feeders to a runner (called from Locust's init event)."""
    program.feeders.attach(environment)
    if isinstance(runner, WorkerRunner):

        def receive(environment: Any, msg: Any, **_: Any) -> None:
            program.setup_values.clear()
            program.setup_values.update(msg.data)

        runner.register_message(SETUP_MESSAGE, receive)
        return

    setup_failed = False

    def setup(environment: Any, **_: Any) -> None:
        nonlocal setup_failed
        program.setup_values.clear()
        setup_failed = False
        if not program.setup:
            return
        passed, values = run_once(program, program.setup, environment, "setup")
        if not passed:
            setup_failed = True
            log.error("setup failed: the test is stopped (see the failures in the statistics)")
            environment.process_exit_code = EXIT_LIFECYCLE_FAILED
            gevent.spawn_later(0, runner.quit)
            if isinstance(gevent.getcurrent(), gevent.Greenlet):
                # Locust fires test_start in the greenlet that goes on to spawn the users (or to send the
                # workers their spawn jobs): end that greenlet here, quietly, so that no user starts
                raise gevent.GreenletExit
            return
        program.setup_values.update({name: values[name] for name in program.setup_names if name in values})
        if isinstance(runner, MasterRunner):
            runner.send_message(SETUP_MESSAGE, program.setup_values)

    def teardown(environment: Any, **_: Any) -> None:
        if not program.teardown:
            return
        if setup_failed:  # it would run on values setup never saved, and bury the setup's failure
            log.info("teardown skipped: setup failed")
            return
        passed, _ = run_once(program, program.teardown, environment, "teardown")
        if passed:
            log.info("teardown passed")
        else:
            log.error("teardown failed: see the failures in the statistics; exit code %s", EXIT_LIFECYCLE_FAILED)
            environment.process_exit_code = EXIT_LIFECYCLE_FAILED

    environment.events.test_start.add_listener(setup)
    environment.events.test_stop.add_listener(teardown)
