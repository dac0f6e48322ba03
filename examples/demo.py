"""The one-command demo: start the demo store, run scenarios/shop.yaml headless, stop the store.

    python -m examples.demo [--seconds 30] [--users 20] [--spawn-rate 10] [--scenario FILE] [-- LOCUST ARGS]

The store listens on a free port of 127.0.0.1 and is stopped again whatever
happens; the exit code is Locust's (0 when no request failed).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY = "Demo store listening on "


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="how long to run (default 30)")
    parser.add_argument("--users", type=int, default=20, help="peak number of users (default 20)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second (default 10)")
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "shop.yaml"), help="scenario to run")
    extra: list[str] = []
    if "--" in argv:
        index = argv.index("--")
        argv, extra = argv[:index], argv[index + 1 :]
    return parser.parse_args(argv), extra


def start_store() -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m examples.demo_store --port 0`` and wait for its ready line."""
    store = subprocess.Popen(
        [sys.executable, "-m", "examples.demo_store", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert store.stdout is not None
    line = store.stdout.readline().strip()
    if not line.startswith(READY):
        stop_store(store)
        raise SystemExit(f"the demo store did not start (it said {line!r})")
    return store, line.removeprefix(READY)


def stop_store(store: subprocess.Popen[str]) -> None:
    if store.poll() is None:
        store.send_signal(signal.SIGTERM)
        try:
            store.wait(timeout=10)
        except subprocess.TimeoutExpired:
            store.kill()
            store.wait()


def main(argv: list[str] | None = None) -> int:
    args, extra = parse(sys.argv[1:] if argv is None else argv)
    store, url = start_store()
    try:
        print(
            f"Running {os.path.relpath(args.scenario)} for {args.seconds}s with {args.users} users "
            f"against the demo store at {url} ...",
            flush=True,
        )
        command = [
            sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"),
            "--scenario", args.scenario, "-H", url, "--headless",
            "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.seconds}s",
            "--only-summary", "--loglevel", "WARNING", *extra,
        ]  # fmt: skip
        return subprocess.call(command, cwd=ROOT)
    except KeyboardInterrupt:
        return 130
    finally:
        stop_store(store)


if __name__ == "__main__":
    sys.exit(main())
