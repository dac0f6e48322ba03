"""A deadline for each template evaluation: a runaway template fails its step instead of freezing the run.

Rendering is pure Python inside the gevent loop: while a template runs, no other user, timer,
``-t`` or signal handler can. A watchdog OS thread (not a greenlet) looks at which evaluation
is running; when one has run longer than its limit, it asks the main thread, through Python's
signal machinery (``_thread.interrupt_main``, no OS signal is sent), to raise
:class:`TemplateTimeout` there. The handler raises only if that same evaluation is still
running, so the exception can never land anywhere else.

An evaluation costs two attribute writes; the watchdog wakes 20 times a second.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import time
from types import FrameType
from typing import Any

from engine.sandbox import TemplateLimit

_SIGNAL = getattr(signal, "SIGURG", signal.SIGINT)  # ignored by default: borrowing it changes nothing
_TICK = 0.05


class TemplateTimeout(TemplateLimit):
    """A template evaluation ran longer than its limit."""


def _original(module: str, name: str, default: Any) -> Any:
    """The function gevent's monkey-patching replaced, if it did (the watchdog needs real threads)."""
    if "gevent.monkey" in sys.modules:
        from gevent import monkey

        return monkey.get_original(module, name)
    return default


class Deadline:
    """The running evaluation (``busy``, a sequence number, 0 for none) and its limit in seconds.

    One per process (:data:`WATCH`): evaluations run one at a time in the main thread. A renderer
    opens an evaluation with ``WATCH.limit = ...; WATCH.seq += 1; WATCH.busy = WATCH.seq`` and
    closes it with ``WATCH.busy = 0``, after calling :meth:`watch` once if ``watching`` is False.
    """

    def __init__(self) -> None:
        self.limit = 0.0
        self.seq = 0
        self.busy = 0
        self.fired = 0
        self.watching = False

    def watch(self) -> None:
        """Start the watchdog (once per process; called from the thread templates run in)."""
        self.watching = True
        previous = signal.getsignal(_SIGNAL)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            if self.fired and self.fired == self.busy:
                self.fired = 0
                raise TemplateTimeout(
                    f"the template ran longer than {self.limit:g}s (raise the limit with limits: {{template_time: 5s}})"
                )
            if callable(previous):
                previous(signum, frame)

        try:
            signal.signal(_SIGNAL, on_signal)
        except ValueError:  # not the main OS thread (greenlets of the main thread are): no deadline here
            return
        start = _original("_thread", "start_new_thread", _thread.start_new_thread)
        start(self._watchdog, (os.getpid(),))

    def _watchdog(self, pid: int) -> None:
        sleep = _original("time", "sleep", time.sleep)
        seen, since = 0, time.monotonic()
        while os.getpid() == pid:
            sleep(_TICK)
            busy = self.busy
            now = time.monotonic()
            if busy != seen:
                seen, since = busy, now
            elif busy and self.limit > 0 and now - since > self.limit and self.fired != busy:
                self.fired = busy
                _thread.interrupt_main(_SIGNAL)

    def after_fork(self) -> None:
        """In a forked child the watchdog thread is gone: the next evaluation starts one."""
        self.watching = False
        self.busy = self.fired = 0


WATCH = Deadline()
os.register_at_fork(after_in_child=WATCH.after_fork)
