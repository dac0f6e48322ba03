"""Compiled steps: the hot path. One request = render -> send -> check -> save -> report.

Steps talk to the running user through the small :class:`Runner` protocol
(implemented in :mod:`engine.users`), so that nothing here imports Locust.
``run`` returns False when the journey run must end (a failed step without
``on_failure: continue``).
"""

from __future__ import annotations

import base64
import json
import logging
import random
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol
from urllib.parse import urlencode

from engine.expect import Checks
from engine.extract import Saver, save_all
from engine.model import Assign, Log, Request, SetHeaders, Think
from engine.response import ResponseView
from engine.templates import Renderer, Scope, stats_name

log = logging.getLogger("engine.steps")
_JSON_TYPE = {"Content-Type": "application/json"}
_FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


class Runner(Protocol):
    """What a step needs from the Locust user running it."""

    session_headers: dict[str, str]

    def send(
        self,
        method: str,
        url: str,
        name: str,
        headers: dict[str, str],
        data: str | None,
        timeout: float,
        allow_redirects: bool,
    ) -> AbstractContextManager[Any]: ...

    def transport_error(self, response: Any, timeout: float) -> str | None: ...

    def cookie(self, name: str) -> str | None: ...

    def think(self, seconds: float) -> None: ...

    def report_failure(self, method: str, name: str, message: str) -> None: ...


class StepProgram:
    """A compiled step."""

    def run(self, user: Runner, scope: Scope) -> bool:
        raise NotImplementedError


def run_steps(steps: list[StepProgram], user: Runner, scope: Scope) -> bool:
    """Run steps in order; False as soon as one says the run must end."""
    return all(step.run(user, scope) for step in steps)


def header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def form_value(value: Any) -> Any:
    """A query or form value: booleans as true/false (as in headers), lists item by item."""
    if isinstance(value, list):
        return [form_value(item) for item in value]
    return header_text(value) if isinstance(value, bool) else value


def merge_headers(*layers: Mapping[str, Any]) -> dict[str, str]:
    """Later layers win; header names compare case-insensitively."""
    merged: dict[str, str] = {}
    spelled: dict[str, str] = {}
    for layer in layers:
        for name, value in layer.items():
            key = name.lower()
            if key in spelled:
                del merged[spelled[key]]
            if value is None:
                spelled.pop(key, None)
                continue
            spelled[key] = name
            merged[name] = header_text(value)
    return merged


class RequestStep(StepProgram):
    """Send one request, check it, save values from it and report it to Locust."""

    def __init__(
        self,
        spec: Request,
        url: Renderer,
        renderers: dict[str, Renderer],
        checks: Checks,
        savers: list[Saver],
        default_headers: Renderer | None,
        timeout: float,
        allow_redirects: bool,
    ) -> None:
        self.method = spec.method
        self.name = spec.name or stats_name(str(spec.url.raw))
        self.url = url
        self.params = renderers.get("params")
        self.headers = renderers.get("headers")
        self.default_headers = default_headers
        self.auth = renderers.get("auth")
        self.body_kind = next((k for k in ("json", "form", "body") if k in renderers), None)
        self.body = renderers.get(self.body_kind) if self.body_kind else None
        self.timeout = timeout
        self.allow_redirects = allow_redirects
        self.checks = checks
        self.savers = savers
        self.keep_going = spec.on_failure == "continue"

    def _prepare(self, user: Runner, scope: Scope) -> tuple[str, dict[str, str], str | None]:
        url = str(self.url.render(scope))
        if self.params is not None:
            params = {k: form_value(v) for k, v in self.params.render(scope).items() if v is not None}
            if params:
                url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        data: str | None = None
        layers: list[Mapping[str, Any]] = []
        if self.body is not None:
            value = self.body.render(scope)
            if self.body_kind == "json":
                data = json.dumps(value)
                layers.append(_JSON_TYPE)
            elif self.body_kind == "form":
                data = urlencode({k: form_value(v) for k, v in value.items()}, doseq=True)
                layers.append(_FORM_TYPE)
            else:
                data = str(value)
        if self.default_headers is not None:
            layers.append(self.default_headers.render(scope))
        layers.append(user.session_headers)
        if self.headers is not None:
            layers.append(self.headers.render(scope))
        if self.auth is not None:
            username, password = self.auth.render(scope)
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            layers.append({"Authorization": f"Basic {token}"})
        headers = merge_headers(*layers)
        return url, headers, data

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            url, headers, data = self._prepare(user, scope)
        except Exception as exc:
            user.report_failure(self.method, self.name, f"template error: {exc}")
            return self.keep_going
        with user.send(self.method, url, self.name, headers, data, self.timeout, self.allow_redirects) as response:
            error = user.transport_error(response, self.timeout)
            if error is not None:
                response.failure(error)
                return self.keep_going
            view = ResponseView(response, response.request_meta["response_time"], user.cookie)
            problems: list[str] = []
            try:
                self.checks.check(view, scope, problems)
                if self.savers and not problems:  # a response that fails its checks is not worth saving from
                    save_all(self.savers, view, scope, problems)
            except Exception as exc:
                log.debug("check of %s %s raised", self.method, self.name, exc_info=True)
                problems.append(f"check error: {exc}")
            if problems:
                response.failure("; ".join(problems))
                return self.keep_going
            response.success()
            return True


class ThinkStep(StepProgram):
    """Pause; the user may be stopped gracefully meanwhile."""

    def __init__(self, spec: Think) -> None:
        self.low = spec.low
        self.high = spec.high

    def run(self, user: Runner, scope: Scope) -> bool:
        user.think(self.low if self.low == self.high else random.uniform(self.low, self.high))
        return True


class HeadersStep(StepProgram):
    """Set (or, with null, remove) session headers for the rest of the user's life."""

    def __init__(self, spec: SetHeaders, headers: Renderer) -> None:
        self.headers = headers
        self.where = f"headers step at line {spec.pos.line}"

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            values = self.headers.render(scope)
        except Exception as exc:
            user.report_failure("HEADERS", self.where, f"template error: {exc}")
            return False
        user.session_headers = merge_headers(user.session_headers, values)
        return True


class SetStep(StepProgram):
    """Assign variables in order (each may use the ones before)."""

    def __init__(self, spec: Assign, values: list[tuple[str, Renderer]]) -> None:
        self.values = values
        self.where = f"set step at line {spec.pos.line}"

    def run(self, user: Runner, scope: Scope) -> bool:
        for name, renderer in self.values:
            try:
                scope[name] = renderer.render(scope)
            except Exception as exc:
                user.report_failure("SET", self.where, f"template error in {name}: {exc}")
                return False
        return True


class LogStep(StepProgram):
    """Write a message to Locust's log."""

    def __init__(self, spec: Log, message: Renderer) -> None:
        self.message = message

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            log.info("%s", self.message.render(scope))
        except Exception as exc:
            log.warning("log step: template error: %s", exc)
        return True
