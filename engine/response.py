"""A uniform, read-only view of a response from either Locust client.

The body is decoded and JSON-parsed at most once, and only when a step asks.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable
from typing import Any


class NotJson(ValueError):
    """The body was needed as JSON and is not JSON."""


class ResponseView:
    """Status, headers, text and JSON of one response, plus the user's cookie lookup."""

    __slots__ = ("_json", "_raw", "_text", "cookie", "elapsed_ms", "status")

    _UNSET: Any = object()

    def __init__(self, raw: Any, status: int, elapsed_ms: float, cookie: Callable[[str], str | None]) -> None:
        self._raw = raw
        self.status = status
        self.elapsed_ms = elapsed_ms
        self.cookie = cookie
        self._text: str | None = None
        self._json: Any = self._UNSET

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self._raw.text or ""
        return self._text

    def json(self) -> Any:
        """The parsed JSON body; raises :class:`NotJson` (cached) when it is not JSON."""
        if self._json is self._UNSET:
            self._json = self._parse()
        if isinstance(self._json, NotJson):
            raise self._json
        return self._json

    def _parse(self) -> Any:
        """JSON is UTF-8 (RFC 8259; UTF-16/32 are recognised too): the bytes are parsed as they are,
        without decoding them to text first. Bytes that are not UTF-8 are read in the charset the
        response declares."""
        try:
            return _json.loads(self._raw.content or b"")
        except UnicodeDecodeError:
            try:
                return _json.loads(self.text)
            except ValueError:
                return NotJson("response body is not JSON")
        except ValueError:
            return NotJson("response body is not JSON")

    @property
    def headers(self) -> Any:
        """The response headers (a case-insensitive mapping; empty when there were none)."""
        return self._raw.headers if self._raw.headers is not None else {}

    def template_names(self) -> dict[str, Any]:
        """The response as templates in ``expect``, ``until`` and a save's ``default`` see it."""
        try:
            document = self.json()
        except NotJson:
            document = None
        return {
            "status": self.status,
            "headers": self.headers,
            "json": document,
            "body": self.text,
            "elapsed_ms": self.elapsed_ms,
        }

    def header(self, name: str) -> str | None:
        headers = self._raw.headers
        if headers is None:
            return None
        value = headers.get(name)
        return None if value is None else str(value)
