"""Step kinds: one module each, found through one registry.

``KINDS`` lists every kind in the order a YAML step is matched against them
(the first whose keys it has builds it); ``kind_of`` finds the kind of a built
step. :func:`walk` is the one walk over nested steps (built or compiled): the
names steps define, the requests they hold, the counters and pools they use
all come from it. A new leaf kind is one module with a :class:`StepKind`, one
line in ``KINDS`` and its fragment in the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from engine.errors import Position
from engine.model import RequestStep, Step
from engine.steps import choose, feed, graphql, headers, if_, log, loop, poll, request, set_, think, use
from engine.steps.base import NotLoaded, Runner, StepKind, StepProgram, StopRequested, label, run_steps, truthy
from engine.steps.header_merge import HeaderPlan, merge_headers
from engine.steps.request import RequestProgram

KINDS: tuple[StepKind[Any], ...] = (
    if_.KIND,  # an if block (``then:``); an ``if:`` on any other step is a guard on it
    loop.KIND,
    choose.KIND,
    poll.KIND,  # before request: a poll holds a method key
    use.KIND,
    feed.KIND,
    graphql.KIND,  # before request: graphql with a method key is a plain request
    request.KIND,  # before headers: a request may carry headers
    think.KIND,
    headers.KIND,
    set_.KIND,
    log.KIND,
)

_KIND_OF: dict[type, StepKind[Any]] = {}
for _kind in KINDS:
    _KIND_OF.setdefault(_kind.model, _kind)  # graphql builds a request: the request kind handles it after


def kind_of(step: Step) -> StepKind[Any]:
    """The kind of a built step."""
    return _KIND_OF[type(step)]


T = TypeVar("T")


def walk(items: Iterable[T], children: Callable[[T], Iterable[Iterable[T]]]) -> Iterator[T]:
    """Every item and, after each, everything nested in it, depth first."""
    for item in items:
        yield item
        for block in children(item):
            yield from walk(block, children)


def every_step(steps: Iterable[Step]) -> Iterator[Step]:
    """Every step, also inside blocks (not inside the fragments that ``use`` runs: those are walked once)."""
    return walk(steps, lambda step: kind_of(step).children(step))


def defined_names(steps: Iterable[Step]) -> dict[str, Position]:
    """The names a sequence of steps may save, set or feed (also inside blocks), each where first defined."""
    found: dict[str, Position] = {}
    for step in every_step(steps):
        for name, pos in kind_of(step).defines(step):
            found.setdefault(name, pos)
    return found


def requests_in(steps: Iterable[Step]) -> Iterator[RequestStep]:
    """Every request the steps send (also inside blocks and polls)."""
    for step in every_step(steps):
        yield from kind_of(step).requests(step)


def iter_requests(steps: Iterable[StepProgram]) -> Iterator[RequestProgram]:
    """Every compiled request in ``steps``, also inside blocks, polls and fragments."""
    for step in walk(steps, StepProgram.blocks):
        if isinstance(step, RequestProgram):
            yield step


__all__ = [
    "KINDS",
    "HeaderPlan",
    "NotLoaded",
    "RequestProgram",
    "Runner",
    "StepKind",
    "StepProgram",
    "StopRequested",
    "defined_names",
    "every_step",
    "iter_requests",
    "kind_of",
    "label",
    "merge_headers",
    "requests_in",
    "run_steps",
    "truthy",
    "walk",
]
