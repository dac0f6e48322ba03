"""The demo store (``examples/demo_store``) over real HTTP on 127.0.0.1.

Each test gets a fresh store (temp SQLite file) served in-process by gevent;
the CLI tests run ``python -m examples.demo_store`` as a subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import locust  # noqa: F401  (gevent monkey-patching first, as in conftest)
import pytest
import requests
from gevent.event import Event

from examples.demo_store import DemoStore
from examples.demo_store.db import Database

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("CREATED", "PAID", "SHIPPED", "DELIVERED")
STEP = 0.1


class Client:
    """``client.get(path, token=...)`` etc. against one store, over one keep-alive session."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def expect(response: requests.Response, status: int) -> Any:
    """Assert the status and a JSON body (an error body carries ``detail``); return the body."""
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.text}"
    assert response.headers["Content-Type"] == "application/json", response.headers
    body = response.json()
    if status >= 400:
        assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.fixture
def store() -> Iterator[DemoStore]:
    server = DemoStore(port=0, order_step=STEP).start()
    yield server
    server.stop()


@pytest.fixture
def client(store: DemoStore) -> Client:
    return Client(store.url)


def sign_up(client: Client, username: str, password: str = "secret1") -> tuple[int, str]:
    """Register and log in ``username``: (user id, token)."""
    user = expect(
        client.post(
            "/user-api/register", json={"username": username, "email": f"{username}@x.io", "password": password}
        ),
        201,
    )
    token = expect(client.post("/user-api/login", json={"username": username, "password": password}), 200)
    assert token["user_id"] == user["id"]
    return user["id"], token["access_token"]


def admin_token(client: Client, password: str = "admin123") -> str:
    return str(
        expect(client.post("/user-api/login", json={"username": "admin", "password": password}), 200)["access_token"]
    )


def shop_product(client: Client, product_id: int) -> dict[str, Any]:
    return dict(expect(client.get(f"/api/products/{product_id}"), 200))


# --- basics ----------------------------------------------------------------------------------------


def test_health_unknown_paths_and_wrong_methods_answer_json(client: Client) -> None:
    assert expect(client.get("/health"), 200) == {"status": "ok"}
    assert expect(client.get("/no/such/path"), 404) == {"detail": "not found"}
    assert expect(client.get("/api/products/999999"), 404)["detail"] == "product not found"
    wrong = client.delete("/health")
    assert expect(wrong, 405) == {"detail": "method not allowed"}
    assert "GET" in wrong.headers["Allow"]
    expect(client.get("/user-api/register"), 405)
    expect(client.post("/inventory-api/orders/1/cancel"), 404)
    expect(client.get(f"/api/products/{10**30}"), 404)
    bad_body = expect(client.post("/user-api/register", data="not json"), 422)
    assert bad_body["detail"] == "request body must be a JSON object"
    expect(client.post("/inventory-api/products", json=[1, 2]), 422)


def test_listening_address_and_port(store: DemoStore) -> None:
    assert store.port > 0
    assert store.url == f"http://127.0.0.1:{store.port}"
    assert store.server.server_host == "127.0.0.1"


# --- users -----------------------------------------------------------------------------------------


def test_register_validation_and_duplicates(client: Client) -> None:
    created = expect(
        client.post("/user-api/register", json={"username": "ann", "email": "ann@x.io", "password": "secret1"}), 201
    )
    assert created == {"id": created["id"], "username": "ann", "email": "ann@x.io", "role": "user"}
    assert isinstance(created["id"], int)
    duplicate = client.post(
        "/user-api/register", json={"username": "ann", "email": "other@x.io", "password": "secret2"}
    )
    assert expect(duplicate, 409)["detail"] == "username already exists"
    invalid = [
        ({"email": "a@x.io", "password": "secret1"}, "username"),
        ({"username": "", "email": "a@x.io", "password": "secret1"}, "username"),
        ({"username": "bob", "password": "secret1"}, "email"),
        ({"username": "bob", "email": "no-at-sign", "password": "secret1"}, "email"),
        ({"username": "bob", "email": "b@x.io", "password": "12345"}, "password"),
        ({"username": "bob", "email": "b@x.io"}, "password"),
        ({"username": 7, "email": "b@x.io", "password": "secret1"}, "username"),
    ]
    for body, field in invalid:
        answer = expect(client.post("/user-api/register", json=body), 422)
        assert field in [error["field"] for error in answer["errors"]], (body, answer)
    expect(client.post("/user-api/login", json={"username": "bob", "password": "secret1"}), 401)


