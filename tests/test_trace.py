"""``locust-scenario trace``: each journey once against the real demo store, every step printed; exit 1 on a failure.

The store serves in-process (greenlets on 127.0.0.1, port 0); the trace runs the
real user classes and clients, so every request is also in Locust's statistics.
"""

from __future__ import annotations

import io
import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import cli
from examples.demo_store import DemoStore

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ["http", "fast"]


@pytest.fixture(scope="module")
def store() -> Iterator[DemoStore]:
    server = DemoStore(port=0, order_step=0.2).start()
    yield server
    server.stop()


def trace(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["trace", *args], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_a_shop_journey_is_traced_step_by_step_with_its_saved_values(store: DemoStore, tmp_path: Path) -> None:
    """The checkout journey of a Shopper: every request with what it saved; thinks skipped; the poll waits."""
    output = tmp_path / "trace.json"
    code, text, err = trace(
        str(ROOT / "scenarios/shop.yaml"),
        *("-H", store.url, "--persona", "Shopper", "--journey", "checkout", "--output", str(output)),
    )
    assert code == 0, text[-4000:] + err
    sections = re.findall(r"^(persona Shopper: \S+(?: \S+)?)$", text, re.M)
    assert sections == ["persona Shopper: on_start", "persona Shopper: journey checkout", "persona Shopper: on_stop"]
    for name in ("Register", "Login", "Products in stock", "Cart: add", "Checkout", "Order status (poll)"):
        assert re.search(
            rf"^  (GET|POST|PUT) {re.escape(store.url)}/\S+    \[stats name: {re.escape(name)}\]$", text, re.M
        )
    assert re.search(r"^    saved user_id = \d+$", text, re.M)
    assert re.search(r"^    saved order_id = \d+$", text, re.M)
    assert re.search(r"^    < 201 in [0-9.]+ ms$", text, re.M)
    assert "    expect status 201: pass (actual: 201)" in text
    assert "    > Authorization: Bearer ***" in text  # the token is a secret (it is used in Authorization)
    assert "    saved token = ***" in text
    assert re.search(r"^  poll: 2s before the next attempt$", text, re.M) or "DELIVERED" in text
    assert text.rstrip().splitlines()[-1].endswith("0 failed steps: PASS")
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["passed"] is True
    checkout = [step for step in report["steps"] if step["request"].get("name") == "Checkout"]
    assert checkout and checkout[0]["response"]["status"] == 201 and "order_id" in checkout[0]["saved"]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_failing_expectation_shows_the_actual_value_and_exits_1(
    store: DemoStore, tmp_path: Path, client: str
) -> None:
    path = tmp_path / "look.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            defaults: {{client: {client}}}
            journeys:
              look:
                steps:
                  - get: /api/products/1
                    name: Product
                    expect: {{status: 200, json: {{"$.id": 1, "$.name": "No such name"}}}}
                    save: {{price: $.price}}
                  - think: 5
                  - get: /api/products/{{{{ price }}}}
                    name: never sent
            """
        ),
        encoding="utf-8",
    )
    code, text, _ = trace(str(path), "-H", store.url)
    assert code == cli.EXIT_INVALID
    assert "    expect status 200: pass (actual: 200)" in text
    assert "    expect $.id == 1: pass (actual: 1)" in text
    assert re.search(r"^    expect \$\.name == No such name: FAIL \(actual: .+\)$", text, re.M)
    assert "    FAILED: $.name: expected == No such name" in text
    assert "saved price" not in text  # a response that fails its checks saves nothing
    assert "never sent" not in text  # the journey stopped at the failure
    assert text.rstrip().endswith("1 requests, 1 failed steps: FAIL")


def test_a_trace_needs_a_host_and_known_names(tmp_path: Path) -> None:
    path = tmp_path / "nohost.yaml"
    path.write_text("version: 1\njourneys:\n  j:\n    steps:\n      - get: /\n", encoding="utf-8")
    code, _, err = trace(str(path))
    assert code == cli.EXIT_USAGE and "no host" in err
    code, _, err = trace(str(path), "-H", "http://127.0.0.1:9", "--journey", "nope")
    assert code == cli.EXIT_USAGE and "no journey 'nope'" in err
