"""Stage 5: program -> Locust user classes (the runtime side of the engine).

Each persona becomes a subclass of :class:`ScenarioHttpUser` (HttpUser) or
:class:`ScenarioFastUser` (FastHttpUser); each journey one weighted task.
The two base classes hide the clients' differences, so that timeouts, cookies,
redirects and TLS verification behave the same for the author on both.
"""

from __future__ import annotations

import errno
import functools
import http.client
import logging
import socket
import time
import zlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, cast

import gevent
import requests.utils
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError
from locust import FastHttpUser, HttpUser, between, constant, constant_pacing, constant_throughput
from locust.contrib.fasthttp import LocustBadStatusCode
from locust.exception import StopUser
from locust.stats import RequestStats
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING
from urllib3.exceptions import InvalidChunkLength

from engine.compiler import JourneyProgram, PersonaProgram, Program
from engine.cookies import CookieJar, SessionCookieJar
from engine.model import Wait
from engine.secrets import Secrets, guard_client_logs
from engine.steps import StopRequested, iter_requests, run_steps
from engine.steps.header_merge import CLIENT_HEADERS, over_layer
from engine.templates import Scope

log = logging.getLogger("engine.users")
guard_client_logs()  # python-requests' client logs every URL at DEBUG, query values and all


class EngineFailure(Exception):
    """A step that failed before sending anything (e.g. a template error).

    Locust's failure table shows ``repr(error)``: it is the plain message here.
    """

    def __repr__(self) -> str:
        return str(self)


FAILURE_PAUSE = 0.001
"""Seconds a user pauses after a step that failed without a response (see report_failure)."""


NOT_HTTP = "response is not valid HTTP"
"""A status line or header that neither client can parse (a server that does not speak HTTP, garbage)."""
BAD_CHUNKS = "response has invalid chunked encoding"
"""A chunk size line that is not a hexadecimal number (``Transfer-Encoding: chunked``)."""
_CLOSED = (http.client.RemoteDisconnected, HTTPConnectionClosed)
"""The server closed the connection before any response (python-requests / the fast client)."""
_NOT_PARSE_ERRORS = (http.client.IncompleteRead, *_CLOSED)


class MalformedHeaders(http.client.HTTPException):
    """A response head python-requests cannot parse (a header line without a colon, ...)."""


class _RefuseMalformedHeaders(logging.Filter):
    """urllib3 only warns, with a traceback, about a head it cannot parse, and reads on: the
    headers after the bad line become the body and the response passes. Raised from its
    warning, this fails the request as the fast client does (``response is not valid HTTP``)
    and closes the connection. Costs nothing on a request whose head parses."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Failed to parse headers"):
            raise MalformedHeaders("malformed response headers")
        return True


logging.getLogger("urllib3.connection").addFilter(_RefuseMalformedHeaders())


def describe_transport_error(error: BaseException, timeout: float) -> str:
    """A short, stable description of why no response arrived (no host, port or ID in it)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__ or _inner(current)
    # by type first: the parsers' errors quote what the server sent, which must not choose the message
    if any(isinstance(e, InvalidChunkLength) for e in chain):
        return BAD_CHUNKS
    if any(isinstance(e, HTTPParseError) and "chunk" in str(e).lower() for e in chain):
        return BAD_CHUNKS
    if any(isinstance(e, http.client.HTTPException) and not isinstance(e, _NOT_PARSE_ERRORS) for e in chain):
        return NOT_HTTP
    text = " ".join(f"{type(e).__name__} {e}" for e in chain).lower()
    if any(isinstance(e, (socket.timeout, TimeoutError, gevent.Timeout)) for e in chain) or "timed out" in text:
        return f"request timed out after {timeout:g}s"
    for e in chain:
        if isinstance(e, http.client.IncompleteRead):
            if isinstance(e.partial, int) and e.expected is not None:  # urllib3: of a Content-Length
                return cut_short(e.partial, e.partial + e.expected)
            return cut_short(None, None)  # http.client: of a chunk
    if "response ended prematurely" in text:  # urllib3: no last chunk
        return cut_short(None, None)
    if any(isinstance(e, zlib.error) for e in chain) or "failed to decode" in text:
        return "response body not decodable (Content-Encoding)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain) or "name or service not known" in text:
        return "host not found"
    if "certificate" in text or "ssl" in text:
        return "TLS error"
    if any(isinstance(e, ConnectionResetError) and not isinstance(e, _CLOSED) for e in chain) or "reset" in text:
        return "connection reset"
    if any(isinstance(e, _CLOSED) for e in chain):
        return "connection closed without a response"
    if any(isinstance(e, OSError) and e.errno == errno.ECONNABORTED for e in chain):
        return "connection aborted"
    return f"connection error ({type(error).__name__})"


def cut_short(received: int | None, length: int | None) -> str:
    """A body that ended before its ``Content-Length`` (``length`` bytes), or before its last chunk (None)."""
    if length is None:
        return "response ended before its last chunk"
    return f"response ended before its Content-Length ({received} of {length} bytes)"