def test_login_me_logout_and_token_revocation(client: Client) -> None:
    expect(client.post("/user-api/register", json={"username": "cleo", "email": "c@x.io", "password": "secret1"}), 201)
    login = expect(client.post("/user-api/login", json={"username": "cleo", "password": "secret1"}), 200)
    assert set(login) == {"access_token", "token_type", "user_id"} and login["token_type"] == "bearer"
    token = login["access_token"]
    assert expect(client.get("/user-api/me", token=token), 200) == {
        "id": login["user_id"],
        "username": "cleo",
        "email": "c@x.io",
        "role": "user",
    }
    assert expect(client.post("/user-api/login", json={"username": "cleo", "password": "wrong!"}), 401)["detail"]
    expect(client.post("/user-api/login", json={"username": "nobody", "password": "secret1"}), 401)
    expect(client.post("/user-api/login", json={"username": "cleo"}), 422)
    unauthenticated = client.get("/user-api/me")
    expect(unauthenticated, 401)
    assert unauthenticated.headers["WWW-Authenticate"] == "Bearer"
    expect(client.get("/user-api/me", token="forged"), 401)
    expect(client.get("/user-api/me", headers={"Authorization": f"Basic {token}"}), 401)
    other = expect(client.post("/user-api/login", json={"username": "cleo", "password": "secret1"}), 200)[
        "access_token"
    ]
    assert expect(client.post("/user-api/logout", token=token), 200) == {"detail": "logged out"}
    expect(client.get("/user-api/me", token=token), 401)
    expect(client.post("/user-api/logout", token=token), 401)
    expect(client.post("/user-api/logout"), 401)
    assert expect(client.get("/user-api/me", token=other), 200)["username"] == "cleo"  # only that token is revoked


def test_profiles_and_user_list_need_owner_or_admin(client: Client) -> None:
    dan, dan_token = sign_up(client, "dan")
    eve, eve_token = sign_up(client, "eve")
    admin = admin_token(client)
    profile = expect(client.get(f"/user-api/users/{dan}/profile", token=dan_token), 200)
    assert profile == {
        "id": dan,
        "username": "dan",
        "email": "dan@x.io",
        "role": "user",
        "statistics": {"total_orders": 0, "total_spent": 0.0},
    }
    expect(client.get(f"/user-api/users/{dan}/profile", token=eve_token), 403)
    expect(client.get(f"/user-api/users/{dan}/profile"), 401)
    expect(client.get("/user-api/users/99999/profile", token=eve_token), 403)
    assert expect(client.get(f"/user-api/users/{eve}/profile", token=admin), 200)["username"] == "eve"
    expect(client.get("/user-api/users/99999/profile", token=admin), 404)
    users = expect(client.get("/user-api/users", token=admin), 200)
    assert [(u["username"], u["role"]) for u in users] == [("admin", "admin"), ("dan", "user"), ("eve", "user")]
    assert all("password" not in key for user in users for key in user)
    expect(client.get("/user-api/users", token=dan_token), 403)
    expect(client.get("/user-api/users"), 401)


def test_admin_password_is_configurable() -> None:
    store = DemoStore(port=0, admin_password="s3cret-admin").start()
    try:
        client = Client(store.url)
        expect(client.post("/user-api/login", json={"username": "admin", "password": "admin123"}), 401)
        token = admin_token(client, "s3cret-admin")
        assert expect(client.get("/user-api/me", token=token), 200)["role"] == "admin"
    finally:
        store.stop()


# --- catalogue -------------------------------------------------------------------------------------


def test_categories_and_seeded_products(client: Client) -> None:
    categories = expect(client.get("/api/categories"), 200)
    assert [c["name"] for c in categories] == ["Electronics", "Books", "Clothing", "Home", "Sports"]
    assert all(c["product_count"] >= 5 for c in categories)
    everything = client.get("/api/products", params={"limit": 100})
    products = expect(everything, 200)
    assert isinstance(products, list)
    assert int(everything.headers["X-Total-Count"]) == len(products) == sum(c["product_count"] for c in categories)
    assert 40 <= len(products) <= 60
    assert set(products[0]) == {"id", "name", "description", "price", "category", "quantity"}
    assert all(5 <= p["price"] <= 1500 and 20 <= p["quantity"] <= 500 for p in products)
    assert {p["category"] for p in products} == {c["name"] for c in categories}
    assert shop_product(client, products[3]["id"]) == products[3]


