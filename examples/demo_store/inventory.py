"""The inventory blueprint: products with stock, orders that reserve stock, a dashboard.

Product writes (create, update, delete, restock) need an admin's bearer token
(401 without a valid one, 403 for other users); reads, orders and the
dashboard are open.

Stock is only changed by orders (reserve) and restocks, and each product keeps
its initial stock and restocked units, so ``units_ordered`` (the sum over
orders) must equal ``units_sold_from_stock`` (initial + restocked - current)
unless something was oversold.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from examples.demo_store.auth import require_admin
from examples.demo_store.db import db, transaction
from examples.demo_store.errors import ApiError
from examples.demo_store.inputs import Fields, Query, amount, cents, json_body

bp = Blueprint("inventory", __name__, url_prefix="/inventory-api")

NEXT_STATUS = {"pay": ("CREATED", "PAID"), "ship": ("PAID", "SHIPPED")}
LOW_STOCK = 5


def product_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "sku": row["sku"],
        "name": row["name"],
        "price": amount(row["price_cents"]),
        "stock": row["stock"],
    }


def get_product(conn: sqlite3.Connection, product_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM inv_products WHERE id = ?", (product_id,)).fetchone()
    if row is None:
        raise ApiError(404, "product not found", product_id=product_id)
    return row


@bp.post("/products")
def create_product() -> ResponseReturnValue:
    require_admin()
    fields = Fields(json_body())
    sku = fields.text("sku", max_length=64)
    name = fields.text("name")
    price = fields.number("price", minimum=0)
    stock = fields.integer("stock", minimum=0)
    fields.done()
    assert price is not None
    conn = db()
    try:
        product_id = conn.execute(
            "INSERT INTO inv_products (sku, name, price_cents, stock, initial_stock) VALUES (?, ?, ?, ?, ?)",
            (sku, name, cents(price), stock, stock),
        ).lastrowid
    except sqlite3.IntegrityError:
        raise ApiError(409, "sku already exists", sku=sku) from None
    return jsonify(product_json(get_product(conn, product_id or 0))), 201


@bp.get("/products")
def list_products() -> ResponseReturnValue:
    query = Query()
    limit = query.integer("limit", minimum=1, maximum=100) or 20
    offset = query.integer("offset", minimum=0) or 0
    query.done()
    where, params = "", []
    if request.args.get("q"):
        where = " WHERE instr(lower(name), lower(?)) > 0 OR instr(lower(sku), lower(?)) > 0"
        params = [request.args["q"]] * 2
    conn = db()
    total = conn.execute(f"SELECT COUNT(*) FROM inv_products{where}", params).fetchone()[0]
    rows = conn.execute(f"SELECT * FROM inv_products{where} ORDER BY id LIMIT ? OFFSET ?", [*params, limit, offset])
    return jsonify(items=[product_json(row) for row in rows], total=total)


@bp.get("/products/<int:product_id>")
def show_product(product_id: int) -> ResponseReturnValue:
    return jsonify(product_json(get_product(db(), product_id)))


@bp.put("/products/<int:product_id>")
def update_product(product_id: int) -> ResponseReturnValue:
    require_admin()
    body = json_body()
    fields = Fields(body)
    name = fields.text("name", required=False)
    price = fields.number("price", minimum=0, required=False)
    if "stock" in body:
        fields.fail("stock", "cannot be set here: use /restock or orders")
    if name is None and price is None and not fields.errors:
        fields.fail("name", "or price is required")
    fields.done()
    with transaction(db()) as conn:
        get_product(conn, product_id)
        if name is not None:
            conn.execute("UPDATE inv_products SET name = ? WHERE id = ?", (name, product_id))
        if price is not None:
            conn.execute("UPDATE inv_products SET price_cents = ? WHERE id = ?", (cents(price), product_id))
    return jsonify(product_json(get_product(conn, product_id)))


@bp.delete("/products/<int:product_id>")
def delete_product(product_id: int) -> ResponseReturnValue:
    require_admin()
    with transaction(db()) as conn:
        get_product(conn, product_id)
        if conn.execute("SELECT 1 FROM inv_order_items WHERE product_id = ? LIMIT 1", (product_id,)).fetchone():
            raise ApiError(409, "product has orders", product_id=product_id)
        conn.execute("DELETE FROM inv_products WHERE id = ?", (product_id,))
    return "", 204


@bp.get("/products/<int:product_id>/stock")
def stock(product_id: int) -> ResponseReturnValue:
    return jsonify(product_id=product_id, stock=get_product(db(), product_id)["stock"])


@bp.post("/products/<int:product_id>/restock")
def restock(product_id: int) -> ResponseReturnValue:
    require_admin()
    fields = Fields(json_body())
    quantity = fields.integer("quantity", minimum=1)
    fields.done()
    with transaction(db()) as conn:
        get_product(conn, product_id)
        conn.execute(
            "UPDATE inv_products SET stock = stock + ?, restocked = restocked + ? WHERE id = ?",
            (quantity, quantity, product_id),
        )
    return jsonify(product_id=product_id, stock=get_product(conn, product_id)["stock"])


def order_items(body: dict[str, Any]) -> dict[int, int]:
    """The requested quantity per product (repeated products are added up); 422 when malformed."""
    items = body.get("items")
    fields = Fields(body)
    if not isinstance(items, list) or not items:
        fields.fail("items", "must be a non-empty list")
        fields.done()
    wanted: dict[int, int] = {}
    for index, item in enumerate(items or []):
        if not isinstance(item, dict):
            fields.fail(f"items[{index}]", "must be an object")
            continue
        line = Fields(item)
        product_id = line.integer("product_id")
        quantity = line.integer("quantity", minimum=1)
        for error in line.errors:
            fields.fail(f"items[{index}].{error['field']}", error["message"])
        if product_id is not None and quantity is not None:
            wanted[product_id] = wanted.get(product_id, 0) + quantity
    fields.done()
    return wanted


def order_json(conn: sqlite3.Connection, order_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM inv_orders WHERE id = ?", (order_id,)).fetchone()
    if row is None:
        raise ApiError(404, "order not found")
    items = conn.execute(
        "SELECT i.product_id, p.sku, p.name, i.quantity, i.price_cents FROM inv_order_items i"
        " JOIN inv_products p ON p.id = i.product_id WHERE i.order_id = ? ORDER BY i.rowid",
        (order_id,),
    )
    return {
        "id": row["id"],
        "status": row["status"],
        "items": [
            {
                "product_id": item["product_id"],
                "sku": item["sku"],
                "name": item["name"],
                "quantity": item["quantity"],
                "price": amount(item["price_cents"]),
                "subtotal": amount(item["price_cents"] * item["quantity"]),
            }
            for item in items
        ],
        "total": amount(row["total_cents"]),
    }


@bp.post("/orders")
def create_order() -> ResponseReturnValue:
    wanted = order_items(json_body())
    with transaction(db()) as conn:
        products = {product_id: get_product(conn, product_id) for product_id in wanted}
        for product_id, quantity in wanted.items():
            if quantity > products[product_id]["stock"]:
                raise ApiError(
                    409, "insufficient stock", product_id=product_id, available=products[product_id]["stock"]
                )
        total = sum(products[pid]["price_cents"] * quantity for pid, quantity in wanted.items())
        order_id = conn.execute(
            "INSERT INTO inv_orders (status, total_cents, created_at) VALUES ('CREATED', ?, ?)", (total, time.time())
        ).lastrowid
        for product_id, quantity in wanted.items():
            reserved = conn.execute(
                "UPDATE inv_products SET stock = stock - ? WHERE id = ? AND stock >= ?",
                (quantity, product_id, quantity),
            ).rowcount
            if reserved != 1:  # cannot happen inside this transaction; never oversell regardless
                raise ApiError(409, "insufficient stock", product_id=product_id)
            conn.execute(
                "INSERT INTO inv_order_items (order_id, product_id, quantity, price_cents) VALUES (?, ?, ?, ?)",
                (order_id, product_id, quantity, products[product_id]["price_cents"]),
            )
    return jsonify(order_json(conn, order_id or 0)), 201


@bp.get("/orders/<int:order_id>")
def show_order(order_id: int) -> ResponseReturnValue:
    return jsonify(order_json(db(), order_id))


@bp.post("/orders/<int:order_id>/<any(pay, ship):action>")
def advance_order(order_id: int, action: str) -> ResponseReturnValue:
    before, after = NEXT_STATUS[action]
    with transaction(db()) as conn:
        row = conn.execute("SELECT status FROM inv_orders WHERE id = ?", (order_id,)).fetchone()
        if row is None:
            raise ApiError(404, "order not found")
        if row["status"] != before:
            raise ApiError(409, f"order is {row['status']}, must be {before} to {action}", status=row["status"])
        conn.execute("UPDATE inv_orders SET status = ? WHERE id = ?", (after, order_id))
    return jsonify(order_json(conn, order_id))


@bp.get("/dashboard")
def dashboard() -> ResponseReturnValue:
    conn = db()
    products, total_stock, negative, sold = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(stock), 0), COALESCE(SUM(stock < 0), 0),"
        " COALESCE(SUM(initial_stock + restocked - stock), 0) FROM inv_products"
    ).fetchone()
    orders = dict.fromkeys(("CREATED", "PAID", "SHIPPED"), 0)
    revenue = 0
    for status, count, total in conn.execute(
        "SELECT status, COUNT(*), SUM(total_cents) FROM inv_orders GROUP BY status"
    ):
        orders[status] = count
        if status in ("PAID", "SHIPPED"):
            revenue += total
    units_ordered = conn.execute("SELECT COALESCE(SUM(quantity), 0) FROM inv_order_items").fetchone()[0]
    low = conn.execute("SELECT id, sku, stock FROM inv_products WHERE stock < ? ORDER BY stock, id", (LOW_STOCK,))
    return jsonify(
        products=products,
        total_stock=total_stock,
        orders=orders,
        revenue=amount(revenue),
        low_stock=[dict(row) for row in low],
        negative_stock_products=negative,
        units_ordered=units_ordered,
        units_sold_from_stock=sold,
    )
