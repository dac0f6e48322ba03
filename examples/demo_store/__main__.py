"""``python -m examples.demo_store``: serve the demo store until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys

import gevent
from gevent.event import Event

from examples.demo_store.server import DemoStore


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.demo_store", description="Serve the demo store (shop, inventory and GraphQL JSON API)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one; default 8080)")
    parser.add_argument("--db", metavar="PATH", help="SQLite file to keep state in (default: temp file)")
    parser.add_argument(
        "--order-step", type=float, default=1.0, metavar="SECONDS", help="seconds between order statuses"
    )
    parser.add_argument("--admin-password", default="admin123", metavar="PW", help="password of user 'admin'")
    args = parser.parse_args(argv)
    if args.order_step < 0:
        parser.error("--order-step must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    store = DemoStore(args.host, args.port, args.db, args.order_step, args.admin_password)
    stopping = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    try:
        store.start()
    except OSError as error:
        store.stop()
        print(f"demo store: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    try:
        print(f"Demo store listening on {store.url}", flush=True)
        stopping.wait()
    finally:
        store.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
