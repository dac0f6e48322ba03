"""Serving the app with gevent's WSGI server (one greenlet per connection, keep-alive)."""

from __future__ import annotations

import socket
from typing import Any

from gevent.pywsgi import WSGIServer

from examples.demo_store.app import create_app
from examples.demo_store.db import EXTENSION


class _Server(WSGIServer):
    """Sends small responses at once (TCP_NODELAY): no 40 ms delayed-ACK stalls."""

    def handle(self, sock: Any, address: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


class DemoStore:
    """The demo store served on ``host:port`` (127.0.0.1; port 0 picks a free one)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        db_path: str | None = None,
        order_step: float = 1.0,
        admin_password: str = "admin123",
    ) -> None:
        self.app = create_app(db_path, order_step=order_step, admin_password=admin_password)
        self.host = host
        self.server = _Server((host, port), self.app, log=None, backlog=1024)

    def start(self) -> DemoStore:
        """Listen and serve from greenlets (returns at once)."""
        self.server.start()
        return self

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 1) -> None:
        """Stop serving, close the database (removing a temp one)."""
        self.server.stop(timeout=timeout)
        self.app.extensions[EXTENSION].close()
