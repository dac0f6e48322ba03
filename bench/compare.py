"""Does the engine cost load-generation capacity? The engine against hand-written Locust users, side by side.

Run it from the repository root::

    python bench/compare.py                 # the full benchmark, a few minutes
    python bench/compare.py --smoke         # a very short run (CI): the same output, no meaningful figures
    python bench/compare.py --runs 7 --seconds 8

Both sides run the same journey against a static JSON API (``bench/target.py``,
a separate process on 127.0.0.1, port 0): log in and save the token; list the
products and save a random id; open that product; post it to the cart with the
token. ``bench/handwritten.py`` is the journey as a careful author writes it
(HttpUser and FastHttpUser), ``bench/journey.yaml`` the same as a scenario
(``client: http`` and ``client: fast``), loaded with ``engine.load.load_plan``.

Primary figure: CPU per request, measured side by side. Separate runs cannot
resolve small differences (absolute req/s drift up to 2.2x between runs on this
kind of machine), and counting the requests of classes that run together says
nothing (they share one CPU, so they all get the same rate). So, per client, one
Locust Environment + LocalRunner runs three classes at the same time, ``--users``
users each, wait 0: the hand-written class, the engine's class, and a copy of the
hand-written class (the A/A control). A ``greenlet.settrace`` callback charges the
time between two greenlet switches to the class of the user whose greenlet was
running (a user's greenlet is ``group.spawn(run_user, user)``: ``args[0]`` is the
user); the callback's own time is charged to nobody, nor is the hub's. A request
listener counts each class's requests. After ``--warmup`` seconds, ``--seconds``
seconds are measured. Per class: busy microseconds per request.

Two refinements keep the A/A control within a few per cent on a busy machine
(``--clock perf --gc charge`` turns both off):

* ``--clock thread`` (default): the time is the thread's CPU time, so that the
  moments when the OS runs other processes are charged to nobody (with
  perf_counter they go to whichever class happened to be running);
* ``--gc share`` (default): garbage-collector pauses are set aside instead of
  being charged to the greenlet that happened to trigger them (one full
  collection can take 100 ms, a tenth of a class's busy time in a run), and are
  shared out in proportion to each class's net allocations of tracked objects,
  which is what triggers collections.

Two journeys run this way: ``bench/journey.yaml`` (the one above) and
``bench/realistic.yaml``, written the way the README teaches (session headers with
the token, a saved price sent back in a templated JSON body, a checkout), each
beside its hand-written twin in ``bench/handwritten.py``.

``ratio`` is engine / hand-written CPU per request (1.00: the engine costs
nothing; 1.05: 5 % more CPU per request), ``control`` is copy / hand-written,
which should be 1.00: a run whose control leaves 0.95-1.05 is flagged unreliable
and left out of the medians, unless every run is. ``--runs`` runs per journey and
client, alternating; each run is printed. The summary is one line per journey and
client, with the median and the min-max of the runs::

    journey=realistic client=fast cpu_us_per_request handwritten=… engine=… ratio=1.043 (engine/handwritten;
    runs 1.021-1.067) control=1.001 (0.987-1.012) unreliable_runs=k/n

Secondary view (lines starting with ``secondary``): requests per second of
separate runs, one class alone, in alternating order (hand-written, engine, ...);
only differences above ~15-25 % mean anything there.

Memory (lines starting with ``memory``): 1,000 users (``--memory-users``) with a
wait between 60 and 61 s (they run their journey once, then sleep), each side in
its own process (``--memory-child handwritten|engine --client X``): the whole
process's peak RSS (VmHWM), imports included: the hand-written side's process never
imports the engine, the engine's imports it and loads the scenario (the growth
after imports is printed beside it). Users start at 200 per second (``--memory-spawn-rate``), slowly enough
for each to finish its journey before many more start: the peak is that of
sleeping users, not of a backlog of users in mid-journey, whose size would depend
on the CPU speed of each side. Then the figure behind it, deterministic: the
deepest point of each side's Python frames under Locust's client request, in bytes and 4 KiB
pages of the greenlet's data stack (``bench/frames.py``); each page touched there
stays resident while the user sleeps, 4 MiB per 1,000 users::

    memory client=fast deepest_frames_bytes handwritten=3488 (1 page) engine=3576 (1 page)

Load time (lines starting with ``load``): validate + compile (``load_plan``) of
scenarios/shop.yaml, scenarios/inventory.yaml and generated scenarios of 1,000
and 5,000 request steps (10 journeys x 100 or 500 steps, with templates, saves
and expects), with the time per step (the same for both when loading is linear);
every load printed (CPU/wall seconds), and their medians. The budget is judged on
CPU time, which other work on the machine leaves alone (on an idle machine the
two are the same: a load is single-threaded and reads a few small files). The
first load of a file in the process is the cold one that ``locust -f`` sees.

Budget (lines starting with ``budget``), each ``met`` or ``MISSED``: engine CPU
per request at most 1.03x hand-written for both journeys and both clients, met only
when the median ratio is within it and the A/A control's median is within its band; whole-process
peak memory at most 1.05x; a generated scenario loads in under 0.5 s of CPU per 1,000 steps; each flagship scenario
in under 0.3 s. The exit code is 0 whatever the figures (1 on a broken run).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import greenlet
import locust  # monkey-patches the standard library for gevent
from locust import User, between, constant
from locust.env import Environment

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.frames import deepest_point  # noqa: E402
from bench.handwritten import HandwrittenFast, HandwrittenHttp, RealisticFast, RealisticHttp  # noqa: E402
from bench.serve import target_server  # noqa: E402

# The engine is imported where it is used (engine_class, time_loads), so that the memory test's hand-written side
# is a process that never imported it: the memory budget is on whole processes.

CLIENTS = ("http", "fast")
HANDWRITTEN: dict[str, type[User]] = {"http": HandwrittenHttp, "fast": HandwrittenFast}
ENGINE_CLASS = {"http": "EngineHttp", "fast": "EngineFast"}
REQUESTS_PER_JOURNEY = 4
JOURNEY = ROOT / "bench" / "journey.yaml"


@dataclass(frozen=True)
class BenchJourney:
    """One journey of the side-by-side runs: its scenario and its hand-written classes."""

    name: str
    scenario: Path
    handwritten: dict[str, type[User]]


JOURNEYS = (
    BenchJourney("bench", JOURNEY, HANDWRITTEN),
    BenchJourney("realistic", ROOT / "bench" / "realistic.yaml", {"http": RealisticHttp, "fast": RealisticFast}),
)
FLAGSHIPS = (ROOT / "scenarios" / "shop.yaml", ROOT / "scenarios" / "inventory.yaml")
CONTROL_RANGE = (0.95, 1.05)
CPU_RATIO_MAX = 1.03  # engine CPU per request / hand-written
MEMORY_RATIO_MAX = 1.05  # whole-process peak RSS, engine / hand-written
GENERATED_LOAD_MAX = 0.5  # CPU seconds per 1,000 generated steps: the budget is linear in the size
GENERATED_STEPS = (1000, 5000)
FLAGSHIP_LOAD_MAX = 0.3


def say(text: str = "") -> None:
    print(text, flush=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- the target ---------------------------------------------------------------------------------------------------


# --- the user classes ---------------------------------------------------------------------------------------------


_plan_modules = itertools.count(1)


def engine_class(client: str, scenario: Path = JOURNEY) -> type[User]:
    """The engine's user class for ``client``, from a fresh load of ``scenario`` (bench/journey.yaml)."""
    from engine.load import load_plan

    plan = load_plan(scenario, module=f"bench_journey_{next(_plan_modules)}")
    cls: type[User] = plan.user_classes[ENGINE_CLASS[client]]
    return cls


