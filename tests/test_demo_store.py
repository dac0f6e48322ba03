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
    expect(client.post("/inventory-api/products", token=admin_token(client), json=[1, 2]), 422)


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


@pytest.mark.slow
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
    admin = admin_token(client)
    created = expect(
        client.post(
            "/inventory-api/products",
            token=admin,
            json={"sku": "TST-1", "name": "Test Gadget", "price": 9.99, "stock": 10},
        ),
        201,
    )
    assert created == {"id": created["id"], "sku": "TST-1", "name": "Test Gadget", "price": 9.99, "stock": 10}
    pid = created["id"]
    expect(
        client.post(
            "/inventory-api/products", token=admin, json={"sku": "TST-1", "name": "Again", "price": 1, "stock": 1}
        ),
        409,
    )
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
        expect(client.post("/inventory-api/products", token=admin, json=body), 422)
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
    updated = expect(client.put(f"/inventory-api/products/{pid}", token=admin, json={"price": 12.5}), 200)
    assert updated == {**created, "price": 12.5}
    assert (
        expect(client.put(f"/inventory-api/products/{pid}", token=admin, json={"name": "Renamed"}), 200)["name"]
        == "Renamed"
    )
    for body in ({}, {"price": -1}, {"price": "x"}, {"name": ""}, {"stock": 99}):
        expect(client.put(f"/inventory-api/products/{pid}", token=admin, json=body), 422)
    expect(client.put("/inventory-api/products/99999", token=admin, json={"price": 1}), 404)
    # stock
    assert expect(client.get(f"/inventory-api/products/{pid}/stock"), 200) == {"product_id": pid, "stock": 10}
    assert expect(client.post(f"/inventory-api/products/{pid}/restock", token=admin, json={"quantity": 5}), 200) == {
        "product_id": pid,
        "stock": 15,
    }
    for body in ({}, {"quantity": 0}, {"quantity": -3}, {"quantity": "5"}, {"quantity": 2.5}):
        expect(client.post(f"/inventory-api/products/{pid}/restock", token=admin, json=body), 422)
    expect(client.post("/inventory-api/products/99999/restock", token=admin, json={"quantity": 1}), 404)
    expect(client.get("/inventory-api/products/99999/stock"), 404)
    # delete
    deleted = client.delete(f"/inventory-api/products/{pid}", token=admin)
    assert deleted.status_code == 204 and deleted.content == b""
    expect(client.get(f"/inventory-api/products/{pid}"), 404)
    expect(client.delete(f"/inventory-api/products/{pid}", token=admin), 404)


def test_inventory_product_writes_need_an_admin_token(client: Client) -> None:
    _, clerk = sign_up(client, "clerk")
    admin = admin_token(client)
    revoked = admin_token(client)
    expect(client.post("/user-api/logout", token=revoked), 200)
    before = expect(client.get("/inventory-api/products", params={"limit": 100}), 200)
    writes = [
        ("POST", "/inventory-api/products", {"sku": "NEW-1", "name": "New", "price": 1, "stock": 1}, 201),
        ("PUT", "/inventory-api/products/{}", {"price": 99}, 200),
        ("POST", "/inventory-api/products/{}/restock", {"quantity": 5}, 200),
        ("DELETE", "/inventory-api/products/{}", None, 204),
    ]
    for method, pattern, body, _ in writes:
        path = pattern.format(1)
        missing = client.request(method, path, json=body)
        assert expect(missing, 401)["detail"] == "not authenticated"
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        assert (
            expect(client.request(method, path, token="forged", json=body), 401)["detail"] == "invalid or revoked token"
        )
        expect(client.request(method, path, token=revoked, json=body), 401)
        expect(client.request(method, path, headers={"Authorization": f"Basic {admin}"}, json=body), 401)
        assert expect(client.request(method, path, token=clerk, json=body), 403)["detail"] == "admin only"
        expect(client.request(method, pattern.format(99999), token=clerk, json=body), 403)  # checked before 404
    assert expect(client.get("/inventory-api/products", params={"limit": 100}), 200) == before  # nothing changed
    for method, pattern, body, status in writes:
        assert client.request(method, pattern.format(1), token=admin, json=body).status_code == status, pattern
    # reads, orders and the dashboard stay open
    expect(client.get("/inventory-api/products/2/stock"), 200)
    order = expect(client.post("/inventory-api/orders", json={"items": [{"product_id": 2, "quantity": 1}]}), 201)
    expect(client.post(f"/inventory-api/orders/{order['id']}/pay"), 200)
    expect(client.post(f"/inventory-api/orders/{order['id']}/ship"), 200)
    assert expect(client.get("/inventory-api/dashboard"), 200)["orders"]["SHIPPED"] == 1