def test_seed_is_deterministic() -> None:
    first, second = Database(None, "pw"), Database(None, "pw")
    try:
        query = "SELECT name, description, price_cents, quantity FROM products ORDER BY id"
        assert [tuple(r) for r in first.conn.execute(query)] == [tuple(r) for r in second.conn.execute(query)]
        query = "SELECT sku, name, price_cents, stock FROM inv_products ORDER BY id"
        assert [tuple(r) for r in first.conn.execute(query)] == [tuple(r) for r in second.conn.execute(query)]
    finally:
        first.close()
        second.close()
    assert not os.path.exists(first.path)


def test_product_filters_and_pagination(client: Client) -> None:
    default = client.get("/api/products")
    assert len(expect(default, 200)) == 20
    total = int(default.headers["X-Total-Count"])
    books = client.get("/api/products", params={"category": "books", "limit": 100})
    assert {p["category"] for p in expect(books, 200)} == {"Books"}
    assert int(books.headers["X-Total-Count"]) == len(books.json()) > 0
    assert expect(client.get("/api/products", params={"category": "Toys"}), 200) == []
    ranged = expect(client.get("/api/products", params={"min_price": 100, "max_price": 500, "limit": 100}), 200)
    assert ranged and all(100 <= p["price"] <= 500 for p in ranged)
    found = expect(client.get("/api/products", params={"q": "KEYBOARD"}), 200)
    assert [p["name"] for p in found] == ["Mechanical Keyboard"]
    page1 = expect(client.get("/api/products", params={"limit": 7, "page": 1}), 200)
    page2 = client.get("/api/products", params={"limit": 7, "page": 2})
    assert len(page1) == len(page2.json()) == 7
    assert not {p["id"] for p in page1} & {p["id"] for p in page2.json()}
    assert int(page2.headers["X-Total-Count"]) == total
    last_page = (total + 6) // 7
    assert len(expect(client.get("/api/products", params={"limit": 7, "page": last_page}), 200)) == total - 7 * (
        last_page - 1
    )
    assert expect(client.get("/api/products", params={"page": last_page + 5}), 200) == []
    for params in (
        {"limit": "abc"},
        {"limit": 0},
        {"limit": 101},
        {"page": 0},
        {"page": "x"},
        {"min_price": -1},
        {"max_price": "cheap"},
        {"min_price": 50, "max_price": 10},
    ):
        answer = expect(client.get("/api/products", params=params), 422)
        assert answer["errors"][0]["field"] in params, params


# --- cart, checkout, orders ------------------------------------------------------------------------


def test_cart_add_update_remove(client: Client) -> None:
    fay, token = sign_up(client, "fay")
    cart_url = f"/cart-api/cart/{fay}"
    assert expect(client.get(cart_url, token=token), 200) == {
        "user_id": fay,
        "items": [],
        "total_value": 0.0,
        "item_count": 0,
    }
    first, second = shop_product(client, 1), shop_product(client, 12)
    expect(client.post(f"{cart_url}/add", token=token, json={"product_id": 1, "quantity": 2}), 200)
    cart = expect(client.post(f"{cart_url}/add", token=token, json={"product_id": 1, "quantity": 1}), 200)
    assert cart["items"] == [
        {
            "product_id": 1,
            "name": first["name"],
            "price": first["price"],
            "quantity": 3,
            "subtotal": round(first["price"] * 3, 2),
        }
    ]
    cart = expect(client.post(f"{cart_url}/add", token=token, json={"product_id": 12, "quantity": 1}), 200)
    assert cart["item_count"] == 4
    assert cart["total_value"] == pytest.approx(first["price"] * 3 + second["price"])
    cart = expect(client.put(f"{cart_url}/update", token=token, json={"product_id": 1, "quantity": 1}), 200)
    assert [(i["product_id"], i["quantity"]) for i in cart["items"]] == [(1, 1), (12, 1)]
    assert expect(client.get(cart_url, token=token), 200) == cart
    cart = expect(client.post(f"{cart_url}/remove", token=token, json={"product_id": 12}), 200)
    assert [i["product_id"] for i in cart["items"]] == [1]
    # errors
    assert expect(client.post(f"{cart_url}/add", token=token, json={"product_id": 99999, "quantity": 1}), 404)
    for body in (
        {"product_id": 1},
        {"product_id": 1, "quantity": 0},
        {"product_id": 1, "quantity": "2"},
        {"quantity": 1},
    ):
        expect(client.post(f"{cart_url}/add", token=token, json=body), 422)
    too_many = expect(
        client.post(f"{cart_url}/add", token=token, json={"product_id": 12, "quantity": second["quantity"] + 1}), 409
    )
    assert too_many["detail"] == "insufficient stock" and too_many["product_id"] == 12
    expect(client.put(f"{cart_url}/update", token=token, json={"product_id": 12, "quantity": 1}), 404)
    expect(client.put(f"{cart_url}/update", token=token, json={"product_id": 1, "quantity": 0}), 422)
    expect(
        client.put(f"{cart_url}/update", token=token, json={"product_id": 1, "quantity": first["quantity"] + 1}), 409
    )
    expect(client.post(f"{cart_url}/remove", token=token, json={"product_id": 12}), 404)
    expect(client.post(f"{cart_url}/remove", token=token, json={}), 422)
    assert [(i["product_id"], i["quantity"]) for i in expect(client.get(cart_url, token=token), 200)["items"]] == [
        (1, 1)
    ]


