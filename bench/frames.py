"""How deep a user's Python frames go under a request: the figure behind idle-user memory.

Since CPython 3.11 every greenlet keeps its Python frames in a data stack of
its own (16 KiB, reserved at once, resident page by page as it is first used).
The deepest point of a journey is inside the HTTP client, under the task's
own frames; every page touched there stays resident while the user sleeps
between journeys. So a task whose frames push that point past a 4 KiB page
boundary costs 4 KiB per user more than one that stays below it: 4 MiB for
1,000 idle users.

:func:`deepest_point` runs one user of a class in-process, traces every Python
call of its greenlet (``sys.setprofile``) and returns the largest sum of frame
sizes seen, with the frames at that point. A frame's size is its slots (locals,
cells, free variables, value stack) plus the interpreter's fixed part, as CPython
3.11 lays them out: exact there, close elsewhere. What a process does once (on
its first connection) is left out. It counts bytes, not time; the path below the
client varies a little with the client's state (whether a DNS lookup hands work
to a thread, say), so :meth:`DeepestPoint.depth_at` gives the depth at a fixed frame.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any

import gevent
from locust import User, constant
from locust.env import Environment

_GENERATOR_FLAGS = 0x20 | 0x80 | 0x200  # generator, coroutine, async generator: frames kept in their objects
_FIXED_SLOTS = 8  # the interpreter's part of a frame, in pointer-sized slots (CPython 3.11)
_CHUNK_HEADER = 32  # bytes before the first frame of a greenlet's data stack
_PAGE = 4096


def frame_bytes(code: CodeType) -> int:
    """Bytes a call of ``code`` takes on the data stack (0 for generators and coroutines)."""
    if code.co_flags & _GENERATOR_FLAGS:
        return 0
    slots = len(code.co_varnames) + len(code.co_cellvars) + len(code.co_freevars) + code.co_stacksize
    return (_FIXED_SLOTS + slots) * 8


@dataclass
class DeepestPoint:
    """The largest data-stack use seen in a user greenlet, and the frames there (outermost first)."""

    bytes: int = 0
    frames: list[tuple[str, int]] = field(default_factory=list)  # (function at file:line, bytes)

    @property
    def pages(self) -> int:
        """4 KiB pages of the data stack this point touches."""
        return -(-self.bytes // _PAGE)

    def depth_at(self, name: str) -> int:
        """Bytes of the frames from the greenlet's start down to the first whose name contains ``name``, included."""
        total = _CHUNK_HEADER
        for frame, size in self.frames:
            total += size
            if name in frame:
                return total
        raise LookupError(name)

    def between(self, outer: str, inner: str) -> list[tuple[str, int]]:
        """The frames strictly between the first whose name contains ``outer`` and the next containing ``inner``."""
        names = [name for name, _ in self.frames]
        start = next(i for i, name in enumerate(names) if outer in name)
        end = next(i for i, name in enumerate(names) if i > start and inner in name)
        return self.frames[start + 1 : end]


def deepest_point(
    cls: type[User], host: str, requests: int = 12, timeout: float = 30, within: str | None = None
) -> DeepestPoint:
    """The deepest data-stack point of one user of ``cls`` running ``requests`` requests against ``host``.

    A first, untraced user runs before it: what a process does once (the
    resolver's set-up on the first connection, say) is not a cost per user.
    With ``within``, only points under a frame whose "function at file:line"
    contains it count (e.g. ``request at fasthttp.py``: under the client's request,
    leaving out what a process's logging handlers or listeners happen to do).
    """
    deepest = DeepestPoint()

    measured: list[Any] = []  # the runner whose user is measured (other users in the process are left out)

    def on_call(frame: FrameType, event: str, _: Any) -> None:
        if event != "call" or not measured or gevent.getcurrent() not in measured[0].user_greenlets:
            return
        total, chain = _CHUNK_HEADER, []
        current: FrameType | None = frame
        while current is not None:
            code = current.f_code
            size = frame_bytes(code)
            total += size
            chain.append((f"{code.co_name} at {code.co_filename.rsplit('/', 1)[-1]}:{current.f_lineno}", size))
            current = current.f_back
        if within is not None and not any(within in name for name, _ in chain):
            return
        if chain[-1][0].startswith("run_user ") and total > deepest.bytes:  # Locust's user greenlet
            deepest.bytes, deepest.frames = total, chain[::-1]

    _run_one_user(cls, host, requests, timeout, None, [])
    _run_one_user(cls, host, requests, timeout, on_call, measured)
    return deepest


def _run_one_user(cls: type[User], host: str, requests: int, timeout: float, tracer: Any, measured: list[Any]) -> None:
    done = [0]

    def on_request(**_: Any) -> None:
        done[0] += 1

    saved = (cls.host, cls.wait_time, cls.fixed_count, cls.weight)
    cls.host, cls.wait_time, cls.fixed_count, cls.weight = host, constant(0), 0, 1
    environment = Environment(user_classes=[cls], host=host)
    environment.events.request.add_listener(on_request)
    runner = environment.create_local_runner()
    measured.append(runner)
    sys.setprofile(tracer)
    try:
        runner.start(1, spawn_rate=1)
        with gevent.Timeout(timeout, TimeoutError(f"{cls.__name__} sent {done[0]} of {requests} requests")):
            while done[0] < requests:
                gevent.sleep(0.005)
    finally:
        sys.setprofile(None)
        runner.quit()
        cls.host, cls.wait_time, cls.fixed_count, cls.weight = saved
