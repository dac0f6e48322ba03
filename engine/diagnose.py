"""Failures that explain themselves: the request and response behind a failed request, in the log.

Locust's failure table keeps a short, stable message (``status 422, expected
200, 201``) so that failures group by kind. The server's reason is in the
response, so the first time each kind of failure (method, stats name and
message) occurs in a process, :func:`failure` logs at WARNING on the
``engine.diagnose`` logger the request (method, URL and the headers the step
set, secrets masked) and the response (status, content type and the first
:data:`BODY_BYTES` bytes of the body, decoded as ``engine.response`` decodes
bodies). Later occurrences are only counted, and at the end of the test (Locust's
``test_stop``) one line per kind says how many more there were. With
``--loglevel DEBUG`` every occurrence is logged (at DEBUG).

It runs on the failure path only: a request that passes never calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from engine.response import decode_body, header_value
from engine.secrets import MASK, NO_SECRETS, Secrets, mask_header, mask_url, ordered, query_parts, scrub, secret_name

__all__ = ["MASK", "describe", "failure", "mask_header", "mask_url", "scrub", "secret_name", "secrets"]
Scope = Mapping[str, Any]

log = logging.getLogger("engine.diagnose")
BODY_BYTES = 500
MAX_KINDS = 1000
"""Kinds of failure counted per process; a failure of a kind beyond them is logged at DEBUG only."""

_counts: dict[tuple[str, str, str], int] = {}
_full = False


class Step(Protocol):
    """What a failure names of its request step: the method and the stats name."""

    method: str
    name: str
    secrets: Secrets


def failure(
    response: Any,
    message: str,
    step: Step,
    url: str,
    headers: Mapping[str, str] | None,
    scope: Scope | None = None,
) -> None:
    """Mark ``response`` failed with ``message`` (what Locust shows) and log why, once per kind.

    ``url`` and ``headers`` are what ``step`` sent; every secret value they carry, and those of
    ``scope`` that the step's secrets name, is masked in the message and the log.
    """
    hidden = secrets(url, headers or {}, step.secrets, scope)
    message = scrub(message, hidden)
    response.failure(message)
    method, name = step.method, step.name
    key = (method, name, message)
    seen = _counts.get(key, 0)
    if seen or len(_counts) < MAX_KINDS:
        _counts[key] = seen + 1
        note = f"occurrence {seen + 1}"
    else:
        _note_full()
        seen, note = -1, "too many kinds of failure to count"
    if seen == 0:
        level = logging.WARNING
        note = "first occurrence; later ones are counted (--loglevel DEBUG logs each)"
    elif log.isEnabledFor(logging.DEBUG):
        level = logging.DEBUG
    else:
        return
    try:
        text = describe(response, method, url, headers, hidden)
    except Exception as exc:  # a log line must never break the request's report
        text = scrub(f"  (could not describe the exchange: {type(exc).__name__}: {exc})", hidden)
    log.log(level, "failed %s %s: %s (%s)\n%s", method, mask_url(name), message, note, text)


def _note_full() -> None:
    global _full
    if not _full:
        _full = True
        log.warning("more than %d kinds of failure: the next new ones are logged at DEBUG only", MAX_KINDS)


def describe(
    response: Any, method: str, url: str, headers: Mapping[str, str] | None, hidden: list[str] | None = None
) -> str:
    """The request and response (or why none arrived) as indented lines, ``hidden`` values masked."""
    meta = getattr(response, "request_meta", None)
    sent = str((meta.get("url") if isinstance(meta, dict) else None) or url)  # with the host Locust put before it
    headers = headers or {}
    hidden = ordered([*(hidden or ()), *secrets(sent, headers)])
    lines = [f"  request: {method} {scrub(mask_url(sent), hidden)}"]
    lines += [f"    {name}: {scrub(mask_header(name, str(value)), hidden)}" for name, value in headers.items()]
    status = getattr(response, "status_code", None)
    if not status:
        error = getattr(response, "error", None)
        why = f" ({type(error).__name__}: {scrub(str(error), hidden)})" if error else ""
        lines.append(f"  response: none{why}")
        return "\n".join(lines)
    content_type = header_value(getattr(response, "headers", None), "Content-Type")
    content: bytes = getattr(response, "content", None) or b""
    size = f"{len(content)} bytes" + (f", first {BODY_BYTES} shown" if len(content) > BODY_BYTES else "")
    lines.append(f"  response: {status}, {content_type or 'no content type'}, {size}")
    if content:
        body = scrub(decode_body(content[:BODY_BYTES], content_type), hidden)
        lines += [f"    {line}" for line in body.splitlines()]
    return "\n".join(lines)


def secrets(
    url: str, headers: Mapping[str, str], masked: Secrets = NO_SECRETS, scope: Scope | None = None
) -> list[str]:
    """The secret values a request carries (in secret headers and query parameters), and those of
    ``scope`` that ``masked`` names, longest first."""
    return ordered([*masked.values(scope, headers), *query_parts(url)])


def repeats() -> list[tuple[tuple[str, str, str], int]]:
    """(method, name, message) and how many occurrences were not logged, most first."""
    return sorted(((key, count - 1) for key, count in _counts.items() if count > 1), key=lambda kv: -kv[1])


def summarize(**_: Any) -> None:
    """At the end of a test: how many more of each logged failure there were."""
    if log.isEnabledFor(logging.DEBUG):
        return  # each occurrence was logged
    for (method, name, message), more in repeats():
        log.warning("failed %s %s: %s: %d more occurrence%s", method, name, message, more, "" if more == 1 else "s")


def reset(**_: Any) -> None:
    """Forget the failures seen (a new test logs each kind's first occurrence again)."""
    global _full
    _counts.clear()
    _full = False


def attach(environment: Any) -> None:
    """Count per test: reset at ``test_start``, sum up at ``test_stop`` (once per process, before
    setup and teardown are attached: setup's failures count for the test, teardown's repeats are not summed up)."""
    environment.events.test_start.add_listener(reset)
    environment.events.test_stop.add_listener(summarize)