def test_cart_belongs_to_its_user_only(client: Client) -> None:
    gus, gus_token = sign_up(client, "gus")
    _, hal_token = sign_up(client, "hal")
    admin = admin_token(client)
    attempts = [
        ("GET", f"/cart-api/cart/{gus}", None),
        ("POST", f"/cart-api/cart/{gus}/add", {"product_id": 1, "quantity": 1}),
        ("PUT", f"/cart-api/cart/{gus}/update", {"product_id": 1, "quantity": 1}),
        ("POST", f"/cart-api/cart/{gus}/remove", {"product_id": 1}),
        ("POST", f"/cart-api/cart/{gus}/checkout", None),
    ]
    for method, path, body in attempts:
        expect(client.request(method, path, token=hal_token, json=body), 403)
        expect(client.request(method, path, token=admin, json=body), 403)
        expect(client.request(method, path, json=body), 401)
    assert expect(client.get(f"/cart-api/cart/{gus}", token=gus_token), 200)["items"] == []


def test_checkout_creates_order_and_takes_stock(client: Client) -> None:
    ida, token = sign_up(client, "ida")
    _, other_token = sign_up(client, "jon")
    admin = admin_token(client)
    checkout = f"/cart-api/cart/{ida}/checkout"
    assert expect(client.post(checkout, token=token), 409) == {"detail": "cart is empty"}
    before = {pid: shop_product(client, pid) for pid in (2, 30)}
    expect(client.post(f"/cart-api/cart/{ida}/add", token=token, json={"product_id": 2, "quantity": 2}), 200)
    expect(client.post(f"/cart-api/cart/{ida}/add", token=token, json={"product_id": 30, "quantity": 3}), 200)
    order = expect(client.post(checkout, token=token), 201)
    expected_total = before[2]["price"] * 2 + before[30]["price"] * 3
    assert order["user_id"] == ida and order["status"] == "CREATED" and order["created_at"].endswith("Z")
    assert order["total_amount"] == pytest.approx(expected_total)
    assert [(i["product_id"], i["quantity"], i["price"]) for i in order["items"]] == [
        (2, 2, before[2]["price"]),
        (30, 3, before[30]["price"]),
    ]
    assert shop_product(client, 2)["quantity"] == before[2]["quantity"] - 2
    assert shop_product(client, 30)["quantity"] == before[30]["quantity"] - 3
    assert expect(client.get(f"/cart-api/cart/{ida}", token=token), 200)["items"] == []
    # reading orders
    assert expect(client.get(f"/order-api/orders/{order['id']}", token=token), 200)["id"] == order["id"]
    assert expect(client.get(f"/order-api/orders/{order['id']}", token=admin), 200)["user_id"] == ida
    expect(client.get(f"/order-api/orders/{order['id']}", token=other_token), 403)
    expect(client.get(f"/order-api/orders/{order['id']}"), 401)
    expect(client.get("/order-api/orders/99999", token=token), 404)
    expect(client.post(f"/cart-api/cart/{ida}/add", token=token, json={"product_id": 5, "quantity": 1}), 200)
    newer = expect(client.post(checkout, token=token), 201)
    mine = expect(client.get(f"/order-api/orders/user/{ida}", token=token), 200)
    assert mine["total"] == 2 and [o["id"] for o in mine["orders"]] == [newer["id"], order["id"]]
    assert expect(client.get(f"/order-api/orders/user/{ida}", token=admin), 200)["total"] == 2
    expect(client.get(f"/order-api/orders/user/{ida}", token=other_token), 403)
    expect(client.get("/order-api/orders/user/99999", token=admin), 404)
    everything = expect(client.get("/order-api/orders", token=admin), 200)
    assert {o["id"] for o in everything} == {order["id"], newer["id"]}
    expect(client.get("/order-api/orders", token=token), 403)
    stats = expect(client.get(f"/user-api/users/{ida}/profile", token=token), 200)["statistics"]
    assert stats["total_orders"] == 2
    assert stats["total_spent"] == pytest.approx(order["total_amount"] + newer["total_amount"])


