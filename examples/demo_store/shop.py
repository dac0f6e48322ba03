"""The shop blueprint: users and bearer tokens, catalogue, per-user carts, checkout and orders.

Order status is derived from the order's age: CREATED, then PAID after one
``order_step``, SHIPPED after two, DELIVERED after three.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from examples.demo_store.auth import bearer_token, current_user, is_admin, require_admin, require_self_or_admin
from examples.demo_store.db import db, transaction
from examples.demo_store.errors import ApiError
from examples.demo_store.inputs import Fields, Query, amount, cents, json_body
from examples.demo_store.security import hash_password, new_token, verify_password

bp = Blueprint("shop", __name__)

STATUSES = ("CREATED", "PAID", "SHIPPED", "DELIVERED")
PRODUCTS_SQL = (
    "SELECT p.id, p.name, p.description, p.price_cents, c.name AS category, p.quantity"
    " FROM products p JOIN categories c ON c.id = p.category_id"
)


# --- users -----------------------------------------------------------------------------------------


def user_json(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "username": row["username"], "email": row["email"], "role": row["role"]}


def require_user_exists(user_id: int) -> None:
    if db().execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
        raise ApiError(404, "user not found")


@bp.post("/user-api/register")
def register() -> ResponseReturnValue:
    body = json_body()
    fields = Fields(body)
    username = fields.text("username", max_length=64)
    email = fields.text("email", max_length=254)
    if email is not None and "@" not in email:
        fields.fail("email", "must be an email address")
    password = body.get("password")
    if password is None:
        fields.fail("password", "is required")
    elif not isinstance(password, str) or len(password) < 6:
        fields.fail("password", "must be a string of at least 6 characters")
    fields.done()
    password_hash = hash_password(str(password))
    try:
        cursor = db().execute(
            "INSERT INTO users (username, email, password_hash, role) VALUES (?, ?, ?, 'user')",
            (username, email, password_hash),
        )
    except sqlite3.IntegrityError:
        raise ApiError(409, "username already exists") from None
    return jsonify(id=cursor.lastrowid, username=username, email=email, role="user"), 201


@bp.post("/user-api/login")
def login() -> ResponseReturnValue:
    body = json_body()
    username, password = body.get("username"), body.get("password")
    fields = Fields(body)
    if not isinstance(username, str) or not username:
        fields.fail("username", "is required")
    if not isinstance(password, str) or not password:
        fields.fail("password", "is required")
    fields.done()
    conn = db()
    user = conn.execute("SELECT id, password_hash FROM users WHERE username = ?", (username,)).fetchone()
    if user is None or not verify_password(str(password), user["password_hash"]):
        raise ApiError(401, "invalid username or password")
    token = new_token()
    conn.execute("INSERT INTO tokens (token, user_id, created_at) VALUES (?, ?, ?)", (token, user["id"], time.time()))
    return jsonify(access_token=token, token_type="bearer", user_id=user["id"])


@bp.post("/user-api/logout")
def logout() -> ResponseReturnValue:
    current_user()
    db().execute("DELETE FROM tokens WHERE token = ?", (bearer_token(),))
    return jsonify(detail="logged out")


@bp.get("/user-api/me")
def me() -> ResponseReturnValue:
    return jsonify(user_json(current_user()))


@bp.get("/user-api/users/<int:user_id>/profile")
def profile(user_id: int) -> ResponseReturnValue:
    require_self_or_admin(user_id)
    conn = db()
    row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise ApiError(404, "user not found")
    count, spent = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(total_cents), 0) FROM orders WHERE user_id = ?", (user_id,)
    ).fetchone()
    return jsonify({**user_json(row), "statistics": {"total_orders": count, "total_spent": amount(spent)}})


@bp.get("/user-api/users")
def users() -> ResponseReturnValue:
    require_admin()
    return jsonify([user_json(row) for row in db().execute("SELECT * FROM users ORDER BY id")])


# --- catalogue -------------------------------------------------------------------------------------


def product_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "price": amount(row["price_cents"]),
        "category": row["category"],
        "quantity": row["quantity"],
    }


def list_categories(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every category with its number of products."""
    rows = conn.execute(
        "SELECT c.id, c.name, COUNT(p.id) AS product_count FROM categories c"
        " LEFT JOIN products p ON p.category_id = c.id GROUP BY c.id ORDER BY c.id"
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True)
class ProductSearch:
    """Catalogue filters and the page to show."""

    category: str | None = None
    q: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    page: int = 1
    limit: int = 20


