"""``locust-scenario trace``: one user of each persona plays the scenario once against the target, out loud.

``setup``, then per persona ``on_start``, each journey once and ``on_stop``,
then ``teardown``, with the real Locust user classes and clients. For every
request: what was sent, what came back (status, time, headers, the body up to a
limit, JSON pretty-printed), every expectation with pass or fail and the actual
value, and every value saved. A think is skipped and said so; a step that
failed without a response (a template error, a loop limit) is printed with its
message. Secret values are masked. The exit code is 0 when every step passed.

The client is wrapped, not replaced: each request still goes through Locust's
client and its ``request`` event. The request step that sends is found as the
caller of ``client.request`` (``RequestProgram.exchange``: see
``tests/test_frames.py``), with the scope it rendered from.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import gevent
from locust.env import Environment

from engine import lifecycle
from engine.dryrun import absolute
from engine.load import Plan
from engine.response import NotJson, ResponseView
from engine.secrets import mask_header, mask_url
from engine.steps import RequestProgram, StepProgram, StopRequested, run_steps
from engine.steps.header_merge import CLIENT_HEADERS, merge_headers
from engine.steps.poll import PollProgram
from engine.templates import Scope

BODY_LIMIT = 2000
"""Characters of a response body a trace shows (the rest is counted)."""


@dataclass
class Traced:
    """One traced step: a request with its response, checks and saves, or a note."""

    section: str
    kind: str  # "request", "think", "failure"
    text: str = ""
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    saved: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None


@dataclass
class Sent:
    """One request a step sent: the client's response context, and what the trace needs when it closes."""

    inner: Any
    program: RequestProgram
    scope: Scope
    method: str
    url: str
    options: dict[str, Any]
    finish: Callable[[Sent, Any], None]
    response: Any = None

    def __enter__(self) -> Any:
        self.response = self.inner.__enter__()
        return self.response

    def __exit__(self, *exc: Any) -> Any:
        result = self.inner.__exit__(*exc)
        self.finish(self, self.response)
        return result


class TracingClient:
    """Wraps a user's Locust client: every request goes through it as before, and is traced."""

    def __init__(self, client: Any, trace: Trace, user: Any) -> None:
        self._client = client
        self._trace = trace
        self._user = user

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_locals
        program, scope = caller.get("self"), caller.get("scope")
        sent = self._client.request(method, url, **kwargs)
        if not isinstance(program, RequestProgram) or not isinstance(scope, dict):
            return sent
        return Sent(
            sent,
            program,
            scope,
            method,
            url,
            kwargs,
            lambda done, response: self._trace.finish(self._user, done, response),
        )