def test_checkout_with_insufficient_stock_changes_nothing(client: Client) -> None:
    kim, kim_token = sign_up(client, "kim")
    lee, lee_token = sign_up(client, "lee")
    stock = shop_product(client, 7)["quantity"]
    expect(client.post(f"/cart-api/cart/{kim}/add", token=kim_token, json={"product_id": 3, "quantity": 1}), 200)
    expect(client.post(f"/cart-api/cart/{kim}/add", token=kim_token, json={"product_id": 7, "quantity": stock}), 200)
    expect(client.post(f"/cart-api/cart/{lee}/add", token=lee_token, json={"product_id": 7, "quantity": 1}), 200)
    expect(client.post(f"/cart-api/cart/{lee}/checkout", token=lee_token), 201)
    stock_3 = shop_product(client, 3)["quantity"]
    failed = expect(client.post(f"/cart-api/cart/{kim}/checkout", token=kim_token), 409)
    assert failed["detail"] == "insufficient stock" and failed["product_id"] == 7 and failed["available"] == stock - 1
    assert shop_product(client, 7)["quantity"] == stock - 1
    assert shop_product(client, 3)["quantity"] == stock_3
    cart = expect(client.get(f"/cart-api/cart/{kim}", token=kim_token), 200)
    assert [(i["product_id"], i["quantity"]) for i in cart["items"]] == [(3, 1), (7, stock)]
    assert expect(client.get(f"/order-api/orders/user/{kim}", token=kim_token), 200) == {"orders": [], "total": 0}


def test_order_status_advances_with_time(client: Client) -> None:
    mia, token = sign_up(client, "mia")
    expect(client.post(f"/cart-api/cart/{mia}/add", token=token, json={"product_id": 4, "quantity": 1}), 200)
    sent = time.time()
    order = expect(client.post(f"/cart-api/cart/{mia}/checkout", token=token), 201)
    created = time.time()
    assert order["status"] == "CREATED"
    seen = []
    for _ in range(12):
        asked = time.time()
        status = expect(client.get(f"/order-api/orders/{order['id']}", token=token), 200)["status"]
        answered = time.time()
        # the order's age at the server lies within [asked - created, answered - sent]
        low, high = int((asked - created) / STEP), int((answered - sent) / STEP)
        possible = {STATUSES[min(3, steps)] for steps in range(max(0, low), high + 1)}
        assert status in possible, (status, asked - created, answered - sent)
        seen.append(status)
        if status == "DELIVERED":
            break
        gevent.sleep(STEP / 2)
    assert seen[-1] == "DELIVERED"
    assert [STATUSES.index(s) for s in seen] == sorted(STATUSES.index(s) for s in seen)
    assert {"PAID", "SHIPPED"} <= set(seen)
    listed = expect(client.get(f"/order-api/orders/user/{mia}", token=token), 200)["orders"]
    assert listed[0]["status"] == "DELIVERED"


