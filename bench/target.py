"""The benchmark's target: a static JSON API that is never the bottleneck.

``python bench/target.py`` serves on 127.0.0.1, port 0 (``--port`` to choose),
and prints the port on stdout. Plain asyncio, HTTP/1.1 with keep-alive, every
answer prepared as bytes at start-up; requests are parsed just enough to route
them (request line, ``Content-Length``, the presence of a bearer token):

* ``POST /login`` -> ``{"token": "..."}``
* ``GET /products`` -> 20 products with ids
* ``GET /products/<id>`` -> one product (404 for an unknown id)
* ``POST /cart`` -> ``{"ok": true}`` (401 without ``Authorization: Bearer ...``)
* ``POST /checkout`` -> 201 ``{"id": ..., "status": "CREATED"}`` (401 without a bearer token)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
from typing import Any

TOKEN = "tok-3f2a9c4e8b7d6a51"
PRODUCTS = [
    {"id": 1000 + n, "name": f"Product {n}", "price": round(9.99 + 3.5 * n, 2), "stock": 10 + n} for n in range(20)
]


def answer(status: int, document: Any) -> bytes:
    body = json.dumps(document, separators=(",", ":")).encode()
    reason = {200: "OK", 201: "Created", 401: "Unauthorized", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


LOGIN = answer(200, {"token": TOKEN, "user_id": 7, "expires_in": 3600})
LISTING = answer(200, PRODUCTS)
DETAILS = {f"/products/{p['id']}".encode(): answer(200, p) for p in PRODUCTS}
CART = answer(200, {"ok": True})
CHECKOUT = answer(201, {"id": 4242, "status": "CREATED", "total": 19.99})
NOT_FOUND = answer(404, {"error": "not found"})
UNAUTHORIZED = answer(401, {"error": "unauthorized"})


def route(method: bytes, path: bytes, head: bytes) -> bytes:
    if method == b"GET":
        if path == b"/products":
            return LISTING
        return DETAILS.get(path, NOT_FOUND)
    if path == b"/login":
        return LOGIN
    if path in (b"/cart", b"/checkout"):
        if b"authorization: bearer " not in head.lower():
            return UNAUTHORIZED
        return CART if path == b"/cart" else CHECKOUT
    return NOT_FOUND


class Connection(asyncio.Protocol):
    """One keep-alive connection: answers each complete request as soon as it has arrived."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end]
            length = 0
            at = head.lower().find(b"\r\ncontent-length:")
            if at >= 0:
                line_end = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                break
            self.buffer = self.buffer[end + 4 + length :]
            method, path, _ = head.split(b" ", 2)
            answers.append(route(method, path.split(b"?", 1)[0], head))
        if answers and self.transport is not None:
            self.transport.write(b"".join(answers))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Connection, "127.0.0.1", port, backlog=4096, reuse_address=True)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of keep-alive users
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