class Trace:
    """Plays a plan once per persona with tracing clients, printing each step as it ends."""

    def __init__(self, plan: Plan, host: str, out: TextIO, body_limit: int = BODY_LIMIT) -> None:
        self.plan = plan
        self.program = plan.program
        self.host = host
        self.out = out
        self.body_limit = body_limit
        self.section = ""
        self.steps: list[Traced] = []
        self.events: list[dict[str, Any]] = []
        for cls in plan.user_classes.values():
            setattr(cls, "host", host)  # as Locust does with -H  # noqa: B010
        self.environment = Environment(user_classes=list(plan.user_classes.values()), host=host)
        logging.getLogger("engine.diagnose").setLevel(logging.ERROR)  # the trace shows every failure itself
        self.environment.events.request.add_listener(self.on_request)

    # -- what the clients and users tell ----------------------------------------------------------------------
    def on_request(self, **event: Any) -> None:
        self.events.append(event)
        if event.get("response") is None and event.get("exception") is not None:  # failed without a response
            message = f"{event['request_type']} {event['name']}: {event['exception']}"
            self.add(Traced(self.section, "failure", message, failure=str(event["exception"])))

    def think(self, seconds: float) -> None:
        """A think step is skipped; a poll's pause between attempts is waited (the target needs the time)."""
        if isinstance(sys._getframe(1).f_locals.get("self"), PollProgram):
            self.add(Traced(self.section, "think", f"poll: {seconds:g}s before the next attempt"))
            gevent.sleep(seconds)
            return
        self.add(Traced(self.section, "think", f"think {seconds:g}s: skipped (a trace does not sleep)"))

    def finish(self, user: Any, request: Sent, response: Any) -> None:
        """A traced request has ended (Locust has recorded it): print what was sent and what came back."""
        event = self.events[-1] if self.events else {}
        failure = event.get("exception")
        program, scope = request.program, request.scope

        def mask(text: Any) -> str:
            return str(user.mask(str(text), scope))

        sent = getattr(response, "request", None)  # python-requests: the prepared request, as sent
        headers = getattr(sent, "headers", None) or merge_headers(CLIENT_HEADERS, request.options.get("headers") or {})
        step = Traced(
            self.section,
            "request",
            request={
                "method": request.method.upper(),
                "url": mask(mask_url(absolute(self.host, request.url))),
                "name": program.name,
                "headers": {name: mask(mask_header(name, str(value))) for name, value in headers.items()},
                "body": None if request.options.get("data") is None else mask(request.options["data"]),
            },
            failure=None if failure is None else mask(failure),
        )
        status = int(getattr(response, "status_code", 0) or 0)
        if status:
            elapsed = float(event.get("response_time") or 0)
            view = ResponseView(response, status, elapsed, user.cookie)
            step.response = {
                "status": status,
                "time_ms": round(elapsed, 1),
                "headers": {name: mask(mask_header(name, value)) for name, value in (response.headers or {}).items()},
                "body": mask(self.body(view)),
            }
            try:
                explained = program.checks.explain(view, scope)
            except Exception as exc:
                explained = [(f"check error: {exc}", False, None)]
            step.checks = [
                {"check": label, "passed": held, "actual": None if actual is None else mask(_shown(actual))}
                for label, held, actual in explained
            ]
        if failure is None:
            step.saved = {saver.var: mask(_shown(scope.get(saver.var))) for saver in program.savers}
        self.add(step)

    def body(self, view: ResponseView) -> str:
        try:
            text = json.dumps(view.json(), indent=2, ensure_ascii=False)
        except NotJson:
            text = view.text
        if len(text) > self.body_limit:
            text = f"{text[: self.body_limit]}\n… ({len(text) - self.body_limit} more characters)"
        return text

    def add(self, step: Traced) -> None:
        self.steps.append(step)
        self.out.write(as_text(step))
        self.out.flush()

    # -- the run ------------------------------------------------------------------------------------------------
    def user(self, cls: type) -> Any:
        user = cls(self.environment)
        user.client = TracingClient(user.client, self, user)
        user.think = self.think
        return user

    def play(self, title: str, steps: Sequence[StepProgram], user: Any, scope: Scope) -> bool:
        self.section = title
        self.out.write(f"{title}\n")
        try:
            return run_steps(list(steps), user, scope)
        except StopRequested as stop:
            self.add(Traced(title, "failure", f"the user stops: {stop}", failure=str(stop)))
            return False

    def run(self, personas: Sequence[str] = (), journeys: Sequence[str] = ()) -> bool:
        program = self.program
        self.out.write(f"trace of {program.scenario.path.name} against {self.host}: each journey once, no think\n")
        program.setup_values.clear()
        if program.setup:
            runner = self.user(type(lifecycle.runner_user(program, self.environment)))
            self.play("setup:", program.setup, runner, runner.vars)
            program.setup_values.update({n: runner.vars[n] for n in program.setup_names if n in runner.vars})
        for name, cls in self.plan.user_classes.items():
            if personas and name not in personas:
                continue
            user = self.user(cls)
            persona = user.persona_program
            if persona.on_start and not self.play(f"persona {name}: on_start", persona.on_start, user, user.vars):
                self.out.write("  on_start failed: the journeys need what it saves, so they do not run\n")
                continue
            for journey in persona.journeys:
                if not journeys or journey.journey.name in journeys:
                    self.play(f"persona {name}: journey {journey.journey.name}", journey.steps, user, dict(user.vars))
            if persona.on_stop:
                self.play(f"persona {name}: on_stop", persona.on_stop, user, user.vars)
        if program.teardown:
            runner = self.user(type(lifecycle.runner_user(program, self.environment)))
            self.play("teardown:", program.teardown, runner, runner.vars)
        failed = sum(1 for step in self.steps if step.failure is not None)
        requests = sum(1 for step in self.steps if step.kind == "request")
        self.out.write(f"result: {requests} requests, {failed} failed steps: {'FAIL' if failed else 'PASS'}\n")
        return not failed

    def report(self) -> dict[str, Any]:
        failed = [step for step in self.steps if step.failure is not None]
        return {
            "scenario": self.program.scenario.name,
            "host": self.host,
            "passed": not failed,
            "steps": [step.__dict__ for step in self.steps],
        }


def _shown(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def as_text(step: Traced) -> str:
    if step.kind != "request":
        return f"  {step.text}\n"
    request, response = step.request, step.response
    lines = [f"  {request['method']} {request['url']}    [stats name: {request['name']}]"]
    lines += [f"    > {name}: {value}" for name, value in request["headers"].items()]
    if request["body"] is not None:
        lines.append(f"    > {request['body']}")
    if response:
        lines.append(f"    < {response['status']} in {response['time_ms']:g} ms")
        lines += [f"    < {name}: {value}" for name, value in response["headers"].items()]
        lines += [f"    < {line}" for line in response["body"].splitlines()]
    for check in step.checks:
        actual = "" if check["actual"] is None else f" (actual: {check['actual']})"
        lines.append(f"    expect {check['check']}: {'pass' if check['passed'] else 'FAIL'}{actual}")
    lines += [f"    saved {name} = {value}" for name, value in step.saved.items()]
    if step.failure is not None:
        lines.append(f"    FAILED: {step.failure}")
    return "\n".join(lines) + "\n"