def _inner(error: BaseException) -> BaseException | None:
    original = getattr(error, "original", None)  # geventhttpclient's RetriesExceeded
    if isinstance(original, BaseException):
        return original
    for arg in getattr(error, "args", ()):
        if isinstance(arg, BaseException):
            return arg
        reason = getattr(arg, "reason", None)
        if isinstance(reason, BaseException):
            return reason
    return None


def _http_options(timeout: float, allow_redirects: bool) -> dict[str, Any]:
    """No ``timeout=`` for python-requests either: the step's deadline (:mod:`engine.timeouts`) bounds the whole
    request, connecting and every read, as on the fast client (urllib3 would validate the value on every request)."""
    return {"allow_redirects": allow_redirects, "catch_response": True}


def _fast_options(timeout: float, allow_redirects: bool) -> dict[str, Any]:
    """FastHttpUser takes no ``timeout=`` (it would send it as a query parameter): the deadline is the step's."""
    return {"allow_redirects": allow_redirects, "catch_response": True}


class RequestOptions(dict[tuple[float, bool], Mapping[str, Any]]):
    """A client's keyword arguments for ``client.request``, by (timeout, allow_redirects), each made once:
    a request looks its options up, with no call of its own."""

    def __init__(self, make: Callable[[float, bool], Mapping[str, Any]]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: tuple[float, bool]) -> Mapping[str, Any]:
        options = self[key] = self.make(*key)
        return options


HTTP_LAYER: Mapping[str, str] = MappingProxyType(over_layer(requests.utils.default_headers(), CLIENT_HEADERS))
"""What python-requests sends by default (its encodings, keep-alive), under the engine's CLIENT_HEADERS."""

_NO_HEADERS: dict[str, str] = {}  # shared by every user until a headers step replaces it (never changed in place)
_NO_CACHE: Any = MappingProxyType({})


class ScenarioUser:
    """What both generated base classes share: scope, session headers, on_start/on_stop, think."""

    abstract = True
    program: ClassVar[Program]
    persona_program: ClassVar[PersonaProgram]
    environment: Any
    client: Any
    _state: str | None

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)  # type: ignore[call-arg]
        self.vars = self.program.shared_scope() if self.shares_vars else self.program.new_scope()
        # Every attribute a user may set later is set here, in __init__: CPython stores an instance's attributes in
        # a slot array keyed by its class while the first instances add the names; a name first set once dozens of
        # users exist (in on_start, in a headers step) gives every user a dict of its own, about 460 bytes more.
        self.started = False
        self.retry_waits = False
        self.stop_reason: str | None = None
        self.session_headers: dict[str, str] = _NO_HEADERS  # replaced by a headers step, never changed in place
        self.header_cache: Any = _NO_CACHE  # a headers step gives the user its own (read only with session headers)

    client_layer: ClassVar[Mapping[str, str]] = MappingProxyType({})  # the fast client sends its own defaults
    layer_headers: ClassVar[dict[Any, dict[str, str]]] = MappingProxyType({})  # type: ignore[assignment]
    shares_vars: ClassVar[bool] = False
    """A persona without on_start or on_stop steps and with constant vars never changes its users' variables
    (journeys run on a copy): its users share one dict of them."""

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
        """One run of ``journey`` (what its Locust task does)."""
        (play_timed if self.program.times_journeys else play)(journey, self)

    def ready(self) -> bool:
        """Whether a journey may run now: ``on_start`` passed (retried once per task after a failure).

        Raises StopUser once a step has asked for the user to stop.
        """
        if self.stop_reason is not None:
            raise StopUser()
        if self.started:
            return True
        if self.retry_waits:  # the first task right after a failed on_start: wait before retrying
            self.retry_waits = False
            return False
        self.vars = self.program.new_scope()  # a retry renders its values afresh (no replayed username)
        self.started = self._start()
        if not self.started and self.stop_reason is not None:
            raise StopUser()
        return self.started

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

    @property
    def secrets(self) -> Secrets:
        return self.program.secrets

    def mask(self, text: str, scope: Scope) -> str:
        """``text`` with every secret value of ``scope`` and of the session headers masked."""
        return self.program.secrets.mask(text, scope, self.session_headers)

    def report_failure(self, method: str, name: str, message: str, scope: Scope, response_time: float = 0) -> None:
        """A step that failed without a response: a failed request in Locust's stats, secrets masked.

        Then a short real pause: such a failure did no I/O, and with ``wait: {constant: 0}`` a
        journey that fails this way again and again (a runaway template) would otherwise keep
        gevent's loop from ever running its timers: ``-t``, stop and SIGTERM among them.
        """
        self.environment.events.request.fire(
            request_type=method,
            name=name,
            response_time=response_time,
            response_length=0,
            response=None,
            context={},
            exception=EngineFailure(self.mask(message, scope)),
        )
        gevent.sleep(FAILURE_PAUSE)

    request_options: Mapping[tuple[float, bool], Mapping[str, Any]]
    """Keyword arguments for ``client.request`` besides name, data and headers, by (timeout, allow_redirects)."""

    def cookie(self, name: str) -> str | None:
        """A cookie of this user's session (client-specific)."""
        raise NotImplementedError

    def transport_error(self, response: Any, timeout: float) -> str | None:
        """Why no response arrived (python-requests: the response has no status)."""
        error = getattr(response, "error", None)
        return describe_transport_error(error or ConnectionError("no response"), timeout)


