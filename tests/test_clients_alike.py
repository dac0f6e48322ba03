"""Both clients read a response the same way (one scenario, ``client: http`` or ``client: fast``)."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import gevent
import pytest
from fault_server import raw_server, request_heads
from runtime_support import CLIENTS, counts, occurrences, scenario

RANDOM = bytes(range(256))[::-1]  # bytes whose charset cannot be detected


CUT_SHORT = {  # bodies that fail: closed before the length their headers declare, or not gzip
    b"/short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
    b"/short-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n",
    b"/short-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n0123456789",
    b"/bad-gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n0123456789",
}
DRIBBLE = 60  # bytes a dribbling response sends, one every 100 ms (6 s in all)


def _dribble(conn: socket.socket, path: bytes) -> None:
    """A 200 whose head (``/dribble-head``) or body (``/dribble``) comes one byte every 100 ms (6 s or more)."""
    head = b"HTTP/1.1 200 OK\r\nX-Pad: %s\r\nContent-Length: %d\r\n\r\n" % (b"p" * 20, DRIBBLE)
    body = b"x" * DRIBBLE
    if path == b"/dribble-head":
        slow, after = head, body
    else:
        conn.sendall(head)
        slow, after = body, b""
    for byte in slow:
        time.sleep(0.1)
        conn.sendall(bytes([byte]))
    conn.sendall(after)


def _handle(conn: socket.socket) -> None:
    """Serve one connection; ``/ok`` and the dribbles keep it alive (the others close it)."""
    try:
        for request in request_heads(conn):
            path = request.split(b" ", 2)[1]
            if path == b"/ok":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                continue
            if path == b"/wait":  # 1.2 s, then the answer
                time.sleep(1.2)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                continue
            if path.startswith(b"/dribble"):
                _dribble(conn, path)
                continue
            if path in CUT_SHORT:
                conn.sendall(CUT_SHORT[path])
            elif path == b"/reset":  # part of the body, then a reset (RST) instead of the rest
                conn.sendall(CUT_SHORT[b"/short"])
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif path == b"/repeated":
                head = b"Vary: a\r\nVary: b\r\nX-Many: 1\r\nX-Many: 2\r\nContent-Length: 2\r\n"
                conn.sendall(b"HTTP/1.1 200 OK\r\n" + head + b"Connection: close\r\n\r\nok")
            elif path == b"/echo":
                lines = request.split(b"\r\n")[1:]
                body = b"\n".join(
                    sorted(line for line in lines if line.split(b":")[0].lower() in (b"user-agent", b"accept"))
                )
                head = b"Content-Type: text/plain\r\nContent-Length: %d\r\n" % len(body)
                conn.sendall(b"HTTP/1.1 200 OK\r\n" + head + b"Connection: close\r\n\r\n" + body)
            else:
                head = b"Content-Type: application/octet-stream\r\nContent-Length: 256\r\n"
                conn.sendall(b"HTTP/1.1 200 OK\r\n" + head + b"Connection: close\r\n\r\n" + RANDOM)
            return
    except OSError:
        pass
    finally:
        conn.close()


@pytest.fixture(scope="module")
def odd_server() -> Iterator[str]:
    """A small server on 127.0.0.1: repeated headers, an undetectable body, bodies cut short, dribbles."""
    with raw_server(_handle) as url:
        yield url


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


def test_templates_read_repeated_headers_alike(harness, odd_server) -> None:
    """``headers`` in a template (expect, until, count, a save's default) joins a repeated header as well."""
    seen = []
    for client in CLIENTS:
        read = "{{ headers['vary'] }}|{{ headers.Vary }}|{{ headers.get('X-Many') }}|{{ headers | length }}"
        step = f"""
        - get: /repeated
          expect: {{headers: {{Vary: "{{{{ headers.vary }}}}"}}}}
          save: {{read: {{header: X-Absent, default: "{read}"}}}}
        """
        h = harness(scenario("- get: /ok", client, on_start=step), host=odd_server)
        user = h.user()
        seen.append((user.vars.get("read"), counts(h)))
    assert seen[0] == ("a, b|a, b|1, 2|4", {("GET", "/repeated"): (1, 0)})
    assert seen[1] == seen[0]


def test_a_response_cut_short_fails_alike(harness, odd_server) -> None:
    """A body that ends before its Content-Length (or its last chunk), is reset, or cannot be decoded,
    is a failed request with the same message on both clients."""
    seen = []
    for client in CLIENTS:
        steps = """
        - get: /short
          on_failure: continue
        - get: /short-chunked
          on_failure: continue
        - get: /short-chunk
          on_failure: continue
        - get: /reset
          on_failure: continue
        - get: /bad-gzip
          on_failure: continue
        - get: /ok
          expect: {body_matches: "^ok$"}
        """
        h = harness(scenario(steps, client), host=odd_server)
        h.journey(h.user())
        seen.append((occurrences(h), counts(h)))
    assert seen[0][0] == {
        ("GET", "/short", "response ended before its Content-Length (10 of 100 bytes)"): 1,
        ("GET", "/short-chunked", "response ended before its last chunk"): 1,
        ("GET", "/short-chunk", "response ended before its last chunk"): 1,
        ("GET", "/reset", "connection reset"): 1,
        ("GET", "/bad-gzip", "response body not decodable (Content-Encoding)"): 1,
    }
    assert seen[0][1] == {
        ("GET", "/short"): (1, 1),
        ("GET", "/short-chunked"): (1, 1),
        ("GET", "/short-chunk"): (1, 1),
        ("GET", "/reset"): (1, 1),
        ("GET", "/bad-gzip"): (1, 1),
        ("GET", "/ok"): (1, 0),
    }
    assert seen[1] == seen[0]


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
def test_timeout_is_a_deadline_for_the_whole_request(harness, odd_server, client) -> None:
    """A response that keeps coming, a byte every 100 ms, fails at its timeout, from connect to last byte.

    The dribbles come on a kept-alive connection: the request after a timed-out
    one gets its own response, not the rest of the dribble.
    """
    steps = """
    - get: /ok
    - get: /dribble
      on_failure: continue
    - get: /ok
      name: after body
      expect: {body_matches: "^ok$"}
    - get: /dribble-head
      timeout: 2s
      on_failure: continue
    - get: /ok
      name: after head
      expect: {body_matches: "^ok$"}
    """
    h = harness(scenario(steps, client, defaults={"timeout": "2s"}), host=odd_server)
    user = h.user()
    started = time.perf_counter()
    h.journey(user)
    elapsed = time.perf_counter() - started
    assert occurrences(h) == {
        ("GET", "/dribble", "request timed out after 2s"): 1,
        ("GET", "/dribble-head", "request timed out after 2s"): 1,
    }
    assert counts(h) == {
        ("GET", "/ok"): (1, 0),
        ("GET", "/dribble"): (1, 1),
        ("GET", "after body"): (1, 0),
        ("GET", "/dribble-head"): (1, 1),
        ("GET", "after head"): (1, 0),
    }
    for name in ("/dribble", "/dribble-head"):  # the time it took is in the stats, not 0
        assert 1500 <= h.entry(name).max_response_time < 4500
    assert elapsed < 9  # two deadlines of 2 s, not two dribbles of 6 s (a bound that holds under load)


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
def test_a_deadline_ends_with_its_request(harness, odd_server, client) -> None:
    """A request that answered in time leaves no timer behind to interrupt what the user does next."""
    h = harness(scenario("- get: /ok", client, defaults={"timeout": 0.2}), host=odd_server)
    user = h.user()
    h.journey(user, times=3)
    gevent.sleep(0.5)  # a deadline left running would be raised here
    h.journey(user)
    assert counts(h) == {("GET", "/ok"): (4, 0)}


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
def test_each_request_gets_its_whole_timeout(harness, odd_server, client) -> None:
    """Two requests of 1.2 s under a timeout of 2 s both pass: the second is not left the 0.8 s the first left."""
    h = harness(scenario("- get: /wait\n- get: /wait\n  name: again", client, defaults={"timeout": 2}), host=odd_server)
    h.journey(h.user())
    assert counts(h) == {("GET", "/wait"): (1, 0), ("GET", "again"): (1, 0)}