def prepare(classes: list[type[User]], host: str, wait: Callable[..., float], fixed_count: int = 0) -> None:
    for cls in classes:
        cls.host = host
        cls.wait_time = wait
        cls.fixed_count = fixed_count
        cls.weight = 1


# --- the meter ----------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    busy: float = 0.0  # seconds, garbage collection included when the meter shares it out
    requests: int = 0
    failures: int = 0
    allocated: int = 0  # net new objects tracked by the garbage collector (what triggers collections)
    switches: int = 0  # greenlet switches away from this class's greenlets

    @property
    def us_per_request(self) -> float:
        return self.busy / self.requests * 1e6 if self.requests else float("nan")


OTHER = "other"  # the hub, the runner's greenlets


class Meter:
    """Busy time and requests per class of user, for the users of one Environment.

    Every greenlet switch charges the time since the previous switch to the class
    of the user whose greenlet was running (the hub and the runner's greenlets go
    to ``other``); the tracer's own time is charged to nobody. With ``share_gc``
    the pauses of the garbage collector are set aside instead of being charged to
    whichever greenlet happened to trigger them (one full collection can take
    100 ms, a tenth of a class's busy time in a run), and are shared out at the
    end in proportion to each class's net allocations of tracked objects, which
    is what triggers collections.
    """

    def __init__(
        self, labels: dict[type, str], clock: Callable[[], float] = time.perf_counter, share_gc: bool = False
    ) -> None:
        self.labels = labels
        self.clock = clock
        self.share_gc = share_gc
        self.tallies = {label: Tally() for label in [*labels.values(), OTHER]}
        self.owners: dict[Any, Tally] = {}
        self.active = False
        self.last = 0.0
        self.count = 0  # the garbage collector's young-generation count at the last switch
        self.interval_allocated = 0  # allocations of the running greenlet before a collection
        self.paused = 0.0  # collection pauses of the running greenlet, set aside
        self.gc_started = 0.0
        self.gc_total = 0.0
        self.previous_tracer: Any = None

    def tally_of(self, glet: Any) -> Tally:
        try:
            return self.owners[glet]
        except KeyError:
            args = getattr(glet, "args", None)
            user = args[0] if args else None
            label = self.labels.get(type(user), OTHER) if isinstance(user, User) else OTHER
            self.owners[glet] = tally = self.tallies[label]
            return tally

    def trace(self, event: str, args: Any) -> None:
        now = self.clock()
        if event == "switch" or event == "throw":
            tally = self.tally_of(args[0])
            tally.busy += now - self.last - self.paused
            tally.switches += 1
            count = gc.get_count()[0]
            tally.allocated += self.interval_allocated + count - self.count
            self.count, self.interval_allocated, self.paused = count, 0, 0.0
        self.last = self.clock()

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.interval_allocated += gc.get_count()[0] - self.count
            self.gc_started = self.clock()
        else:
            pause = self.clock() - self.gc_started
            self.paused += pause
            self.gc_total += pause
            self.count = gc.get_count()[0]

    def on_request(self, exception: Any = None, **_: Any) -> None:
        if self.active:
            tally = self.tally_of(greenlet.getcurrent())
            tally.requests += 1
            if exception is not None:
                tally.failures += 1

    def start(self) -> None:
        self.active = True
        if self.share_gc:
            gc.callbacks.append(self.on_gc)
        self.count = gc.get_count()[0]
        self.last = self.clock()
        self.previous_tracer = greenlet.settrace(self.trace)

    def stop(self) -> None:
        greenlet.settrace(self.previous_tracer)
        self.active = False
        if self.share_gc:
            gc.callbacks.remove(self.on_gc)
            allocated = {label: max(t.allocated, 0) for label, t in self.tallies.items()}
            total = sum(allocated.values())
            for label, tally in self.tallies.items():
                tally.busy += self.gc_total * allocated[label] / total if total else 0.0