def product_search(fields: Fields, price_names: tuple[str, str] = ("min_price", "max_price")) -> ProductSearch:
    """Read and check ``category``, ``q``, the prices, ``page`` and ``limit`` (422 when invalid).

    ``price_names``: what the minimum and maximum price are called in ``fields``.
    """
    min_name, max_name = price_names
    page = fields.integer("page", minimum=1, required=False) or 1
    limit = fields.integer("limit", minimum=1, maximum=100, required=False) or 20
    min_price = fields.number(min_name, minimum=0, required=False)
    max_price = fields.number(max_name, minimum=0, required=False)
    if min_price is not None and max_price is not None and min_price > max_price:
        fields.fail(min_name, f"must not exceed {max_name}")
    fields.done()
    category, q = fields.source.get("category"), fields.source.get("q")
    return ProductSearch(
        category=str(category) if category else None,
        q=str(q) if q else None,
        min_price=min_price,
        max_price=max_price,
        page=page,
        limit=limit,
    )


def find_products(conn: sqlite3.Connection, search: ProductSearch) -> tuple[int, list[dict[str, Any]]]:
    """The number of matching products and the requested page of them, by id."""
    where: list[str] = []
    params: list[Any] = []
    if search.category:
        where.append("c.name = ? COLLATE NOCASE")
        params.append(search.category)
    if search.q:
        where.append("instr(lower(p.name), lower(?)) > 0")
        params.append(search.q)
    if search.min_price is not None:
        where.append("p.price_cents >= ?")
        params.append(cents(search.min_price))
    if search.max_price is not None:
        where.append("p.price_cents <= ?")
        params.append(cents(search.max_price))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(
        f"SELECT COUNT(*) FROM products p JOIN categories c ON c.id = p.category_id{clause}", params
    ).fetchone()[0]
    rows = conn.execute(
        f"{PRODUCTS_SQL}{clause} ORDER BY p.id LIMIT ? OFFSET ?",
        [*params, search.limit, (search.page - 1) * search.limit],
    )
    return total, [product_json(row) for row in rows]


def find_product(conn: sqlite3.Connection, product_id: int) -> dict[str, Any] | None:
    row = conn.execute(f"{PRODUCTS_SQL} WHERE p.id = ?", (product_id,)).fetchone()
    return None if row is None else product_json(row)


@bp.get("/api/categories")
def categories() -> ResponseReturnValue:
    return jsonify(list_categories(db()))


@bp.get("/api/products")
def products() -> ResponseReturnValue:
    total, found = find_products(db(), product_search(Query()))
    response = jsonify(found)
    response.headers["X-Total-Count"] = str(total)
    return response


@bp.get("/api/products/<int:product_id>")
def product(product_id: int) -> ResponseReturnValue:
    found = find_product(db(), product_id)
    if found is None:
        raise ApiError(404, "product not found")
    return jsonify(found)


# --- cart ------------------------------------------------------------------------------------------


def own_cart(user_id: int) -> None:
    if current_user()["id"] != user_id:
        raise ApiError(403, "not your cart")


