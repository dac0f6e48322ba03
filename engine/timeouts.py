"""Request deadlines: a step's ``timeout`` bounds the whole request, connect to last byte.

Both clients apply their timeouts to each socket operation, so a server that sends a byte
every 100 ms would hold a ``timeout: 2s`` request for as long as it likes. Here a request
registers its greenlet and its deadline in :data:`INFLIGHT` while the client runs (a clock
read and two dict operations per request); one unreferenced libev timer per process looks
every :data:`TICK` seconds for requests past their deadline and throws :class:`RequestTimeout`
into them. Both clients take that for a socket timeout: the request fails with "request timed
out after 2s" and its connection is closed. A deadline is kept to within :data:`TICK`.
"""

from __future__ import annotations

import os
from time import monotonic
from typing import Any

import gevent
from greenlet import greenlet

TICK = 0.05
INFLIGHT: dict[greenlet, float] = {}
"""The greenlet of each request on its way, and its deadline (``time.monotonic()``)."""


class RequestTimeout(TimeoutError):
    """A request's ``timeout`` passed: raised into the user's greenlet wherever the request is.

    A TimeoutError, which both clients take for a socket timeout (they report
    it as a failed request and close the connection, which is not reused).
    """


class _Watch:
    """This process's deadline timer; ``on`` is False until a request starts it."""

    on = False
    timer: Any = None


WATCH = _Watch()


def watch() -> None:
    """Start this process's deadline timer (once; again in a forked child)."""
    timer = gevent.get_hub().loop.timer(TICK, TICK, ref=False)  # never keeps the loop alive
    timer.start(_expire_overdue)
    WATCH.timer, WATCH.on = timer, True


def _expire_overdue() -> None:
    """Throw RequestTimeout into every request past its deadline (runs in the hub)."""
    if not INFLIGHT:
        return
    now = monotonic()
    for request, due in [(g, d) for g, d in INFLIGHT.items() if d <= now]:
        if INFLIGHT.get(request) is due:  # still that request: an earlier throw may have ended others
            del INFLIGHT[request]
            request.throw(RequestTimeout("request timed out"))


def _after_fork() -> None:
    WATCH.timer, WATCH.on = None, False
    INFLIGHT.clear()


os.register_at_fork(after_in_child=_after_fork)
