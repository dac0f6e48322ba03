"""Both clients read a response the same way (one scenario, ``client: http`` or ``client: fast``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from runtime_support import CLIENTS, scenario

RANDOM = bytes(range(256))[::-1]  # bytes whose charset cannot be detected


def _handle(conn: socket.socket) -> None:
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        path = data.split(b" ", 2)[1]
        if path == b"/repeated":
            head = b"Vary: a\r\nVary: b\r\nX-Many: 1\r\nX-Many: 2\r\nContent-Length: 2\r\n"
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + head + b"Connection: close\r\n\r\nok")
        elif path == b"/echo":
            lines = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
            body = b"\n".join(
                sorted(line for line in lines if line.split(b":")[0].lower() in (b"user-agent", b"accept"))
            )
            head = b"Content-Type: text/plain\r\nContent-Length: %d\r\n" % len(body)
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + head + b"Connection: close\r\n\r\n" + body)
        else:
            head = b"Content-Type: application/octet-stream\r\nContent-Length: 256\r\n"
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + head + b"Connection: close\r\n\r\n" + RANDOM)
    except OSError:
        pass
    finally:
        conn.close()


@pytest.fixture(scope="module")
def odd_server() -> Iterator[str]:
    """A small server on 127.0.0.1 with repeated headers and an undetectable body."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def _seen(harness, url: str, client: str) -> tuple[dict, dict]:
    h = harness(
        scenario(
            "- get: /repeated",
            client,
            on_start="""
            - get: /repeated
              expect: {headers: {Vary: "a, b"}}
              save: {vary: {header: Vary}, many: {header: X-Many}}
            - get: /random
              expect: {body_contains: "\\x7f~}|", body_matches: "^\\ufffd"}
              save: {body: {body: true}, tail: {regex: "(z.*a)"}}
            """,
        ),
        host=url,
    )
    user = h.user()  # on_start saves into the user's variables
    failures = {name: entry.num_failures for (name, _), entry in h.env.stats.entries.items()}
    return {k: user.vars.get(k) for k in ("vary", "many", "body", "tail")}, failures


def test_both_clients_read_repeated_headers_and_odd_bodies_alike(harness, odd_server) -> None:
    results = [_seen(harness, odd_server, client) for client in CLIENTS]
    saved, failures = results[0]
    assert saved["vary"] == "a, b" and saved["many"] == "1, 2"
    assert saved["body"] == RANDOM.decode("utf-8", errors="replace")
    assert failures == {"/repeated": 0, "/random": 0}
    assert results[1] == results[0]


@pytest.mark.parametrize("override", [False, True])
def test_both_clients_send_the_same_default_headers(harness, odd_server, override) -> None:
    sent = []
    for client in CLIENTS:
        step = "- get: /echo\n  save: {sent: {body: true}}"
        if override:
            step += "\n  headers: {Accept: application/json, User-Agent: probe}"
        h = harness(scenario("- get: /repeated", client, on_start=step), host=odd_server)
        sent.append(h.user().vars["sent"])
    if override:
        assert sent[0] == "Accept: application/json\nUser-Agent: probe"
    else:
        assert sent[0].startswith("Accept: */*\nUser-Agent: locust-scenarios/0.")
    assert sent[1] == sent[0]