def cart_json(conn: sqlite3.Connection, user_id: int) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT ci.product_id, p.name, p.price_cents, ci.quantity FROM cart_items ci"
        " JOIN products p ON p.id = ci.product_id WHERE ci.user_id = ? ORDER BY ci.rowid",
        (user_id,),
    ).fetchall()
    items = [
        {
            "product_id": row["product_id"],
            "name": row["name"],
            "price": amount(row["price_cents"]),
            "quantity": row["quantity"],
            "subtotal": amount(row["price_cents"] * row["quantity"]),
        }
        for row in rows
    ]
    total = sum(row["price_cents"] * row["quantity"] for row in rows)
    return {
        "user_id": user_id,
        "items": items,
        "total_value": amount(total),
        "item_count": sum(row["quantity"] for row in rows),
    }


def cart_line(conn: sqlite3.Connection, user_id: int, product_id: int) -> sqlite3.Row:
    row = conn.execute(
        "SELECT ci.quantity, p.quantity AS stock FROM cart_items ci JOIN products p ON p.id = ci.product_id"
        " WHERE ci.user_id = ? AND ci.product_id = ?",
        (user_id, product_id),
    ).fetchone()
    if row is None:
        raise ApiError(404, "product not in cart", product_id=product_id)
    return row


def check_stock(product_id: int, wanted: int, stock: int) -> None:
    if wanted > stock:
        raise ApiError(409, "insufficient stock", product_id=product_id, available=stock)


@bp.get("/cart-api/cart/<int:user_id>")
def cart(user_id: int) -> ResponseReturnValue:
    own_cart(user_id)
    return jsonify(cart_json(db(), user_id))


def add_to_cart(conn: sqlite3.Connection, user_id: int, product_id: int, quantity: int) -> None:
    """Add ``quantity`` (>= 1) of a product to a cart; 404 for an unknown product, 409 beyond its stock."""
    with transaction(conn):
        row = conn.execute("SELECT quantity FROM products WHERE id = ?", (product_id,)).fetchone()
        if row is None:
            raise ApiError(404, "product not found", product_id=product_id)
        line = conn.execute(
            "SELECT quantity FROM cart_items WHERE user_id = ? AND product_id = ?", (user_id, product_id)
        ).fetchone()
        check_stock(product_id, quantity + (line["quantity"] if line else 0), row["quantity"])
        conn.execute(
            "INSERT INTO cart_items (user_id, product_id, quantity) VALUES (?, ?, ?)"
            " ON CONFLICT(user_id, product_id) DO UPDATE SET quantity = quantity + excluded.quantity",
            (user_id, product_id, quantity),
        )


def cart_change(user_id: int) -> tuple[int, int]:
    """The caller's own cart, and the ``product_id`` and ``quantity`` (at least 1) of the JSON body."""
    own_cart(user_id)
    fields = Fields(json_body())
    product_id = fields.integer("product_id")
    quantity = fields.integer("quantity", minimum=1)
    fields.done()
    assert product_id is not None and quantity is not None
    return product_id, quantity


@bp.post("/cart-api/cart/<int:user_id>/add")
def cart_add(user_id: int) -> ResponseReturnValue:
    product_id, quantity = cart_change(user_id)
    conn = db()
    add_to_cart(conn, user_id, product_id, quantity)
    return jsonify(cart_json(conn, user_id))


@bp.put("/cart-api/cart/<int:user_id>/update")
def cart_update(user_id: int) -> ResponseReturnValue:
    product_id, quantity = cart_change(user_id)
    with transaction(db()) as conn:
        line = cart_line(conn, user_id, product_id)
        check_stock(product_id, quantity, line["stock"])
        conn.execute(
            "UPDATE cart_items SET quantity = ? WHERE user_id = ? AND product_id = ?", (quantity, user_id, product_id)
        )
    return jsonify(cart_json(conn, user_id))


@bp.post("/cart-api/cart/<int:user_id>/remove")
def cart_remove(user_id: int) -> ResponseReturnValue:
    own_cart(user_id)
    fields = Fields(json_body())
    product_id = fields.integer("product_id")
    fields.done()
    assert product_id is not None
    with transaction(db()) as conn:
        cart_line(conn, user_id, product_id)
        conn.execute("DELETE FROM cart_items WHERE user_id = ? AND product_id = ?", (user_id, product_id))
    return jsonify(cart_json(conn, user_id))