def run_users(classes: list[type[User]], meter: Meter, users: int, warmup: float, seconds: float) -> float:
    """Spawn ``users`` users of ``classes`` in a fresh Environment; measure ``seconds`` after ``warmup``.

    Returns the measured wall time.
    """
    env = Environment(user_classes=classes, host=classes[0].host)
    env.events.request.add_listener(meter.on_request)
    runner = env.create_local_runner()
    try:
        runner.start(users, spawn_rate=max(users, 100))
        deadline = time.monotonic() + 30
        while runner.user_count < users and time.monotonic() < deadline:
            gevent.sleep(0.05)
        gevent.sleep(warmup)
        started = time.perf_counter()
        meter.start()
        try:
            gevent.sleep(seconds)
        finally:
            meter.stop()
        return time.perf_counter() - started
    finally:
        runner.quit()


# --- primary: CPU per request, side by side ------------------------------------------------------------------------


@dataclass
class SideBySide:
    client: str
    tallies: dict[str, Tally]
    gc_seconds: float

    @property
    def ratio(self) -> float:
        """Engine / hand-written CPU per request: 1.00 is no overhead, 1.05 is 5 % more CPU per request."""
        return self.tallies["engine"].us_per_request / self.tallies["handwritten"].us_per_request

    @property
    def control(self) -> float:
        """The A/A control: the hand-written class's copy / the hand-written class (1.00 when the meter is fair)."""
        return self.tallies["control"].us_per_request / self.tallies["handwritten"].us_per_request

    @property
    def reliable(self) -> bool:
        return CONTROL_RANGE[0] <= self.control <= CONTROL_RANGE[1]

    @property
    def failures(self) -> int:
        return sum(t.failures for t in self.tallies.values())