class ScenarioHttpUser(ScenarioUser, HttpUser):
    """Base of personas with ``client: http`` (python-requests)."""

    abstract = True
    verify_tls: ClassVar[bool] = True

    client_layer = HTTP_LAYER

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.layer_headers = {}  # per class: its plan's requests go with it (a plan loaded again gets new ones)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.client.verify = self.verify_tls
        # The session merges no settings of its own into a request: its headers are the engine's lowest layer
        # (client_layer), merged into each request's once, and it has no params or proxies (Locust's HttpUser takes
        # none from the environment either). python-requests skips a merge with a session setting of None; each merge
        # it does costs two runtime typing.Protocol checks, which made 11 % of a request's CPU (Python 3.11).
        self.client.headers = None
        self.client.params = None
        self.client.proxies = None
        self.client.cookies = SessionCookieJar()

    request_options = RequestOptions(_http_options)

    def cookie(self, name: str) -> str | None:
        value: str | None = self.client.cookies.get(name)
        return value


class ScenarioFastUser(ScenarioUser, FastHttpUser):
    """Base of personas with ``client: fast`` (geventhttpclient).

    FastHttpUser would silently send ``timeout=`` and ``cookies=`` as query
    parameters, and its socket timeout is fixed per user: the class attributes
    hold the longest timeout of the persona's requests (a socket timeout per
    read, never shorter than a request's deadline, which the step keeps).
    """

    abstract = True
    default_headers = CLIENT_HEADERS

    request_options = RequestOptions(_fast_options)
    agent_headers: ClassVar[Any] = None  # the agents' default headers, one set for every fast user

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        agent = self.client.client
        self.client.cookiejar = agent.cookiejar = CookieJar()  # the session's and its agent's
        # Every agent builds the same default headers (geventhttpclient's and CLIENT_HEADERS) and only copies them
        # into each request: one set serves every user (0.25 MiB less per 1,000 users).
        if ScenarioFastUser.agent_headers is None:
            ScenarioFastUser.agent_headers = agent.default_headers
        agent.default_headers = ScenarioFastUser.agent_headers

    def transport_error(self, response: Any, timeout: float) -> str | None:
        """Why no response, or not all of it, arrived; None for a response whose only error is its status.

        The fast client keeps a response whose body failed (cut short, reset, timed
        out) with its status, and the error in ``request_meta``.
        """
        error = response.request_meta["exception"] or getattr(response, "error", None)
        if response.status_code:
            if isinstance(error, LocustBadStatusCode):
                return None
            raw = response._response
            if isinstance(error, HTTPParseError) and str(error).startswith("Incomplete") and raw is not None:
                length = raw.content_length
                received = None if length is None else length - raw.get_remaining_content_length()
                return cut_short(received, length)
        return describe_transport_error(error or ConnectionError("no response"), timeout)

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


def play(journey: JourneyProgram, user: ScenarioUser) -> None:
    """One run of a journey: the body of its Locust task.

    Flat on purpose. Every frame under a request stays on the user greenlet's
    data stack while the request waits on its socket; a few frames more than a
    hand-written task cross into a second 4 KiB page, which then stays resident
    for every sleeping user (4 MiB per 1,000 users). So the task is a partial of
    this function (no frame of its own), ``run_steps`` is inlined and a request
    step's ``run`` goes straight to the client.
    """
    if not user.ready():
        return
    scope = dict(user.vars)
    try:
        for step in journey.steps:
            if not step.run(user, scope):
                return
    except StopRequested as stop:
        user.stop_reason = str(stop)
        raise StopUser() from None


def play_timed(journey: JourneyProgram, user: ScenarioUser) -> None:
    """One run of a journey, timed and recorded for the thresholds on journeys."""
    if not user.ready():
        return
    started = time.perf_counter()
    passed, interrupted = False, False
    try:
        passed = run_steps(journey.steps, user, dict(user.vars))
    except StopRequested as stop:
        user.stop_reason = str(stop)
        raise StopUser() from None
    except (StopUser, gevent.GreenletExit):
        interrupted = True  # the test stopped this user mid-journey: not a (failed) journey run
        raise
    finally:
        if not interrupted:
            user.record_journey(journey, (time.perf_counter() - started) * 1000, passed)


def _journey_task(journey: JourneyProgram, timed: bool) -> Callable[[Any], None]:
    task: Any = functools.partial(play_timed if timed else play, journey)
    task.__name__ = task.__qualname__ = f"journey_{journey.journey.name}"
    if journey.journey.tags:
        task.locust_tag_set = set(journey.journey.tags)
    return cast(Callable[[Any], None], task)


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
            "tasks": {_journey_task(j, program.times_journeys): j.journey.weight for j in journeys},
        }
        if persona.fixed_count is not None:
            attributes["fixed_count"] = persona.fixed_count
        attributes["shares_vars"] = (
            not persona_program.on_start and not persona_program.on_stop and program.constant_vars
        )
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
