"""TLS behaves the same on both clients: verified by default, not verified with verify_tls: false.

The target is served over HTTPS on 127.0.0.1 with a self-signed certificate
(tests/data/selfsigned.*, made for this test only).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gevent.pywsgi import WSGIServer

sys.path.insert(0, str(Path(__file__).parent))
from target import create_app

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def https_url() -> Iterator[str]:
    server = WSGIServer(
        ("127.0.0.1", 0),
        create_app(),
        log=None,
        error_log=None,
        keyfile=str(DATA / "selfsigned.key"),
        certfile=str(DATA / "selfsigned.crt"),
    )
    server.start()
    yield f"https://127.0.0.1:{server.server_port}"
    server.stop(timeout=1)


def scenario(client: str, verify: bool | None) -> str:
    defaults = f"client: {client}" + ("" if verify is None else f", verify_tls: {str(verify).lower()}")
    return (
        "version: 1\n"
        f"defaults: {{{defaults}}}\n"
        "journeys:\n"
        "  Secure:\n"
        "    steps:\n"
        "      - get: /health\n"
        '        expect: {json: {"$.status": ok}}\n'
    )


@pytest.mark.parametrize("client", ["http", "fast"])
def test_self_signed_certificate_is_refused_by_default(harness, https_url, client):
    h = harness(scenario(client, None), host=https_url)
    h.journey(h.user())
    assert h.requests("/health") == 1
    assert h.errors("/health") == ["TLS error"]


@pytest.mark.parametrize("client", ["http", "fast"])
def test_verify_tls_false_accepts_it(harness, https_url, client):
    h = harness(scenario(client, False), host=https_url)
    h.journey(h.user(), times=2)
    assert h.requests("/health") == 2
    assert h.errors() == []
