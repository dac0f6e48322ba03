"""The ``poll`` step: repeat a request until ``until`` holds, bounded in attempts and time."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from engine.durations import seconds
from engine.errors import Position
from engine.expect import Checks
from engine.model import METHODS, PollStep, RequestStep
from engine.source import MarkedDict
from engine.steps.base import Building, Compiling, Rehearsal, Runner, StepKind, StepProgram
from engine.steps.request import PollAttempt, RequestProgram, build_expectation, build_request, compile_request
from engine.templates import RESPONSE_NAMES, Scope, stats_name


class PollProgram(StepProgram):
    """Repeat a request until ``until`` holds, pausing between attempts, within attempts and time bounds."""

    def __init__(self, spec: PollStep, request: RequestProgram, until: Checks) -> None:
        self.request = request
        self.until = until
        self.every = spec.every
        self.factor = spec.factor
        self.max_pause = spec.max_pause
        self.max_attempts = spec.max_attempts
        self.max_time = spec.max_time

    def run(self, user: Runner, scope: Scope) -> bool:
        started = time.monotonic()
        pause = self.every
        attempt = PollAttempt(self.until)
        attempts = 1
        while True:
            too_late = self.max_time is not None and time.monotonic() - started + pause > self.max_time
            attempt.last = attempts >= self.max_attempts or too_late
            attempt.pending = False
            goes_on = self.request.exchange(user, scope, attempt)
            if not attempt.pending:
                return goes_on
            user.think(pause)
            pause = pause * self.factor
            if self.max_pause is not None:
                pause = min(pause, self.max_pause)
            attempts += 1

    def blocks(self) -> Sequence[Sequence[StepProgram]]:
        return ([self.request],)

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        pause = f"every {self.every:g}s" + (f" x{self.factor:g}" if self.factor != 1 else "")
        title = f"poll until {self.until.describe()} (one attempt shown; {pause}, at most {self.max_attempts}):"
        rehearsal.block(title, [self.request], scope)


class Poll(StepKind[PollStep]):
    """``poll: {get: ..., until: ...}``."""

    name = "poll"
    schema = "pollStep"
    model = PollStep
    program = PollProgram

    def build(self, node: MarkedDict, b: Building) -> PollStep | None:
        spec = node["poll"]
        methods = [m for m in METHODS if m in spec]
        if len(methods) != 1:
            if len(methods) > 1:
                b.sink.add(
                    b.key_pos(spec, methods[1]),
                    f"one poll sends one request: found both '{methods[0]}' and '{methods[1]}'",
                )
            return None
        if "every" in spec and "backoff" in spec:
            b.sink.add(b.key_pos(spec, "backoff"), "a poll has either every or backoff, not both")
        request = build_request(methods[0], spec, b, on_failure=node.get("on_failure", "stop"))
        until = build_expectation(spec["until"], b) if isinstance(spec.get("until"), MarkedDict) else None
        if until is None:
            return None
        backoff = spec.get("backoff")
        backoff = backoff if isinstance(backoff, MarkedDict) else MarkedDict()  # (the schema reports others)
        every = b.lenient(seconds, backoff.get("initial", spec.get("every", 1)), 1.0)
        return PollStep(
            request=request,
            until=until,
            pos=b.pos(node),
            every=every,
            factor=b.lenient(float, backoff.get("factor", 2 if backoff else 1), 1.0),
            max_pause=b.lenient(seconds, backoff["max"], None) if "max" in backoff else None,
            max_attempts=b.lenient(int, spec.get("max_attempts", 10), 10),
            max_time=b.lenient(seconds, spec["max_time"], None) if "max_time" in spec else None,
        )

    def compile(self, step: PollStep, c: Compiling, known: set[str]) -> StepProgram:
        request = step.request
        name = f"{request.name or stats_name(str(request.url.raw))} (poll)"
        until = Checks(step.until, Path(step.pos.file).parent, c.templates, c.sink, files=c.files, secrets=c.secrets)
        c.check_names(until.renderers(), known | set(RESPONSE_NAMES))
        return PollProgram(step, compile_request(request, c, known, name=name), until)

    def defines(self, step: PollStep) -> Iterable[tuple[str, Position]]:
        return ((extractor.var, extractor.pos) for extractor in step.request.save)

    def requests(self, step: PollStep) -> Iterable[RequestStep]:
        return (step.request,)


KIND = Poll()