def side_by_side(client: str, host: str, args: argparse.Namespace, journey: BenchJourney = JOURNEYS[0]) -> SideBySide:
    handwritten = journey.handwritten[client]
    control: type[User] = type(f"{handwritten.__name__}Control", (handwritten,), {"__module__": __name__})
    engine = engine_class(client, journey.scenario)
    classes: list[type[User]] = [handwritten, engine, control]
    prepare(classes, host, constant(0), fixed_count=args.users)
    clock = time.thread_time if args.clock == "thread" else time.perf_counter
    meter = Meter({handwritten: "handwritten", engine: "engine", control: "control"}, clock, args.gc == "share")
    run_users(classes, meter, args.users * len(classes), args.warmup, args.seconds)
    return SideBySide(client, meter.tallies, meter.gc_total)


def primary(host: str, args: argparse.Namespace) -> dict[tuple[str, str], list[SideBySide]]:
    say(
        f"primary: CPU per request, side by side in one process ({args.users} users per class, wait 0, "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s measured, {args.runs} runs per journey and client, "
        f"clock={args.clock}); ratio = engine / hand-written"
    )
    journeys = [j for j in JOURNEYS if args.journey in (None, j.name)]
    clients = [c for c in CLIENTS if args.client in (None, c)]
    results: dict[tuple[str, str], list[SideBySide]] = {(j.name, c): [] for j in journeys for c in clients}
    for run in range(1, args.runs + 1):
        pairs = [(journey, client) for journey in journeys for client in clients]
        for journey, client in pairs if run % 2 else pairs[::-1]:
            result = side_by_side(client, host, args, journey)
            results[journey.name, client].append(result)
            t = result.tallies
            say(
                f"  run {run}/{args.runs} {journey.name} {client}: "
                f"us/request handwritten={t['handwritten'].us_per_request:.1f} "
                f"engine={t['engine'].us_per_request:.1f} control={t['control'].us_per_request:.1f} "
                f"ratio={result.ratio:.3f} control={result.control:.3f}"
                f"{'' if result.reliable else ' unreliable'} requests="
                f"{t['handwritten'].requests}/{t['engine'].requests}/{t['control'].requests} "
                f"failures={result.failures} gc={result.gc_seconds * 1000:.0f}ms"
            )
    return results