def test_many_concurrent_shoppers_get_no_errors(store: DemoStore) -> None:
    """200 shoppers at once (own connections): register, log in, add to cart, check out."""
    results: Counter[int] = Counter()

    def shopper(index: int) -> None:
        client = Client(store.url)
        user_id, token = sign_up(client, f"shopper{index}")
        for response in (
            client.post(
                f"/cart-api/cart/{user_id}/add", token=token, json={"product_id": 1 + index % 50, "quantity": 1}
            ),
            client.post(f"/cart-api/cart/{user_id}/checkout", token=token),
            client.get(f"/order-api/orders/user/{user_id}", token=token),
        ):
            results[response.status_code] += 1
        client.http.close()

    gevent.joinall([gevent.spawn(shopper, i) for i in range(200)], timeout=60, raise_error=True)
    assert results == {200: 400, 201: 200}
    admin = admin_token(Client(store.url))
    assert len(expect(Client(store.url).get("/order-api/orders", token=admin), 200)) == 200


# --- inventory -------------------------------------------------------------------------------------


def test_inventory_product_crud(client: Client) -> None:
    created = expect(
        client.post(
            "/inventory-api/products", json={"sku": "TST-1", "name": "Test Gadget", "price": 9.99, "stock": 10}
        ),
        201,
    )
    assert created == {"id": created["id"], "sku": "TST-1", "name": "Test Gadget", "price": 9.99, "stock": 10}
    pid = created["id"]
    expect(client.post("/inventory-api/products", json={"sku": "TST-1", "name": "Again", "price": 1, "stock": 1}), 409)
    for body in (
        {"name": "No sku", "price": 1, "stock": 1},
        {"sku": "X-1", "price": 1, "stock": 1},
        {"sku": "X-1", "name": "n", "stock": 1},
        {"sku": "X-1", "name": "n", "price": 1},
        {"sku": "X-1", "name": "n", "price": -0.01, "stock": 1},
        {"sku": "X-1", "name": "n", "price": 1, "stock": -1},
        {"sku": "X-1", "name": "n", "price": "cheap", "stock": 1},
        {"sku": "X-1", "name": "n", "price": 1, "stock": 1.5},
        {"sku": "X-1", "name": "n", "price": True, "stock": 1},
        {"sku": "X-1", "name": "n", "price": 1e300, "stock": 1},
    ):
        expect(client.post("/inventory-api/products", json=body), 422)
    assert expect(client.get(f"/inventory-api/products/{pid}"), 200) == created
    expect(client.get("/inventory-api/products/99999"), 404)
    # listing and search
    listing = expect(client.get("/inventory-api/products"), 200)
    assert listing["total"] == 21 and len(listing["items"]) == 20
    assert expect(client.get("/inventory-api/products", params={"offset": 20}), 200)["items"] == [created]
    assert expect(client.get("/inventory-api/products", params={"q": "gadget"}), 200) == {
        "items": [created],
        "total": 1,
    }
    assert expect(client.get("/inventory-api/products", params={"q": "tst-"}), 200)["total"] == 1
    assert len(expect(client.get("/inventory-api/products", params={"limit": 5}), 200)["items"]) == 5
    for params in ({"limit": "x"}, {"limit": 0}, {"limit": 1000}, {"offset": -1}):
        expect(client.get("/inventory-api/products", params=params), 422)
    # update
    updated = expect(client.put(f"/inventory-api/products/{pid}", json={"price": 12.5}), 200)
    assert updated == {**created, "price": 12.5}
    assert expect(client.put(f"/inventory-api/products/{pid}", json={"name": "Renamed"}), 200)["name"] == "Renamed"
    for body in ({}, {"price": -1}, {"price": "x"}, {"name": ""}, {"stock": 99}):
        expect(client.put(f"/inventory-api/products/{pid}", json=body), 422)
    expect(client.put("/inventory-api/products/99999", json={"price": 1}), 404)
    # stock
    assert expect(client.get(f"/inventory-api/products/{pid}/stock"), 200) == {"product_id": pid, "stock": 10}
    assert expect(client.post(f"/inventory-api/products/{pid}/restock", json={"quantity": 5}), 200) == {
        "product_id": pid,
        "stock": 15,
    }
    for body in ({}, {"quantity": 0}, {"quantity": -3}, {"quantity": "5"}, {"quantity": 2.5}):
        expect(client.post(f"/inventory-api/products/{pid}/restock", json=body), 422)
    expect(client.post("/inventory-api/products/99999/restock", json={"quantity": 1}), 404)
    expect(client.get("/inventory-api/products/99999/stock"), 404)
    # delete
    deleted = client.delete(f"/inventory-api/products/{pid}")
    assert deleted.status_code == 204 and deleted.content == b""
    expect(client.get(f"/inventory-api/products/{pid}"), 404)
    expect(client.delete(f"/inventory-api/products/{pid}"), 404)


