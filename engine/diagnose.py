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
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from engine.response import decode_body

log = logging.getLogger("engine.diagnose")
BODY_BYTES = 500
MAX_KINDS = 1000
"""Kinds of failure counted per process; a failure of a kind beyond them is logged at DEBUG only."""
MASK = "***"
_SECRET = re.compile(
    r"auth|cookie|token|secret|passw|pwd|api[-_]?key|^key$|session|signature|credential|jwt",
    re.IGNORECASE,
)
"""Header and query parameter names whose values are masked (Authorization, Cookie, X-Api-Key, ...)."""

_counts: dict[tuple[str, str, str], int] = {}
_full = False


class Step(Protocol):
    """What a failure names of its request step: the method and the stats name."""

    method: str
    name: str


def failure(response: Any, message: str, step: Step, url: str, headers: Mapping[str, str] | None) -> None:
    """Mark ``response`` failed with ``message`` (what Locust shows) and log why, once per kind.

    ``url`` and ``headers`` are what ``step`` sent.
    """
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
        text = describe(response, method, url, headers)
    except Exception as exc:  # a log line must never break the request's report
        text = f"  (could not describe the exchange: {type(exc).__name__}: {exc})"
    log.log(level, "failed %s %s: %s (%s)\n%s", method, mask_url(name), message, note, text)


def _note_full() -> None:
    global _full
    if not _full:
        _full = True
        log.warning("more than %d kinds of failure: the next new ones are logged at DEBUG only", MAX_KINDS)


def describe(response: Any, method: str, url: str, headers: Mapping[str, str] | None) -> str:
    """The request and response (or why none arrived) as indented lines."""
    meta = getattr(response, "request_meta", None)
    sent = str((meta.get("url") if isinstance(meta, dict) else None) or url)  # with the host Locust put before it
    headers = headers or {}
    lines = [f"  request: {method} {mask_url(sent)}"]
    lines += [f"    {name}: {mask_header(name, str(value))}" for name, value in headers.items()]
    hidden = secrets(sent, headers)
    status = getattr(response, "status_code", None)
    if not status:
        error = getattr(response, "error", None)
        why = f" ({type(error).__name__}: {scrub(str(error), hidden)})" if error else ""
        lines.append(f"  response: none{why}")
        return "\n".join(lines)
    content_type = _header(response, "Content-Type")
    content: bytes = getattr(response, "content", None) or b""
    size = f"{len(content)} bytes" + (f", first {BODY_BYTES} shown" if len(content) > BODY_BYTES else "")
    lines.append(f"  response: {status}, {content_type or 'no content type'}, {size}")
    if content:
        body = scrub(decode_body(content[:BODY_BYTES], content_type), hidden)
        lines += [f"    {line}" for line in body.splitlines()]
    return "\n".join(lines)


def _header(response: Any, name: str) -> str | None:
    headers = getattr(response, "headers", None)
    value = headers.get(name) if headers is not None else None
    if isinstance(value, list):  # geventhttpclient: a repeated header as a list
        return ", ".join(value)
    return None if value is None else str(value)


def secret(name: str) -> bool:
    """Whether a header or query parameter of this name carries a secret (its value is masked)."""
    return _SECRET.search(name) is not None


def _hidden_parts(name: str, value: str) -> list[str]:
    """The parts of a secret header's value that :func:`mask_header` hides."""
    lower = name.lower()
    if lower in ("cookie", "set-cookie"):
        return [part.split("=", 1)[1].strip() for part in value.split(";") if "=" in part]
    _, space, credentials = value.strip().partition(" ")
    if lower.endswith("authorization") and space:
        return [credentials.strip()]
    return [value]


def mask_header(name: str, value: str) -> str:
    """A header value fit for a log: a secret's scheme (``Bearer ***``) or cookie names (``sid=***``) only."""
    if not secret(name):
        return value
    lower = name.lower()
    if lower in ("cookie", "set-cookie"):
        names = [part.split("=", 1)[0].strip() for part in value.split(";") if part.strip()]
        return "; ".join(f"{cookie}={MASK}" for cookie in names)
    scheme, space, _ = value.strip().partition(" ")
    if lower.endswith("authorization") and space:
        return f"{scheme} {MASK}"
    return MASK


def mask_url(url: str) -> str:
    """A URL fit for a log: the password of ``user:password@`` and secret query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else netloc
    query = "&".join(
        f"{item.split('=', 1)[0]}={MASK}" if "=" in item and secret(unquote(item.split("=", 1)[0])) else item
        for item in parts.query.split("&")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secrets(url: str, headers: Mapping[str, str]) -> list[str]:
    """The secret values a request carries (in masked headers and query parameters), longest first."""
    found = []
    for name, value in headers.items():
        if secret(name):
            found += _hidden_parts(name, str(value))
    query = urlsplit(url).query if "?" in url else ""
    for item in query.split("&"):
        key, equals, value = item.partition("=")
        if equals and secret(unquote(key)):
            found += [value, unquote(value)]
    return sorted({value for value in found if len(value) >= 4}, key=len, reverse=True)


def scrub(text: str, hidden: list[str]) -> str:
    """``text`` with every secret value of the request masked (an error or a body may repeat one)."""
    for value in hidden:
        text = text.replace(value, MASK)
    return text


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