@dataclass
class Summary:
    """One journey and client over its runs: medians, spreads and whether the A/A control held."""

    journey: str
    client: str
    ratio: float
    ratio_range: tuple[float, float]
    control: float
    control_range: tuple[float, float]
    handwritten_us: float
    engine_us: float
    unreliable: int
    runs: int

    @property
    def control_held(self) -> bool:
        return CONTROL_RANGE[0] <= self.control <= CONTROL_RANGE[1]

    @property
    def met(self) -> bool:
        """The budget holds: the median ratio meets it and the A/A control's median is within its band."""
        return self.ratio <= CPU_RATIO_MAX and self.control_held

    def line(self) -> str:
        return (
            f"journey={self.journey} client={self.client} cpu_us_per_request handwritten={self.handwritten_us:.1f} "
            f"engine={self.engine_us:.1f} ratio={self.ratio:.3f} (engine/handwritten; runs "
            f"{self.ratio_range[0]:.3f}-{self.ratio_range[1]:.3f}) control={self.control:.3f} "
            f"({self.control_range[0]:.3f}-{self.control_range[1]:.3f}) unreliable_runs={self.unreliable}/{self.runs}"
        )


def summarize(journey: str, client: str, runs: list[SideBySide]) -> Summary:
    """Medians over the reliable runs (or all, when none is), with the min-max of every run."""
    kept = [r for r in runs if r.reliable] or runs
    ratios, controls = [r.ratio for r in runs], [r.control for r in runs]
    return Summary(
        journey,
        client,
        ratio=median([r.ratio for r in kept]),
        ratio_range=(min(ratios), max(ratios)),
        control=median([r.control for r in kept]),
        control_range=(min(controls), max(controls)),
        handwritten_us=median([r.tallies["handwritten"].us_per_request for r in kept]),
        engine_us=median([r.tallies["engine"].us_per_request for r in kept]),
        unreliable=sum(not r.reliable for r in runs),
        runs=len(runs),
    )


# --- secondary: requests per second of separate runs ---------------------------------------------------------------


def throughput(cls: type[User], host: str, users: int, warmup: float, seconds: float) -> tuple[float, int]:
    """Requests per second of ``users`` users of ``cls`` alone, and their failures."""
    prepare([cls], host, constant(0))
    meter = Meter({cls: "alone"})
    meter.active = True
    env = Environment(user_classes=[cls], host=host)
    env.events.request.add_listener(meter.on_request)
    runner = env.create_local_runner()
    try:
        runner.start(users, spawn_rate=max(users, 100))
        gevent.sleep(warmup)
        before = meter.tallies["alone"].requests
        started = time.perf_counter()
        gevent.sleep(seconds)
        done = meter.tallies["alone"].requests - before
        elapsed = time.perf_counter() - started
    finally:
        runner.quit()
    return done / elapsed, meter.tallies["alone"].failures


def secondary(host: str, args: argparse.Namespace) -> None:
    say(
        f"secondary: requests/s of separate runs, alternating hand-written and engine ({args.users} users, "
        f"{args.secondary_seconds:g} s each, {args.secondary_runs} runs each); drift between runs is large"
    )
    for client in CLIENTS:
        rates: dict[str, list[float]] = {"handwritten": [], "engine": []}
        failures = 0
        for _ in range(args.secondary_runs):
            for kind in rates:
                cls = HANDWRITTEN[client] if kind == "handwritten" else engine_class(client)
                rate, failed = throughput(cls, host, args.users, args.warmup, args.secondary_seconds)
                rates[kind].append(rate)
                failures += failed
        hand, engine = median(rates["handwritten"]), median(rates["engine"])
        say(
            f"secondary client={client} separate_runs_rps handwritten={hand:.0f} engine={engine:.0f} "
            f"ratio={engine / hand:.3f} (engine/handwritten) "
            f"runs handwritten=[{' '.join(f'{r:.0f}' for r in rates['handwritten'])}] "
            f"engine=[{' '.join(f'{r:.0f}' for r in rates['engine'])}] failures={failures}"
        )


# --- memory ---------------------------------------------------------------------------------------------------------


def proc_status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise LookupError(key)