@bp.post("/cart-api/cart/<int:user_id>/checkout")
def checkout(user_id: int) -> ResponseReturnValue:
    own_cart(user_id)
    with transaction(db()) as conn:
        lines = conn.execute(
            "SELECT ci.product_id, ci.quantity, p.name, p.price_cents, p.quantity AS stock FROM cart_items ci"
            " JOIN products p ON p.id = ci.product_id WHERE ci.user_id = ? ORDER BY ci.rowid",
            (user_id,),
        ).fetchall()
        if not lines:
            raise ApiError(409, "cart is empty")
        for line in lines:
            check_stock(line["product_id"], line["quantity"], line["stock"])
        total = sum(line["price_cents"] * line["quantity"] for line in lines)
        order_id = conn.execute(
            "INSERT INTO orders (user_id, total_cents, created_at) VALUES (?, ?, ?)", (user_id, total, time.time())
        ).lastrowid
        for line in lines:
            conn.execute(
                "UPDATE products SET quantity = quantity - ? WHERE id = ?", (line["quantity"], line["product_id"])
            )
            conn.execute(
                "INSERT INTO order_items (order_id, product_id, name, price_cents, quantity) VALUES (?, ?, ?, ?, ?)",
                (order_id, line["product_id"], line["name"], line["price_cents"], line["quantity"]),
            )
        conn.execute("DELETE FROM cart_items WHERE user_id = ?", (user_id,))
    return jsonify(load_orders(conn, "o.id = ?", (order_id,))[0]), 201


# --- orders ----------------------------------------------------------------------------------------


def status_at(created_at: float, now: float) -> str:
    """The status an order created at ``created_at`` has reached at ``now``."""
    step = float(current_app.config["DEMO_ORDER_STEP"])
    age = now - created_at
    reached = sum(1 for k in (1, 2, 3) if age >= k * step)
    return STATUSES[reached]


def timestamp(value: float) -> str:
    moment = datetime.fromtimestamp(value, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def load_orders(conn: sqlite3.Connection, where: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Orders matching ``where`` (on alias ``o``), newest first, each with its items."""
    rows = conn.execute(
        f"SELECT o.* FROM orders o WHERE {where} ORDER BY o.created_at DESC, o.id DESC", params
    ).fetchall()
    items: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
    for item in conn.execute(
        f"SELECT i.* FROM order_items i JOIN orders o ON o.id = i.order_id WHERE {where} ORDER BY i.rowid", params
    ):
        items[item["order_id"]].append(
            {
                "product_id": item["product_id"],
                "name": item["name"],
                "price": amount(item["price_cents"]),
                "quantity": item["quantity"],
                "subtotal": amount(item["price_cents"] * item["quantity"]),
            }
        )
    now = time.time()
    return [
        {
            "id": row["id"],
            "user_id": row["user_id"],
            "items": items[row["id"]],
            "total_amount": amount(row["total_cents"]),
            "status": status_at(row["created_at"], now),
            "created_at": timestamp(row["created_at"]),
        }
        for row in rows
    ]


@bp.get("/order-api/orders/<int:order_id>")
def order(order_id: int) -> ResponseReturnValue:
    user = current_user()
    found = load_orders(db(), "o.id = ?", (order_id,))
    if not found:
        raise ApiError(404, "order not found")
    if found[0]["user_id"] != user["id"] and not is_admin(user):
        raise ApiError(403, "not your order")
    return jsonify(found[0])


@bp.get("/order-api/orders/user/<int:user_id>")
def user_orders(user_id: int) -> ResponseReturnValue:
    require_self_or_admin(user_id)
    require_user_exists(user_id)
    found = load_orders(db(), "o.user_id = ?", (user_id,))
    return jsonify(orders=found, total=len(found))


@bp.get("/order-api/orders")
def all_orders() -> ResponseReturnValue:
    require_admin()
    return jsonify(load_orders(db(), "1 = 1"))