def test_inventory_orders_lifecycle_and_dashboard(client: Client) -> None:
    admin = admin_token(client)
    first = expect(
        client.post(
            "/inventory-api/products", token=admin, json={"sku": "A-1", "name": "Alpha", "price": 2.5, "stock": 10}
        ),
        201,
    )
    second = expect(
        client.post(
            "/inventory-api/products", token=admin, json={"sku": "B-1", "name": "Beta", "price": 4, "stock": 3}
        ),
        201,
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
    expect(client.post(f"/inventory-api/products/{b}/restock", token=admin, json={"quantity": 7}), 200)
    expect(client.delete(f"/inventory-api/products/{a}", token=admin), 409)
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


# --- GraphQL ---------------------------------------------------------------------------------------


def graphql(
    client: Client,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    operation_name: str | None = None,
) -> dict[str, Any]:
    """POST a GraphQL request: the answer (always HTTP 200) with ``data`` and perhaps ``errors``."""
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation_name is not None:
        body["operationName"] = operation_name
    answer = expect(client.post("/graphql", token=token, json=body), 200)
    assert set(answer) <= {"data", "errors"} and "data" in answer, answer
    return dict(answer)


def messages(answer: dict[str, Any]) -> list[str]:
    return [error["message"] for error in answer.get("errors", [])]


def failed(answer: dict[str, Any]) -> str:
    """The one error of a request that did not run (data is null)."""
    assert answer["data"] is None and len(answer["errors"]) == 1, answer
    return str(answer["errors"][0]["message"])


PRODUCT_FIELDS = "id name description price category quantity"
ALIASES_HINT = " Use different aliases on the fields to fetch both if this was intentional."


def test_graphql_catalogue_matches_the_rest_api(client: Client) -> None:
    rest_categories = expect(client.get("/api/categories"), 200)
    answer = graphql(client, "{ categories { id name productCount } }")
    assert answer == {
        "data": {
            "categories": [
                {"id": c["id"], "name": c["name"], "productCount": c["product_count"]} for c in rest_categories
            ]
        }
    }
    assert graphql(client, f"{{ products {{ {PRODUCT_FIELDS} }} }}")["data"]["products"] == expect(
        client.get("/api/products"), 200
    )
    filters = [
        ('category: "books", limit: 100', {"category": "books", "limit": 100}),
        ("minPrice: 100, maxPrice: 500.5, limit: 100", {"min_price": 100, "max_price": 500.5, "limit": 100}),
        ('q: "KEYBOARD"', {"q": "KEYBOARD"}),
        ("limit: 7, page: 2", {"limit": 7, "page": 2}),
        ('category: "Toys"', {"category": "Toys"}),
    ]
    for arguments, params in filters:
        found = graphql(client, f"{{ products({arguments}) {{ {PRODUCT_FIELDS} }} }}")
        assert found == {"data": {"products": expect(client.get("/api/products", params=params), 200)}}, arguments
    assert graphql(client, f"{{ product(id: 4) {{ {PRODUCT_FIELDS} }} }}") == {
        "data": {"product": shop_product(client, 4)}
    }
    assert graphql(client, "{ product(id: 99999) { id } }") == {"data": {"product": None}}  # no error
    # invalid filters: the REST rules, as error entries on the field
    for arguments, message in [
        ("limit: 101", "invalid arguments: limit must be <= 100"),
        ("page: 0", "invalid arguments: page must be >= 1"),
        ("minPrice: -1", "invalid arguments: minPrice must be >= 0"),
        ("minPrice: 50, maxPrice: 10", "invalid arguments: minPrice must not exceed maxPrice"),
    ]:
        answer = graphql(client, f"{{ products({arguments}) {{ id }} }}")
        assert answer["data"] == {"products": None}
        [error] = answer["errors"]
        assert error["message"] == message and error["path"] == ["products"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_graphql_aliases_typename_comments_and_strings(client: Client) -> None:
    answer = graphql(
        client,
        """
        # the cheapest and the dearest products
        query Extremes {   # a named query
          __typename
          cheap: products(maxPrice: 20, limit: 100) { id price __typename }
          dear: products(minPrice: 1000, limit: 100,) { id, price }  # commas are ignored
          first: product(id: 1) { name }
          second: product(id: 2) { label: name }
        }
        """,
    )
    data = answer["data"]
    assert "errors" not in answer and list(data) == ["__typename", "cheap", "dear", "first", "second"]
    assert data["__typename"] == "Query"
    cheap = expect(client.get("/api/products", params={"max_price": 20, "limit": 100}), 200)
    assert data["cheap"] == [{"id": p["id"], "price": p["price"], "__typename": "Product"} for p in cheap]
    assert data["dear"] and all(p["price"] >= 1000 for p in data["dear"])
    assert data["first"] == {"name": shop_product(client, 1)["name"]}
    assert data["second"] == {"label": shop_product(client, 2)["name"]}
    assert graphql(client, "mutation { __typename }") == {"data": {"__typename": "Mutation"}}
    # the same field twice is merged
    merged = graphql(client, "{ product(id: 3) { id } product(id: 3) { name id } }")
    assert merged == {"data": {"product": {"id": 3, "name": shop_product(client, 3)["name"]}}}
    # string escapes and block strings
    escaped = graphql(client, r'{ a: products(q: "Me\u0063hanical\tKeyboard") { id } b: products(q: "\"") { id } }')
    assert escaped == {"data": {"a": [], "b": []}}
    escaped = graphql(client, r'{ products(q: "Me\u0063hanical Keyboard") { name } }')
    assert escaped == {"data": {"products": [{"name": "Mechanical Keyboard"}]}}
    block = graphql(client, '{ products(q: """\n      Mechanical\n    """) { name } }')
    assert block == {"data": {"products": [{"name": "Mechanical Keyboard"}]}}


def test_graphql_variables_defaults_and_operation_name(client: Client) -> None:
    query = """
        query Products($category: String, $limit: Int = 3, $page: Int) {
          products(category: $category, limit: $limit, page: $page) { id category }
        }
    """
    assert len(graphql(client, query)["data"]["products"]) == 3  # the variable's default
    books = graphql(client, query, {"category": "Books", "limit": 5, "page": 2})["data"]["products"]
    rest = expect(client.get("/api/products", params={"category": "Books", "limit": 5, "page": 2}), 200)
    assert books == [{"id": p["id"], "category": "Books"} for p in rest]
    # an absent variable without default leaves the argument to its own default (limit 20)
    assert len(graphql(client, "query ($n: Int) { products(limit: $n) { id } }")["data"]["products"]) == 20
    cheap = graphql(client, "query ($max: Float!) { products(maxPrice: $max, limit: 100) { price } }", {"max": 20})
    assert cheap["data"]["products"] and all(p["price"] <= 20 for p in cheap["data"]["products"])
    one = "query ($id: Int!) { product(id: $id) { id } }"
    assert graphql(client, one, {"id": 7, "unused": "ignored"}) == {"data": {"product": {"id": 7}}}
    # operationName picks one of several operations
    document = """
        query Categories { categories { name } }
        query One($id: Int!) { product(id: $id) { id } }
        mutation Add { addToCart(productId: 1, quantity: 1) { itemCount } }
    """
    assert list(graphql(client, document, operation_name="Categories")["data"]) == ["categories"]
    assert graphql(client, document, {"id": 9}, operation_name="One") == {"data": {"product": {"id": 9}}}
    assert failed(graphql(client, document)) == "Must provide operation name if query contains multiple operations."
    assert failed(graphql(client, document, operation_name="Nope")) == 'Unknown operation named "Nope".'
    assert failed(graphql(client, one, operation_name="Other")) == 'Unknown operation named "Other".'
    # bad variable values: nothing runs
    assert failed(graphql(client, one)) == 'Variable "$id" of required type "Int!" was not provided.'
    assert failed(graphql(client, one, {"id": None})).startswith('Variable "$id" got invalid value')
    assert 'Int cannot represent non-integer value: "x"' in failed(graphql(client, one, {"id": "x"}))
    assert "Int cannot represent non-integer value: 1.5" in failed(graphql(client, one, {"id": 1.5}))
    assert "non 32-bit signed integer" in failed(graphql(client, one, {"id": 2**31}))
    assert "Float cannot represent" in failed(
        graphql(client, "query ($m: Float) { products(maxPrice: $m) { id } }", {"m": True})
    )
    # bad variable definitions and uses
    for document, message in [
        ("{ product(id: $id) { id } }", 'Variable "$id" is not defined.'),
        ("query Q($id: Int!, $x: Int) { product(id: $id) { id } }", 'Variable "$x" is never used in operation "Q".'),
        (
            "query ($id: Int) { product(id: $id) { id } }",
            'Variable "$id" of type "Int" used in position expecting type "Int!".',
        ),
        (
            "query ($m: Int) { products(maxPrice: $m) { id } }",
            'Variable "$m" of type "Int" used in position expecting type "Float".',
        ),
        ("query ($id: ID!) { product(id: $id) { id } }", 'Unknown type "ID".'),
        ("query ($p: Product) { product(id: $p) { id } }", 'Variable "$p" cannot be non-input type "Product".'),
        ('query ($n: Int = "ten") { products(limit: $n) { id } }', 'Int cannot represent non-integer value: "ten"'),
        ("query ($n: Int, $n: Int) { products(limit: $n) { id } }", 'There can be only one variable named "$n".'),
    ]:
        assert failed(graphql(client, document)) == message, document
    # a nullable variable with a default may fill a non-null argument
    assert graphql(client, "query ($id: Int = 5) { product(id: $id) { id } }") == {"data": {"product": {"id": 5}}}


def test_graphql_me_and_order_need_a_token(client: Client) -> None:
    ann, ann_token = sign_up(client, "gql-ann")
    _, bob_token = sign_up(client, "gql-bob")
    me = "{ me { id username email role } }"
    assert graphql(client, me) == {
        "data": {"me": None},
        "errors": [
            {
                "message": "not authenticated",
                "locations": [{"line": 1, "column": 3}],
                "path": ["me"],
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ],
    }
    assert messages(graphql(client, me, token="forged")) == ["invalid or revoked token"]
    assert graphql(client, me, token=ann_token) == {
        "data": {"me": expect(client.get("/user-api/me", token=ann_token), 200)}
    }
    # partial data: what needs no token is still answered
    partial = graphql(client, "{ categories { name } me { id } }")
    assert len(partial["data"]["categories"]) == 5 and partial["data"]["me"] is None
    assert [(e["message"], e["path"]) for e in partial["errors"]] == [("not authenticated", ["me"])]
    # orders
    expect(client.post(f"/cart-api/cart/{ann}/add", token=ann_token, json={"product_id": 6, "quantity": 2}), 200)
    placed = expect(client.post(f"/cart-api/cart/{ann}/checkout", token=ann_token), 201)
    order = "query ($id: Int!) { order(id: $id) { id status totalAmount items { productId name price quantity } } }"
    expected = {
        "id": placed["id"],
        "status": "CREATED",
        "totalAmount": placed["total_amount"],
        "items": [
            {"productId": 6, "name": placed["items"][0]["name"], "price": placed["items"][0]["price"], "quantity": 2}
        ],
    }
    own = graphql(client, order, {"id": placed["id"]}, token=ann_token)
    assert own["data"]["order"]["status"] in STATUSES
    assert own == {"data": {"order": {**expected, "status": own["data"]["order"]["status"]}}}
    assert (
        graphql(client, order, {"id": placed["id"]}, token=admin_token(client))["data"]["order"]["id"] == placed["id"]
    )
    forbidden = graphql(client, order, {"id": placed["id"]}, token=bob_token)
    assert forbidden["data"] == {"order": None}
    [error] = forbidden["errors"]
    assert error["message"] == "forbidden" and error["path"] == ["order"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert messages(graphql(client, order, {"id": placed["id"]})) == ["not authenticated"]
    assert graphql(client, order, {"id": 99999}, token=ann_token) == {"data": {"order": None}}  # no error


def test_graphql_add_to_cart_mutation(client: Client) -> None:
    cyd, token = sign_up(client, "gql-cyd")
    add = """
        mutation Add($productId: Int!, $quantity: Int!) {
          addToCart(productId: $productId, quantity: $quantity) { itemCount totalValue items { productId quantity } }
        }
    """

    def rest_cart() -> dict[str, Any]:
        cart = expect(client.get(f"/cart-api/cart/{cyd}", token=token), 200)
        return {
            "itemCount": cart["item_count"],
            "totalValue": cart["total_value"],
            "items": [{"productId": i["product_id"], "quantity": i["quantity"]} for i in cart["items"]],
        }

    first = graphql(client, add, {"productId": 3, "quantity": 2}, token=token)
    assert first["data"]["addToCart"]["items"] == [{"productId": 3, "quantity": 2}]
    assert first == {"data": {"addToCart": rest_cart()}}
    serial = graphql(
        client,
        """mutation {
          a: addToCart(productId: 3, quantity: 1) { itemCount }
          b: addToCart(productId: 8, quantity: 2) { itemCount }
        }""",
        token=token,
    )
    assert serial == {"data": {"a": {"itemCount": 3}, "b": {"itemCount": 5}}}  # one after the other
    cart = rest_cart()
    assert cart["items"] == [{"productId": 3, "quantity": 3}, {"productId": 8, "quantity": 2}]
    assert cart["totalValue"] == pytest.approx(
        shop_product(client, 3)["price"] * 3 + shop_product(client, 8)["price"] * 2
    )
    # errors: the REST add's rules, as error entries; the cart is unchanged
    stock = shop_product(client, 8)["quantity"]
    for variables, message, extensions in [
        ({"productId": 99999, "quantity": 1}, "product not found", {"code": "NOT_FOUND", "productId": 99999}),
        (
            {"productId": 3, "quantity": 0},
            "invalid arguments: quantity must be >= 1",
            {"code": "BAD_USER_INPUT", "errors": [{"field": "quantity", "message": "must be >= 1"}]},
        ),
        (
            {"productId": 8, "quantity": stock - 1},
            "insufficient stock",
            {"code": "CONFLICT", "productId": 8, "available": stock},
        ),
    ]:
        answer = graphql(client, add, variables, token=token)
        assert answer["data"] == {"addToCart": None}
        [error] = answer["errors"]
        assert (error["message"], error["path"], error["extensions"]) == (message, ["addToCart"], extensions)
    assert messages(graphql(client, add, {"productId": 3, "quantity": 1})) == ["not authenticated"]
    # a mutation that does not validate does not run
    invalid = graphql(client, "mutation { addToCart(productId: 3, quantity: 1) { itemCount nope } }", token=token)
    assert failed(invalid) == 'Cannot query field "nope" on type "Cart".'
    assert rest_cart() == cart
    on_query = graphql(client, "{ addToCart(productId: 3, quantity: 1) { itemCount } }", token=token)
    assert failed(on_query) == 'Cannot query field "addToCart" on type "Query".'


def test_graphql_validation_errors(client: Client) -> None:
    unknown = graphql(client, "{\n  product(id: 1) {\n    id\n    nme\n  }\n}")
    assert unknown == {
        "data": None,
        "errors": [
            {
                "message": 'Cannot query field "nme" on type "Product". Did you mean "name"?',
                "locations": [{"line": 4, "column": 5}],
            }
        ],
    }
    for document, message in [
        ("{ produkts { id } }", 'Cannot query field "produkts" on type "Query". Did you mean "products" or "product"?'),
        ("{ me { id password } }", 'Cannot query field "password" on type "User".'),
        ("{ products(sort: 1) { id } }", 'Unknown argument "sort" on field "Query.products".'),
        ("{ product { id } }", 'Field "product" argument "id" of type "Int!" is required, but it was not provided.'),
        ("{ product(id: null) { id } }", 'Expected value of type "Int!", found null.'),
        ('{ product(id: "1") { id } }', 'Int cannot represent non-integer value: "1"'),
        ("{ product(id: 1.5) { id } }", "Int cannot represent non-integer value: 1.5"),
        ("{ product(id: 3000000000) { id } }", "Int cannot represent non 32-bit signed integer value: 3000000000"),
        ("{ products(category: BOOKS) { id } }", "String cannot represent a non string value: BOOKS"),
        ("{ products(q: [1]) { id } }", "String cannot represent a non string value: [1]"),
        ('{ products(q: {name: "x"}) { id } }', 'String cannot represent a non string value: {name: "x"}'),
        ("{ product(id: 1, id: 2) { id } }", 'There can be only one argument named "id".'),
        (
            "{ categories }",
            'Field "categories" of type "[Category!]" must have a selection of subfields.'
            ' Did you mean "categories { ... }"?',
        ),
        ("{ categories { id { value } } }", 'Field "id" must not have a selection since type "Int!" has no subfields.'),
        ("{ __typename { x } }", 'Field "__typename" must not have a selection since type "String" has no subfields.'),
        (
            "{ p: product(id: 1) { id } p: products { id } }",
            'Fields "p" conflict because "product" and "products" are different fields.' + ALIASES_HINT,
        ),
        (
            "{ product(id: 1) { id } product(id: 2) { id } }",
            'Fields "product" conflict because they have differing arguments.' + ALIASES_HINT,
        ),
        ("query A { me { id } } query A { me { id } }", 'There can be only one operation named "A".'),
        ("{ me { id } } query A { me { id } }", "This anonymous operation must be the only defined operation."),
    ]:
        assert failed(graphql(client, document)) == message, document
    several = graphql(client, "{ nope product { id } products(x: 1) { id } }")
    assert several["data"] is None and len(several["errors"]) == 3


def test_graphql_syntax_errors_and_bad_requests(client: Client) -> None:
    answer = graphql(client, "{\n  products(limit: 2 {\n    id\n  }\n}")
    assert answer == {
        "data": None,
        "errors": [
            {
                "message": 'Syntax Error: Expected Name, found "{" at line 2, column 21.',
                "locations": [{"line": 2, "column": 21}],
            }
        ],
    }
    for document, message in [
        ("", "Syntax Error: Unexpected <EOF> at line 1, column 1."),
        ("{ }", 'Syntax Error: Expected Name, found "}" at line 1, column 3.'),
        ("{ categories { id }", "Syntax Error: Expected Name, found <EOF> at line 1, column 20."),
        ('{ products(q: "abc) { id } }', "Syntax Error: Unterminated string at line 1, column 29."),
        (
            r'{ products(q: "\x") { id } }',
            'Syntax Error: Invalid character escape sequence: "\\\\x" at line 1, column 16.',
        ),
        ("{ product(id: 01) { id } }", 'Syntax Error: Invalid number: unexpected "1" at line 1, column 16.'),
        ("{ categories { id } } %", 'Syntax Error: Unexpected character: "%" at line 1, column 23.'),
        ("# only a comment", "Syntax Error: Unexpected <EOF> at line 1, column 17."),
        (
            "query ($n: Int = $m) { products(limit: $n) { id } }",
            'Syntax Error: Unexpected variable "$m" in a constant value at line 1, column 18.',
        ),
        ("{ me { ...UserFields } }", "Syntax Error: fragments are not supported at line 1, column 8."),
        ("{ me @include(if: true) { id } }", "Syntax Error: directives are not supported at line 1, column 6."),
        ("subscription { me { id } }", "Syntax Error: subscriptions are not supported at line 1, column 1."),
        (
            "{ a " * 70 + "}" * 70,
            "Syntax Error: the document is nested more than 64 levels deep at line 1, column 257.",
        ),
    ]:
        assert failed(graphql(client, document)) == message, document
    # a request that is not a GraphQL request: 400
    not_requests: list[dict[str, Any]] = [
        {"data": "not json"},
        {"json": ["{ categories { id } }"]},
        {"json": {}},
        {"json": {"query": 5}},
        {"json": {"query": "{ categories { id } }", "variables": [1]}},
        {"json": {"query": "{ categories { id } }", "operationName": 5}},
    ]
    for body in not_requests:
        response = client.post("/graphql", **body)
        assert response.status_code == 400 and response.headers["Content-Type"] == "application/json", body
        [error] = response.json()["errors"]
        assert isinstance(error["message"], str) and error["message"], body
    assert expect(client.get("/graphql"), 405) == {"detail": "method not allowed"}


def test_graphql_introspection_describes_the_schema(client: Client) -> None:
    roots = graphql(client, "{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }")
    assert roots == {
        "data": {
            "__schema": {"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}, "subscriptionType": None}
        }
    }
    query = graphql(
        client,
        """{ __type(name: "Query") {
             kind fields { name type { kind name ofType { name } } args { name defaultValue type { kind name } } }
        } }""",
    )["data"]["__type"]
    assert query["kind"] == "OBJECT"
    fields = {f["name"]: f for f in query["fields"]}
    assert list(fields) == ["categories", "products", "product", "me", "order"]
    assert fields["categories"]["type"] == {"kind": "LIST", "name": None, "ofType": {"name": None}}
    assert fields["product"]["type"] == {"kind": "OBJECT", "name": "Product", "ofType": None}
    assert [(a["name"], a["defaultValue"], a["type"]["name"]) for a in fields["products"]["args"]] == [
        ("category", None, "String"),
        ("maxPrice", None, "Float"),
        ("minPrice", None, "Float"),
        ("q", None, "String"),
        ("limit", "20", "Int"),
        ("page", "1", "Int"),
    ]
    assert fields["order"]["args"] == [{"name": "id", "defaultValue": None, "type": {"kind": "NON_NULL", "name": None}}]
    product = graphql(client, '{ __type(name: "Product") { fields { name } } }')["data"]["__type"]
    assert [f["name"] for f in product["fields"]] == PRODUCT_FIELDS.split()
    mutation = graphql(client, '{ __type(name: "Mutation") { fields { name args { name } } } }')["data"]["__type"]
    assert mutation == {"fields": [{"name": "addToCart", "args": [{"name": "productId"}, {"name": "quantity"}]}]}
    assert graphql(client, '{ __type(name: "Nope") { name } }') == {"data": {"__type": None}}
    # introspection is validated like any other query
    assert failed(graphql(client, "{ __schema { nope } }")) == 'Cannot query field "nope" on type "__Schema".'


def test_graphql_unknown_field_is_a_validation_error_with_status_200(client: Client) -> None:
    response = client.post("/graphql", json={"query": "{ categories { id } nope }"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "data": None,
        "errors": [{"message": 'Cannot query field "nope" on type "Query".', "locations": [{"line": 1, "column": 21}]}],
    }
    # the same document twice (prepared documents are cached): the same answer
    assert client.post("/graphql", json={"query": "{ categories { id } nope }"}).json() == response.json()


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


@pytest.mark.slow
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


@pytest.mark.slow
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