def memory_child(kind: str, client: str, host: str, users: int, spawn_rate: float) -> None:
    """In a process of its own: ``users`` mostly sleeping users; prints one JSON line with the figures."""
    gc.collect()
    baseline = proc_status_kib("VmRSS")
    cls = HANDWRITTEN[client] if kind == "handwritten" else engine_class(client)
    if kind == "engine":
        from engine.load import settle

        settle()  # as the engine's locustfile does after loading
    loaded = proc_status_kib("VmRSS")
    prepare([cls], host, between(60, 61))
    meter = Meter({cls: kind})
    meter.active = True
    env = Environment(user_classes=[cls], host=host)
    env.events.request.add_listener(meter.on_request)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=spawn_rate)
    tally = meter.tallies[kind]
    deadline = time.monotonic() + 60 + users / spawn_rate
    while tally.requests < users * REQUESTS_PER_JOURNEY and time.monotonic() < deadline:
        gevent.sleep(0.1)
    gevent.sleep(0.5)
    figures = {
        "kind": kind,
        "client": client,
        "users": runner.user_count,
        "requests": tally.requests,
        "failures": tally.failures,
        "baseline_kib": baseline,
        "loaded_kib": loaded,
        "peak_kib": proc_status_kib("VmHWM"),
        "settled_kib": proc_status_kib("VmRSS"),
    }
    print(json.dumps(figures), flush=True)
    runner.quit()


REQUEST_FRAME = {"fast": "request at fasthttp.py", "http": "request at clients.py"}  # Locust's client.request


def pages(count: int) -> str:
    return f"{count} page" + ("s" if count != 1 else "")


def memory(host: str, args: argparse.Namespace) -> dict[str, float]:
    say(f"memory: {args.memory_users} users waiting 60-61 s between journeys, each side in its own process")
    ratios = {}
    for client in CLIENTS:
        growth: dict[str, float] = {}
        peak: dict[str, float] = {}
        for kind in ("handwritten", "engine"):
            command = [sys.executable, __file__, "--memory-child", kind, "--client", client, "--host", host]
            command += ["--memory-users", str(args.memory_users), "--memory-spawn-rate", str(args.memory_spawn_rate)]
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
            lines = done.stdout.strip().splitlines()
            if done.returncode != 0 or not lines:
                raise RuntimeError(f"memory child {kind}/{client} failed:\n{done.stderr[-2000:]}")
            figures = json.loads(lines[-1])
            growth[kind] = (figures["peak_kib"] - figures["baseline_kib"]) / 1024
            peak[kind] = figures["peak_kib"] / 1024
            say(
                f"  memory {client} {kind}: after imports={figures['baseline_kib'] / 1024:.1f} MiB, "
                f"+{(figures['loaded_kib'] - figures['baseline_kib']) / 1024:.1f} MiB loading the user class, "
                f"peak={figures['peak_kib'] / 1024:.1f} MiB, "
                f"settled (users asleep)={figures['settled_kib'] / 1024:.1f} MiB; users={figures['users']} "
                f"requests={figures['requests']} failures={figures['failures']}"
            )
        ratio = peak["engine"] / peak["handwritten"]
        ratios[client] = ratio
        say(
            f"memory client={client} users={args.memory_users} peak_rss_mib (whole process) "
            f"handwritten={peak['handwritten']:.1f} engine={peak['engine']:.1f} ratio={ratio:.3f}; "
            f"growth after imports handwritten={growth['handwritten']:.1f} engine={growth['engine']:.1f}"
        )
    for client in CLIENTS:
        within = REQUEST_FRAME[client]
        hand = deepest_point(HANDWRITTEN[client], host, within=within)
        engine = deepest_point(engine_class(client), host, within=within)
        say(
            f"memory client={client} deepest_frames_bytes handwritten={hand.bytes} ({pages(hand.pages)}) "
            f"engine={engine.bytes} ({pages(engine.pages)})"
        )
    return ratios


# --- load time ------------------------------------------------------------------------------------------------------