def test_inventory_orders_lifecycle_and_dashboard(client: Client) -> None:
    first = expect(
        client.post("/inventory-api/products", json={"sku": "A-1", "name": "Alpha", "price": 2.5, "stock": 10}), 201
    )
    second = expect(
        client.post("/inventory-api/products", json={"sku": "B-1", "name": "Beta", "price": 4, "stock": 3}), 201
    )
    a, b = first["id"], second["id"]
    board = expect(client.get("/inventory-api/dashboard"), 200)
    assert board["orders"] == {"CREATED": 0, "PAID": 0, "SHIPPED": 0} and board["revenue"] == 0
    assert board["products"] == 22 and board["units_ordered"] == board["units_sold_from_stock"] == 0
    assert {"id": b, "sku": "B-1", "stock": 3} in board["low_stock"]
    order = expect(
        client.post(
            "/inventory-api/orders",
            json={"items": [{"product_id": a, "quantity": 4}, {"product_id": b, "quantity": 1}]},
        ),
        201,
    )
    assert order["status"] == "CREATED" and order["total"] == 14.0
    assert [(i["product_id"], i["quantity"], i["price"]) for i in order["items"]] == [(a, 4, 2.5), (b, 1, 4.0)]
    assert expect(client.get(f"/inventory-api/products/{a}/stock"), 200)["stock"] == 6
    # a failing order changes nothing, even when its first item could be served
    failed = expect(
        client.post(
            "/inventory-api/orders",
            json={"items": [{"product_id": a, "quantity": 1}, {"product_id": b, "quantity": 3}]},
        ),
        409,
    )
    assert failed["detail"] == "insufficient stock" and failed["product_id"] == b
    assert expect(client.get(f"/inventory-api/products/{a}/stock"), 200)["stock"] == 6
    assert expect(client.get(f"/inventory-api/products/{b}/stock"), 200)["stock"] == 2
    expect(
        client.post(
            "/inventory-api/orders",
            json={"items": [{"product_id": a, "quantity": 1}, {"product_id": 99999, "quantity": 1}]},
        ),
        404,
    )
    for body in (
        {"items": []},
        {},
        {"items": [{"product_id": a, "quantity": 0}]},
        {"items": [{"product_id": a}]},
        {"items": ["x"]},
    ):
        expect(client.post("/inventory-api/orders", json=body), 422)
    assert expect(client.get(f"/inventory-api/products/{a}/stock"), 200)["stock"] == 6
    # lifecycle
    oid = order["id"]
    assert expect(client.get(f"/inventory-api/orders/{oid}"), 200) == order
    expect(client.get("/inventory-api/orders/99999"), 404)
    expect(client.post(f"/inventory-api/orders/{oid}/ship"), 409)
    assert expect(client.post(f"/inventory-api/orders/{oid}/pay"), 200)["status"] == "PAID"
    assert expect(client.post(f"/inventory-api/orders/{oid}/pay"), 409)["status"] == "PAID"
    assert expect(client.post(f"/inventory-api/orders/{oid}/ship"), 200)["status"] == "SHIPPED"
    expect(client.post(f"/inventory-api/orders/{oid}/ship"), 409)
    expect(client.post("/inventory-api/orders/99999/pay"), 404)
    expect(client.post("/inventory-api/orders/99999/ship"), 404)
    second_order = expect(
        client.post(
            "/inventory-api/orders",
            json={"items": [{"product_id": a, "quantity": 1}, {"product_id": a, "quantity": 2}]},
        ),
        201,
    )
    assert [(i["product_id"], i["quantity"]) for i in second_order["items"]] == [(a, 3)]
    expect(client.post(f"/inventory-api/orders/{second_order['id']}/pay"), 200)
    expect(client.post("/inventory-api/orders", json={"items": [{"product_id": b, "quantity": 1}]}), 201)
    expect(client.post(f"/inventory-api/products/{b}/restock", json={"quantity": 7}), 200)
    expect(client.delete(f"/inventory-api/products/{a}"), 409)
    board = expect(client.get("/inventory-api/dashboard"), 200)
    assert board["orders"] == {"CREATED": 1, "PAID": 1, "SHIPPED": 1}
    assert board["revenue"] == 14.0 + 7.5
    assert board["units_ordered"] == board["units_sold_from_stock"] == 4 + 1 + 3 + 1
    assert board["negative_stock_products"] == 0
    assert board["total_stock"] == sum(
        p["stock"] for p in expect(client.get("/inventory-api/products", params={"limit": 100}), 200)["items"]
    )
    assert {"id": a, "sku": "A-1", "stock": 3} in board["low_stock"]
    assert all(item["stock"] < 5 for item in board["low_stock"])


