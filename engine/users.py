"""Stage 5: program -> Locust user classes (the runtime side of the engine).

Each persona becomes a subclass of :class:`ScenarioHttpUser` (HttpUser) or
:class:`ScenarioFastUser` (FastHttpUser); each journey one weighted task.
The two base classes hide the clients' differences, so that timeouts, cookies,
redirects and TLS verification behave the same for the author on both.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Callable
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser, HttpUser, between, constant, constant_pacing, constant_throughput
from locust.exception import StopUser
from locust.stats import RequestStats
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

from engine.compiler import JourneyProgram, PersonaProgram, Program
from engine.model import Wait
from engine.steps import StopRequested, iter_requests, run_steps

log = logging.getLogger("engine.users")


class EngineFailure(Exception):
    """A step that failed before sending anything (e.g. a template error)."""


def describe_transport_error(error: BaseException, timeout: float) -> str:
    """A short, stable description of why no response arrived (no host, port or ID in it)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__ or _inner(current)
    text = " ".join(f"{type(e).__name__} {e}" for e in chain).lower()
    if any(isinstance(e, (socket.timeout, TimeoutError, gevent.Timeout)) for e in chain) or "timed out" in text:
        return f"request timed out after {timeout:g}s"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain) or "name or service not known" in text:
        return "host not found"
    if "certificate" in text or "ssl" in text:
        return "TLS error"
    if any(isinstance(e, ConnectionResetError) for e in chain) or "reset" in text:
        return "connection reset"
    if any(isinstance(e, OSError) and e.errno == errno.ECONNABORTED for e in chain):
        return "connection aborted"
    return f"connection error ({type(error).__name__})"


def _inner(error: BaseException) -> BaseException | None:
    for arg in getattr(error, "args", ()):
        if isinstance(arg, BaseException):
            return arg
        reason = getattr(arg, "reason", None)
        if isinstance(reason, BaseException):
            return reason
    return None


class ScenarioUser:
    """What both generated base classes share: scope, session headers, on_start/on_stop, think."""

    abstract = True
    program: ClassVar[Program]
    persona_program: ClassVar[PersonaProgram]
    environment: Any
    _state: str | None

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)  # type: ignore[call-arg]
        self.vars = self.program.new_scope()
        self.session_headers: dict[str, str] = {}
        self.started = False
        self.retry_waits = False
        self.stop_reason: str | None = None

    def on_start(self) -> None:
        """Run ``on_start``; when it fails, no journey runs until a retry succeeds."""
        self.started = self._start()
        self.retry_waits = not self.started

    def _start(self) -> bool:
        try:
            return run_steps(self.persona_program.on_start, self, self.vars)
        except StopRequested as stop:  # stopped at the first task, where Locust expects StopUser
            self.stop_reason = str(stop)
            return False

    def on_stop(self) -> None:
        if self.started and self.persona_program.on_stop:
            run_steps(self.persona_program.on_stop, self, self.vars)

    def run_journey(self, journey: JourneyProgram) -> None:
        if self.stop_reason is not None:
            raise StopUser()
        if not self.started:
            if self.retry_waits:  # the first task right after a failed on_start: wait before retrying
                self.retry_waits = False
                return
            self.started = self._start()
            if not self.started:
                if self.stop_reason is not None:
                    raise StopUser()
                return
        if not self.program.times_journeys:  # no threshold reads journeys: no timing on the hot path
            try:
                run_steps(journey.steps, self, dict(self.vars))
            except StopRequested as stop:
                self.stop_reason = str(stop)
                raise StopUser() from None
            return
        started = time.perf_counter()
        passed, interrupted = False, False
        try:
            passed = run_steps(journey.steps, self, dict(self.vars))
        except StopRequested as stop:
            self.stop_reason = str(stop)
            raise StopUser() from None
        except (StopUser, gevent.GreenletExit):
            interrupted = True  # the test stopped this user mid-journey: not a (failed) journey run
            raise
        finally:
            if not interrupted:
                self.record_journey(journey, (time.perf_counter() - started) * 1000, passed)

    def record_journey(self, journey: JourneyProgram, elapsed_ms: float, passed: bool) -> None:
        """One journey run in the journey statistics (for thresholds on journeys; not Locust's table)."""
        stats = self.program.journey_stats
        if stats is None:
            return
        for name in (journey.journey.name, f"{self.persona_program.persona.name}.{journey.journey.name}"):
            entry = stats.get(name, "JOURNEY")
            entry.log(elapsed_ms, 0)
            if not passed:
                entry.log_error(None)

    def think(self, seconds: float) -> None:
        """Sleep like Locust's own wait: a stopping user stops here instead of finishing the journey."""
        if self._state == LOCUST_STATE_STOPPING:
            raise StopUser()
        self._state = LOCUST_STATE_WAITING
        gevent.sleep(seconds)
        if self._state == LOCUST_STATE_STOPPING:
            raise StopUser()
        self._state = LOCUST_STATE_RUNNING

    def report_failure(self, method: str, name: str, message: str) -> None:
        self.environment.events.request.fire(
            request_type=method,
            name=name,
            response_time=0,
            response_length=0,
            response=None,
            context={},
            exception=EngineFailure(message),
        )

    def send(
        self,
        method: str,
        url: str,
        name: str,
        headers: dict[str, str],
        data: str | None,
        timeout: float,
        allow_redirects: bool,
    ) -> Any:
        """Send a request with ``catch_response=True`` (client-specific)."""
        raise NotImplementedError

    def cookie(self, name: str) -> str | None:
        """A cookie of this user's session (client-specific)."""
        raise NotImplementedError

    def transport_error(self, response: Any, timeout: float) -> str | None:
        """Why no response arrived, or None when one did (whatever its status)."""
        if response.status_code:
            return None
        error = getattr(response, "error", None)
        return describe_transport_error(error or ConnectionError("no response"), timeout)