def generated_scenario(journeys: int = 10, steps: int = 100) -> str:
    """A scenario of ``journeys`` x ``steps`` request steps, with templates, saves and expects."""
    out = [
        "version: 1",
        "name: generated",
        "host: http://127.0.0.1:8080",
        "vars:",
        "  username: bench",
        "  password: secret",
        "users:",
        "  Generated:",
        "    client: fast",
        "    journeys:",
    ]
    login = [
        "- post: /login",
        '  json: {username: "{{ username }}", password: "{{ password }}"}',
        "  expect: {status: 200}",
        "  save: {token: $.token}",
    ]
    listing = [
        "- get: /products",
        '  params: {page: "{{ randint(1, 5) }}", limit: 20}',
        '  expect: {status: 200, json: {"$": {type: array, min_length: 1}}}',
        '  save: {product_id: {jsonpath: "$[*].id", pick: random}}',
    ]
    for j in range(journeys):
        out += [f"      journey_{j}:", f"        weight: {j + 1}", "        steps:"]
        for s in range(steps):
            if s % 4 == 0:
                step = login
            elif s % 4 == 1:
                step = listing
            elif s % 4 == 2:
                step = [
                    "- get: /products/{{ product_id }}",
                    f"  name: product {s}",
                    '  expect: {status: 200, json: {"$.id": "{{ product_id }}", "$.price": {gt: 0}}}',
                    f"  save: {{price_{s}: $.price}}",
                ]
            else:
                step = [
                    "- post: /cart",
                    f'  headers: {{Authorization: "Bearer {{{{ token }}}}", X-Step: "j{j}-s{s}-{{{{ uuid() }}}}"}}',
                    f'  json: {{product_id: "{{{{ product_id }}}}", quantity: "{{{{ randint(1, 3) }}}}", '
                    f'price: "{{{{ price_{s - 1} }}}}"}}',
                    '  expect: {status: 200, json: {"$.ok": true}}',
                ]
            out += ["          " + line for line in step]
    return "\n".join(out) + "\n"


_load_modules = itertools.count(1)


def time_loads(path: Path, repeats: int) -> list[tuple[float, float]]:
    """``repeats`` loads of ``path``: (CPU seconds, wall seconds) of each."""
    from engine.load import load_plan

    times = []
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        load_plan(path, module=f"bench_load_{next(_load_modules)}")
        times.append((time.process_time() - cpu, time.perf_counter() - wall))
    return times


