"""``bench/target.py`` in a process of its own, for the benchmarks (no Locust, no gevent imported here)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TARGET = Path(__file__).resolve().with_name("target.py")


@contextmanager
def target_server(cpus: set[int] | None = None) -> Iterator[str]:
    """Start the target on 127.0.0.1 (port 0), optionally pinned to ``cpus``; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, str(TARGET)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"the target did not start (it printed {line!r})")
        if cpus:
            os.sched_setaffinity(process.pid, cpus)
        yield f"http://127.0.0.1:{line}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
