"""A faulty target on 127.0.0.1: raw sockets, one fault per path (see :data:`FAULTS`).

In-process (``FaultServer().start()``, threads; greenlets once Locust has patched them) or as a
process of its own for real ``locust`` runs (``python tests/fault_server.py`` prints its port,
then the refused port, one a line). ``refused_url`` is a port that is bound but never listens:
connecting to it is refused, and no other program can take it meanwhile.

Every fault but ``/hang`` and the drips ends its connection, so a client never reads
the next response from a broken one; ``/ok`` keeps its connection alive.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

BIG_ITEMS = 100_000
"""Items of ``/big-json``: about 10 MB of JSON, its ``last`` key after all of them."""
DRIP_BYTES = 100
"""Bytes ``/drip`` sends, one every 100 ms (10 s in all, far past a ``timeout: 1s``)."""
INVALID_UTF8 = b"caf\xe9 ok \xff\xfe end"
"""``/latin``'s body: Latin-1 bytes that are not UTF-8, sent as text/plain without a charset."""


def big_json() -> bytes:
    """About 10 MB of JSON: a list of 100,000 objects, then ``"last": 99999``."""
    items = [{"id": i, "name": f"item-{i:06d}", "tags": ["a", "b"], "price": i / 100} for i in range(BIG_ITEMS)]
    return json.dumps({"items": items, "pad": "x" * 2_500_000, "last": BIG_ITEMS - 1}).encode()


def _response(status: str, body: bytes, *head: str, close: bool = True) -> bytes:
    lines = [f"HTTP/1.1 {status}", *head, f"Content-Length: {len(body)}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _send(data: bytes) -> Callable[[socket.socket], None]:
    def send(conn: socket.socket) -> None:
        conn.sendall(data)

    return send


def _reset(conn: socket.socket) -> None:
    """The head and 10 bytes of a 100-byte body, then a reset (RST) instead of the rest."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
    time.sleep(0.05)  # the client reads the head before the reset discards what it has not read
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _hang(conn: socket.socket) -> None:
    """Accept, read the request, never answer: wait until the client gives up."""
    while conn.recv(65536):
        pass


def _drip(conn: socket.socket) -> None:
    """A 200 whose body comes one byte every 100 ms, until the client gives up."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % DRIP_BYTES)
    for _ in range(DRIP_BYTES):
        time.sleep(0.1)
        conn.sendall(b"x")


def _close_delimited(conn: socket.socket) -> None:
    """HTTP/1.0, no Content-Length: the body is what comes until the server closes (in pieces)."""
    body = json.dumps({"rows": ["r" * 1000] * 200, "last": "end"}).encode()
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
    for start in range(0, len(body), 50_000):
        time.sleep(0.02)
        conn.sendall(body[start : start + 50_000])


_BIG: list[bytes] = []


def _big(conn: socket.socket) -> None:
    if not _BIG:
        _BIG.append(_response("200 OK", big_json(), "Content-Type: application/json"))
    conn.sendall(_BIG[0])


FAULTS: dict[bytes, Callable[[socket.socket], None]] = {
    b"/reset": _reset,
    b"/closed": _send(b""),  # reads the request, closes without a word
    b"/hang": _hang,
    b"/5xx": _send(_response("503 Service Unavailable", b"down", "Content-Type: text/plain")),
    b"/garbage": _send(b"SSH-2.0-OpenSSH_9.6 not an HTTP server\r\n\r\n\x00\x01\x02 garbage\r\n"),
    b"/truncated-json": _send(_response("200 OK", b'{"a": 1', "Content-Type: application/json")),
    b"/short": _send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789"),
    b"/big-json": _big,
    b"/drip": _drip,
    b"/latin": _send(_response("200 OK", INVALID_UTF8, "Content-Type: text/plain")),
    b"/latin-declared": _send(_response("200 OK", INVALID_UTF8, "Content-Type: text/plain; charset=latin-1")),
    b"/bad-chunk": _send(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
    ),
    b"/close-delimited": _close_delimited,
    b"/no-colon": _send(b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"),
    # python-requests reads this one (it skips the two bytes after a chunk), the fast client refuses it
    b"/chunk-no-crlf": _send(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nokXX0\r\n\r\n"
    ),
}
OK = _response("200 OK", b"ok", "Content-Type: text/plain", close=False)


def request_heads(conn: socket.socket) -> Iterator[bytes]:
    """The head of each request that arrives on ``conn`` (request line and headers), until the client closes."""
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        request, data = data.split(b"\r\n\r\n", 1)
        yield request


@contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A server on 127.0.0.1 (port 0) that hands each connection to ``handle`` in a thread; yields its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def _handle(conn: socket.socket) -> None:
    try:
        for request in request_heads(conn):
            path = request.split(b" ", 2)[1].split(b"?", 1)[0]
            fault = FAULTS.get(path)
            if fault is None:
                conn.sendall(OK)
                continue
            fault(conn)
            return
    except OSError:
        pass
    finally:
        conn.close()


class FaultServer:
    """The faulty target: ``url`` serves :data:`FAULTS`, ``refused_url`` refuses every connection."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(100)
        self.closed = socket.socket()  # bound, never listening: connections to it are refused
        self.closed.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.refused_url = f"http://127.0.0.1:{self.closed.getsockname()[1]}"

    def start(self) -> FaultServer:
        threading.Thread(target=self.serve, daemon=True).start()
        return self

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=_handle, args=(conn,), daemon=True).start()

    def stop(self) -> None:
        self.listener.close()
        self.closed.close()


if __name__ == "__main__":
    server = FaultServer()
    print(server.listener.getsockname()[1], server.closed.getsockname()[1], sep="\n", flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        sys.exit(0)
