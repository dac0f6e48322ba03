"""The clients' cookie jars: the usual ones, minus their work when there is nothing to do.

geventhttpclient asks its jar for a ``Cookie`` header before every request, and
both clients hand their session's jar every response. With no cookie stored, or
no ``Set-Cookie`` in a response, :class:`http.cookiejar.CookieJar` still takes
its lock, reads the clock and walks its policy: 7-8 % of the CPU of a request on
``client: fast``. These jars skip exactly those calls, whose outcome is known to
be nothing; every other call is the usual one.
"""

from __future__ import annotations

import email.message
import http.cookiejar
import threading
from typing import Any

from requests.cookies import RequestsCookieJar


class _Quiet(http.cookiejar.CookieJar):
    def add_cookie_header(self, request: Any) -> None:
        if self._cookies:  # type: ignore[attr-defined]
            super().add_cookie_header(request)

    def extract_cookies(self, response: Any, request: Any) -> None:
        if _sets_cookies(response.info()):
            super().extract_cookies(response, request)


def _sets_cookies(headers: Any) -> bool:
    """Whether response headers may set a cookie (``Set-Cookie`` or ``Set-Cookie2``, in any case)."""
    if isinstance(headers, email.message.Message):  # http.client's: ``in`` would lower-case a list of every name
        names = set(map(str.lower, headers.keys()))
        return "set-cookie" in names or "set-cookie2" in names
    return "set-cookie" in headers or "set-cookie2" in headers  # geventhttpclient's: names are kept lower-case


POLICY = http.cookiejar.DefaultCookiePolicy()
"""The default policy, one for every user's jar (a jar sets the policy's clock just before each use, and users are
greenlets: nothing switches in between); a policy per user would cost 0.2 MiB per 1,000 users."""


LOCK = threading.RLock()
"""One lock for every user's jar, for the same reason: a jar holds it only for work that never switches greenlets."""


class CookieJar(_Quiet):
    """The fast client's jar (its session's and its agent's)."""

    def __init__(self, policy: http.cookiejar.CookiePolicy = POLICY) -> None:
        super().__init__(policy)
        self._cookies_lock = LOCK


class SessionCookieJar(_Quiet, RequestsCookieJar):
    """The http client's session jar (python-requests)."""

    def __init__(self, policy: http.cookiejar.CookiePolicy = POLICY) -> None:
        super().__init__(policy)
        self._cookies_lock = LOCK
