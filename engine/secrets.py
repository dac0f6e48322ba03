"""Secrets: values that never appear in a message, a log line, a report or a verdict.

What is secret (see the README's "Secrets"):

* the variables a scenario names under ``secrets:`` (``password``, or ``shopper.password`` for one
  key of a mapping such as a fed row), and every variable used in the value of a header whose name
  says it holds a secret (``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``X-Api-Key``,
  ...), in a query parameter of such a name, as the password of ``auth:``, or saved from a cookie:
  these names are found at load time (:class:`Secrets`);
* the values read with ``env('NAME', secret=true)``: registered in this process when read
  (:func:`register`; a process reads a handful of environment variables, so this stays small);
* the values of secret headers themselves (the credentials of ``Authorization: Bearer X``, each
  cookie's value) and of secret query parameters.

Masking replaces every such value of :data:`MIN_LENGTH` characters or more with :data:`MASK`. It
runs where a message or a log line is made — a failure, a ``log:`` step, a load-time error — never
on a request that passes: the values are looked up in the scope of the user at that moment, so
nothing is recorded per request or per user.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

MASK = "***"
MIN_LENGTH = 4
"""Shorter values are not masked: replacing every ``1`` or ``en`` in a message would hide the message."""

_SECRET_NAME = re.compile(
    r"auth|cookie|token|secret|passw|pwd|api[-_]?key|^key$|session|signature|credential|jwt",
    re.IGNORECASE,
)
"""Header and query parameter names whose values are secret (Authorization, Cookie, X-Api-Key, ...)."""

_REGISTERED: dict[str, None] = {}
"""Values read with ``env(..., secret=true)`` in this process (a dict: ordered, no duplicates)."""


def register(value: Any) -> None:
    """Mark a value secret in this process (``env('NAME', secret=true)``)."""
    for text in _texts(value):
        if len(text) >= MIN_LENGTH and text not in _REGISTERED:
            _REGISTERED[text] = None


def secret_name(name: str) -> bool:
    """Whether a header or query parameter of this name carries a secret (its value is masked)."""
    return _SECRET_NAME.search(name) is not None


def _texts(value: Any) -> Iterable[str]:
    """The texts and numbers inside a value (a mapping's values, a list's items), as text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            yield str(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def header_parts(name: str, value: str) -> list[str]:
    """The secret parts of a header's value: a cookie's values, an Authorization's credentials."""
    if not secret_name(name):
        return []
    lower = name.lower()
    if lower in ("cookie", "set-cookie"):
        return [part.split("=", 1)[1].strip() for part in value.split(";") if "=" in part]
    _, space, credentials = value.strip().partition(" ")
    if lower.endswith("authorization") and space:
        return [credentials.strip(), value.strip()]
    return [value]


def query_parts(url: str) -> list[str]:
    """The values of a URL's secret query parameters (as sent and decoded) and its password."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    if parts.password:
        found.append(parts.password)
    for item in parts.query.split("&"):
        key, equals, value = item.partition("=")
        if equals and secret_name(unquote(key)):
            found += [value, unquote(value)]
    return found


def _variants(text: str) -> Iterable[str]:
    """A value as it may be written in a URL or a JSON document, besides itself."""
    yield text
    yield quote(text, safe="")
    yield quote_plus(text, safe="")
    yield json.dumps(text)[1:-1]


def scrub(text: str, hidden: Iterable[str]) -> str:
    """``text`` with every value of ``hidden`` masked (``hidden`` longest first, as :func:`ordered` gives)."""
    for value in hidden:
        if value in text:
            text = text.replace(value, MASK)
    return text


def ordered(values: Iterable[str]) -> list[str]:
    """The values worth masking (long enough), each with its URL and JSON forms, longest first."""
    found = {variant for value in values if len(value) >= MIN_LENGTH for variant in _variants(value)}
    return sorted(found, key=len, reverse=True)


def mask_header(name: str, value: str) -> str:
    """A header value fit for a log: a secret's scheme (``Bearer ***``) or cookie names (``sid=***``) only."""
    if not secret_name(name):
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
        f"{item.split('=', 1)[0]}={MASK}" if "=" in item and secret_name(unquote(item.split("=", 1)[0])) else item
        for item in parts.query.split("&")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Secrets:
    """The secret variables of one scenario (paths: a name and keys below it), found at load time."""

    __slots__ = ("paths",)

    def __init__(self, paths: Iterable[tuple[str, ...]] = ()) -> None:
        self.paths: set[tuple[str, ...]] = set(paths)

    def add(self, *path: str) -> None:
        self.paths.add(path)

    def names(self) -> set[str]:
        return {path[0] for path in self.paths}

    def values(self, scope: Mapping[str, Any] | None, *headers: Mapping[str, Any] | None) -> list[str]:
        """Every secret value a message made in ``scope`` (with those headers sent) may hold, longest first."""
        found: list[str] = list(_REGISTERED)
        if scope:
            for path in self.paths:
                value: Any = scope.get(path[0])
                for key in path[1:]:
                    value = value.get(key) if isinstance(value, Mapping) else None
                if value is not None:
                    found.extend(_texts(value))
        for layer in headers:
            if layer:
                for name, value in layer.items():
                    found += header_parts(str(name), str(value))
        return ordered(found)

    def mask(self, text: str, scope: Mapping[str, Any] | None = None, *headers: Mapping[str, Any] | None) -> str:
        """``text`` with every secret value of ``scope`` (and of those headers) masked."""
        if not (self.paths or _REGISTERED or any(headers)):
            return text
        return scrub(text, self.values(scope, *headers))


NO_SECRETS = Secrets()


def _masked_query(text: str) -> str:
    """A URL (or text holding one) with every query value and a ``user:password@`` password masked."""
    if "?" in text:
        head, _, query = text.partition("?")
        query, space, tail = query.partition(" ")
        items = (f"{item.split('=', 1)[0]}={MASK}" if "=" in item else item for item in query.split("&"))
        text = f"{head}?{'&'.join(items)}{space}{tail}"
    if "@" in text and "://" in text:
        text = mask_url(text)
    return scrub(text, ordered(_REGISTERED))


class ClientLogFilter(logging.Filter):
    """The HTTP client logs each request's URL at DEBUG (urllib3: ``"GET /path?query HTTP/1.1" 200``):
    there, every query value and every value registered as secret is masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_masked_query(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def guard_client_logs() -> None:
    """Install :class:`ClientLogFilter` on urllib3's request log (once)."""
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, ClientLogFilter) for f in logger.filters):
        logger.addFilter(ClientLogFilter())