def load_times(args: argparse.Namespace) -> dict[str, float]:
    """Median CPU seconds of a load, per scenario (wall time is printed too; CPU time is what other work
    on the machine leaves alone, and equals wall time on an idle one)."""
    say(f"load: validate + compile (load_plan), {args.load_repeats} loads each, CPU/wall seconds")
    medians = {}
    with tempfile.TemporaryDirectory() as folder:
        scenarios = [(p, str(p.relative_to(ROOT))) for p in FLAGSHIPS]
        for steps in GENERATED_STEPS:
            generated = Path(folder) / f"generated_{steps}_steps.yaml"
            generated.write_text(generated_scenario(steps=steps // 10), encoding="utf-8")
            scenarios.append((generated, f"generated-{steps}-steps"))
        for path, label in scenarios:
            times = time_loads(path, args.load_repeats)
            medians[label] = median([cpu for cpu, _ in times])
            steps = int(label.split("-")[1]) if label.startswith("generated") else 0
            say(
                f"load {label} cpu_median={medians[label]:.3f} s wall_median={median([w for _, w in times]):.3f} s "
                f"loads=[{' '.join(f'{cpu:.3f}/{wall:.3f}' for cpu, wall in times)}]"
                + (
                    f" ({path.read_text().count(chr(10))} lines, {medians[label] / steps * 1000:.3f} ms/step)"
                    if steps
                    else ""
                )
            )
    return medians


# --- main -----------------------------------------------------------------------------------------------------------


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a very short run (CI): checks that it works")
    parser.add_argument("--runs", type=positive, default=5, help="side-by-side runs per client (default 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per side-by-side run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring (default 1)")
    parser.add_argument("--users", type=positive, default=10, help="users per class (default 10)")
    parser.add_argument(
        "--clock", choices=["thread", "perf"], default="thread", help="thread CPU time (default) or perf_counter"
    )
    parser.add_argument(
        "--gc", choices=["share", "charge"], default="share", help="share out collections (default) or charge them"
    )
    parser.add_argument("--secondary-runs", type=positive, default=3, help="separate runs per side and client")
    parser.add_argument("--secondary-seconds", type=float, default=3.0, help="measured seconds per separate run")
    parser.add_argument("--memory-users", type=positive, default=1000, help="users of the memory test (default 1000)")
    parser.add_argument(
        "--memory-spawn-rate",
        type=float,
        default=200,
        help="users started per second in the memory test (default 200: each finishes its journey before many "
        "more start, so the peak is that of sleeping users, not of a backlog that depends on CPU speed)",
    )
    parser.add_argument("--load-repeats", type=positive, default=5, help="loads per scenario (default 5)")
    parser.add_argument("--pin", type=int, metavar="CPU", help="pin this process to CPU, the target to the others")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["primary", "secondary", "memory", "load"],
        help="leave out a part (repeatable)",
    )
    parser.add_argument("--memory-child", choices=["handwritten", "engine"], help=argparse.SUPPRESS)
    parser.add_argument("--journey", choices=[j.name for j in JOURNEYS], help="only this journey (default: both)")
    parser.add_argument("--client", choices=CLIENTS, help="only this client in the side-by-side runs (default: both)")
    parser.add_argument("--host", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.seconds, args.warmup = 1, 1.0, 0.5
        args.secondary_runs, args.secondary_seconds = 1, 0.5
        args.memory_users, args.load_repeats = 100, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.client, args.host, args.memory_users, args.memory_spawn_rate)
        return 0
    cpus = None
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
        cpus = (set(range(os.cpu_count() or 1)) - {args.pin}) or None
    started = time.monotonic()
    say(
        f"bench: python {platform.python_version()}, locust {locust.__version__}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        + (f", pinned to CPU {args.pin}" if args.pin is not None else "")
        + (" (smoke run: figures are not meaningful)" if args.smoke else "")
    )
    with target_server(cpus) as host:
        summaries: list[Summary] = []
        broken = False
        if "primary" not in args.skip:
            results = primary(host, args)
            for (journey, client), runs in results.items():
                summaries.append(summarize(journey, client, runs))
                say(summaries[-1].line())
            broken = any(r.failures for runs in results.values() for r in runs)
        if "secondary" not in args.skip:
            secondary(host, args)
        memory_ratios = memory(host, args) if "memory" not in args.skip else {}
    loads = load_times(args) if "load" not in args.skip else {}

    say("budget (engine vs hand-written):")
    for summary in summaries:
        control = "" if summary.control_held else f", but the A/A control {summary.control:.3f} left its band"
        say(
            f"budget cpu journey={summary.journey} client={summary.client}: engine/handwritten us per request "
            f"median {summary.ratio:.3f} <= {CPU_RATIO_MAX}{control} {verdict(summary.met)}"
        )
    for client, ratio in memory_ratios.items():
        say(
            f"budget memory client={client}: engine/handwritten {ratio:.3f} <= {MEMORY_RATIO_MAX} "
            f"{verdict(ratio <= MEMORY_RATIO_MAX)}"
        )
    for label, seconds in loads.items():
        steps = int(label.split("-")[1]) if label.startswith("generated") else 0
        limit = GENERATED_LOAD_MAX * steps / 1000 if steps else FLAGSHIP_LOAD_MAX  # linear: 0.5 s per 1,000 steps
        say(f"budget load {label}: {seconds:.3f} s (CPU) < {limit:g} s {verdict(seconds < limit)}")
    if broken:
        say("ERROR: requests failed during the side-by-side runs: the journey is broken, the figures are not valid")
    say(f"bench: done in {time.monotonic() - started:.0f} s")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
