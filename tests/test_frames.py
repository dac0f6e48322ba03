"""Idle users cost no more memory than hand-written ones: the engine's frames under a request stay shallow.

Each greenlet keeps its Python frames in a data stack of its own, resident page
by page; the deepest point of a journey (inside the HTTP client) decides how many
4 KiB pages every sleeping user keeps. ``bench/frames.py`` measures that point in
bytes (deterministic: frame sizes, not time), here for the benchmark's journey
on both clients, hand-written and through the engine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.compare import HANDWRITTEN, REQUEST_FRAME, engine_class, target_server
from bench.frames import DeepestPoint, deepest_point

REQUEST = REQUEST_FRAME  # Locust's client.request, per client


@pytest.fixture(scope="module")
def bench_host() -> Iterator[str]:
    with target_server(None) as host:
        yield host


def show(point: DeepestPoint) -> str:
    return "\n".join(f"  {name} ({size} B)" for name, size in point.frames)


@pytest.mark.parametrize("client", ["fast", "http"])
def test_engine_frames_under_a_request_stay_on_the_pages_of_a_hand_written_task(bench_host: str, client: str) -> None:
    hand = deepest_point(HANDWRITTEN[client], bench_host, within=REQUEST[client])
    engine = deepest_point(engine_class(client), bench_host, within=REQUEST[client])
    both = f"hand-written:\n{show(hand)}\nengine:\n{show(engine)}"
    assert hand.pages == engine.pages == (1 if client == "fast" else 2), both
    # where the client's request starts (the deepest point below it varies with the client's state)
    assert engine.depth_at(REQUEST[client]) - hand.depth_at(REQUEST[client]) <= 128, both
    # what lies between Locust's task call and its client: the task's own frames
    assert [name.split(" at ")[0] for name, _ in hand.between("execute_task", REQUEST[client])] == ["shop", "post"]
    engine_frames = [name.split(" at ")[0] for name, _ in engine.between("execute_task", REQUEST[client])]
    assert engine_frames == ["play", "exchange"], show(engine)


def test_a_deeper_task_is_seen(bench_host: str) -> None:
    """The control: three more calls around the hand-written journey show up in bytes and frames."""
    from bench.handwritten import HandwrittenFast, shop

    def one(user: object) -> None:
        two(user)

    def two(user: object) -> None:
        three(user)

    def three(user: object) -> None:
        shop(user)

    class Deeper(HandwrittenFast):
        pass

    Deeper.tasks = [one]  # a subclass's tasks: would be added to the base's [shop], one picked at random per run

    plain = deepest_point(HandwrittenFast, bench_host, within=REQUEST["fast"])
    deeper = deepest_point(Deeper, bench_host, within=REQUEST["fast"])
    assert [name.split(" at ")[0] for name, _ in deeper.between("execute_task", "shop")] == ["one", "two", "three"]
    added = sum(size for _, size in deeper.between("execute_task", "shop"))
    assert added > 0 and deeper.depth_at("shop") - plain.depth_at("shop") == added