def test_last_items_are_never_oversold(store: DemoStore) -> None:
    """50 buyers, each on its own connection, race for a product with 5 left: 5 win, 45 get 409."""
    client = Client(store.url)
    listing = expect(client.get("/inventory-api/products", params={"limit": 100}), 200)["items"]
    scarce = next(p for p in listing if p["stock"] == 5)  # seeded "last items"
    start = Event()
    statuses: list[int] = []

    def buyer() -> None:
        with requests.Session() as http:
            start.wait()
            response = http.post(
                f"{store.url}/inventory-api/orders",
                json={"items": [{"product_id": scarce["id"], "quantity": 1}]},
                timeout=10,
            )
            statuses.append(response.status_code)
            if response.status_code == 409:
                assert response.json()["product_id"] == scarce["id"]

    buyers = [gevent.spawn(buyer) for _ in range(50)]
    gevent.sleep(0)
    start.set()
    gevent.joinall(buyers, timeout=30, raise_error=True)
    assert Counter(statuses) == {201: 5, 409: 45}
    assert expect(client.get(f"/inventory-api/products/{scarce['id']}/stock"), 200)["stock"] == 0
    board = expect(client.get("/inventory-api/dashboard"), 200)
    assert board["units_ordered"] == board["units_sold_from_stock"] == 5
    assert board["negative_stock_products"] == 0 and board["orders"]["CREATED"] == 5
    assert {"id": scarce["id"], "sku": scarce["sku"], "stock": 0} in board["low_stock"]


# --- command line ----------------------------------------------------------------------------------


class Process:
    """``python -m examples.demo_store ...`` started and waited for its ready line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "examples.demo_store", "--port", "0", *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        with gevent.Timeout(20):
            self.line = self.proc.stdout.readline()
        assert self.line.startswith("Demo store listening on http://127.0.0.1:"), self.line
        self.url = self.line.split()[-1]
        self.client = Client(self.url)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.client.http.close()
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert self.proc.stdout is not None and self.proc.stdout.read() == ""  # exactly one line printed
        return code


def test_cli_serves_and_stops_on_sigterm_and_sigint(tmp_path: Path) -> None:
    server = Process(env={"TMPDIR": str(tmp_path)})
    try:
        assert expect(server.client.get("/health"), 200) == {"status": "ok"}
        assert list(tmp_path.glob("demo-store-*/store.sqlite3"))  # default state: a temp file...
    finally:
        assert server.stop(signal.SIGTERM) == 0
    assert not list(tmp_path.glob("demo-store-*"))  # ...deleted at exit
    server = Process("--order-step", "0.05", "--admin-password", "pw-123456")
    try:
        admin_token(server.client, "pw-123456")
    finally:
        assert server.stop(signal.SIGINT) == 0


def test_cli_db_keeps_state_across_restarts(tmp_path: Path) -> None:
    db_file = tmp_path / "store.db"
    server = Process("--db", str(db_file))
    try:
        user_id, token = sign_up(server.client, "persistent")
        expect(
            server.client.post(f"/cart-api/cart/{user_id}/add", token=token, json={"product_id": 9, "quantity": 2}), 200
        )
        stock = shop_product(server.client, 9)["quantity"]
        expect(server.client.post(f"/cart-api/cart/{user_id}/checkout", token=token), 201)
    finally:
        assert server.stop() == 0
    assert db_file.exists()
    server = Process("--db", str(db_file))
    try:
        login = expect(
            server.client.post("/user-api/login", json={"username": "persistent", "password": "secret1"}), 200
        )
        assert login["user_id"] == user_id
        orders = expect(server.client.get(f"/order-api/orders/user/{user_id}", token=login["access_token"]), 200)
        assert orders["total"] == 1
        assert shop_product(server.client, 9)["quantity"] == stock - 2  # not re-seeded
        assert len(expect(server.client.get("/api/categories"), 200)) == 5
    finally:
        assert server.stop() == 0
