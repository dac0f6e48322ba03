"""A uniform, read-only view of a response from either Locust client.

The body is decoded and JSON-parsed at most once, and only when a step asks.
"""

from __future__ import annotations

import codecs
import contextlib
import json as _json
from collections.abc import Callable
from typing import Any

from requests.structures import CaseInsensitiveDict

from engine.sentinels import Sentinel


class NotJson(ValueError):
    """The body was needed as JSON and is not JSON."""


class ResponseView:
    """Status, headers, text and JSON of one response, plus the user's cookie lookup."""

    __slots__ = ("_json", "_raw", "_text", "cookie", "elapsed_ms", "status")

    _UNSET: Any = Sentinel("not parsed yet")

    def __init__(self, raw: Any, status: int, elapsed_ms: float, cookie: Callable[[str], str | None]) -> None:
        self._raw = raw
        self.status = status
        self.elapsed_ms = elapsed_ms
        self.cookie = cookie
        self._text: str | None = None
        self._json: Any = self._UNSET

    @property
    def text(self) -> str:
        """The body as text, the same on both clients: in the charset the ``Content-Type`` declares
        when Python knows it, else UTF-8 (bytes that are not valid become U+FFFD)."""
        if self._text is None:
            self._text = decode_body(self._raw.content or b"", self.header("Content-Type"))
        return self._text

    def json(self) -> Any:
        """The parsed JSON body; raises :class:`NotJson` (cached) when it is not JSON."""
        document = self._json
        if document is self._UNSET:
            document = self._json = self._parse()
        if type(document) is NotJson:
            raise document
        return document

    def _parse(self) -> Any:
        """JSON is UTF-8 (RFC 8259; UTF-16/32 are recognised too): the bytes are parsed as they are,
        without decoding them to text first. Bytes that are not UTF-8 are read in the charset the
        response declares."""
        content = self._raw.content or b""
        try:
            if content[:1] in b"{[" and content[1:2] != b"\x00":  # an object or array in UTF-8, as json.loads
                return _json.loads(content.decode("utf-8", "surrogatepass"))  # would tell: without its detection
            return _json.loads(content)
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

    def template_headers(self) -> Any:
        """The headers as templates see them: a case-insensitive mapping, a repeated header joined
        with ``, `` (``a, b``) on both clients, as python-requests gives it."""
        headers = self.headers
        merged = getattr(headers, "itermerged", None)  # geventhttpclient: a repeated header as a list
        return headers if merged is None else CaseInsensitiveDict(merged())

    def template_names(self) -> dict[str, Any]:
        """The response as templates in ``expect``, ``until`` and a save's ``default`` see it."""
        try:
            document = self.json()
        except NotJson:
            document = None
        return {
            "status": self.status,
            "headers": self.template_headers(),
            "json": document,
            "body": self.text,
            "elapsed_ms": self.elapsed_ms,
        }

    def header(self, name: str) -> str | None:
        return header_value(self._raw.headers, name)


def header_value(headers: Any, name: str) -> str | None:
    """One header of a client's response headers (None when absent), a repeated one as ``a, b``."""
    value = headers.get(name) if headers is not None else None
    if value is None:
        return None
    if isinstance(value, list):  # geventhttpclient: a repeated header as a list
        return ", ".join(value)
    return str(value)


def decode_body(content: bytes, content_type: str | None) -> str:
    """Response bytes as text: the declared charset when known, else UTF-8 with errors replaced."""
    charset = "utf-8"
    if content_type and "charset=" in content_type.lower():
        declared = content_type.lower().split("charset=", 1)[1].split(";", 1)[0].strip().strip("\"'")
        with contextlib.suppress(LookupError):
            charset = codecs.lookup(declared).name
    return content.decode(charset, errors="replace")