class ScenarioHttpUser(ScenarioUser, HttpUser):
    """Base of personas with ``client: http`` (python-requests)."""

    abstract = True
    verify_tls: ClassVar[bool] = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.client.verify = self.verify_tls

    def send(
        self,
        method: str,
        url: str,
        name: str,
        headers: dict[str, str],
        data: str | None,
        timeout: float,
        allow_redirects: bool,
    ) -> Any:
        return self.client.request(
            method,
            url,
            name=name,
            data=data,
            headers=headers,
            timeout=timeout,
            allow_redirects=allow_redirects,
            catch_response=True,
        )

    def cookie(self, name: str) -> str | None:
        value: str | None = self.client.cookies.get(name)
        return value


class ScenarioFastUser(ScenarioUser, FastHttpUser):
    """Base of personas with ``client: fast`` (geventhttpclient).

    FastHttpUser would silently send ``timeout=`` and ``cookies=`` as query
    parameters, and its socket timeout is fixed per user: the class attributes
    hold the longest timeout of the persona's requests, and a request with a
    shorter one gets a gevent.Timeout around it.
    """

    abstract = True

    def send(
        self,
        method: str,
        url: str,
        name: str,
        headers: dict[str, str],
        data: str | None,
        timeout: float,
        allow_redirects: bool,
    ) -> Any:
        if timeout == self.network_timeout:
            return self.client.request(
                method,
                url,
                name=name,
                data=data,
                headers=headers,
                allow_redirects=allow_redirects,
                catch_response=True,
            )
        timer = gevent.Timeout(timeout, TimeoutError("timed out"))
        timer.start()
        try:
            return self.client.request(
                method,
                url,
                name=name,
                data=data,
                headers=headers,
                allow_redirects=allow_redirects,
                catch_response=True,
            )
        finally:
            timer.close()

    def cookie(self, name: str) -> str | None:
        for cookie in self.client.cookiejar:
            if cookie.name == name:
                return cookie.value
        return None


def wait_time(wait: Wait) -> Callable[..., float]:
    """The Locust wait_time function of a ``wait`` spec."""
    if wait.kind == "between":
        return between(*wait.args)
    if wait.kind == "pacing":
        return constant_pacing(wait.args[0])
    if wait.kind == "throughput":
        return constant_throughput(wait.args[0])
    return constant(wait.args[0])


def longest_timeout(persona_program: PersonaProgram, default: float) -> float:
    """The longest timeout of any request of a persona (``default`` when none is longer)."""
    steps = [*persona_program.on_start, *persona_program.on_stop]
    steps += [step for journey in persona_program.journeys for step in journey.steps]
    return max([default, *(step.timeout for step in iter_requests(steps))])


def _journey_task(journey: JourneyProgram) -> Callable[[Any], None]:
    def task(user: Any) -> None:
        user.run_journey(journey)

    task.__name__ = task.__qualname__ = f"journey_{journey.journey.name}"
    if journey.journey.tags:
        task.locust_tag_set = set(journey.journey.tags)  # type: ignore[attr-defined]
    return task


def selected(tags: tuple[str, ...], include: list[str] | None, exclude: list[str] | None) -> bool:
    """Locust's --tags/--exclude-tags rule for one journey."""
    if include and not set(tags) & set(include):
        return False
    return not (exclude and set(tags) & set(exclude))


def user_classes(
    program: Program,
    module: str,
    tags: list[str] | None = None,
    exclude_tags: list[str] | None = None,
) -> dict[str, type]:
    """One Locust user class per persona, named after it.

    A persona none of whose journeys is selected by ``tags``/``exclude_tags`` is
    left out (Locust would otherwise run it with no tasks).
    """
    classes: dict[str, type] = {}
    defaults = program.scenario.defaults
    if program.journey_stats is None:
        program.journey_stats = RequestStats()
    for persona_program in program.personas:
        persona = persona_program.persona
        journeys = [j for j in persona_program.journeys if selected(j.journey.tags, tags, exclude_tags)]
        if not journeys:
            log.info("user %s has no journey selected by --tags/--exclude-tags: left out", persona.name)
            continue
        base: type = ScenarioFastUser if persona.client == "fast" else ScenarioHttpUser
        attributes: dict[str, Any] = {
            "__module__": module,
            "__doc__": f"Persona {persona.name} of scenario {program.scenario.name}.",
            "abstract": False,
            "program": program,
            "persona_program": persona_program,
            "host": program.host,
            "weight": persona.weight,
            "wait_time": wait_time(persona.wait),
            "tasks": {_journey_task(j): j.journey.weight for j in journeys},
        }
        if persona.fixed_count is not None:
            attributes["fixed_count"] = persona.fixed_count
        if base is ScenarioFastUser:
            longest = longest_timeout(persona_program, defaults.timeout)
            attributes.update(
                network_timeout=longest,
                connection_timeout=longest,
                insecure=not defaults.verify_tls,
            )
        else:
            attributes["verify_tls"] = defaults.verify_tls
        classes[persona.name] = type(persona.name, (base,), attributes)
    return classes
