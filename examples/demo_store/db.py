"""SQLite storage: schema, deterministic seed data, the connection and write transactions.

The process shares one connection (gevent runs one greenlet at a time and
sqlite3 calls never yield), in autocommit mode, with WAL journaling. Writes go
through :func:`transaction` (``BEGIN IMMEDIATE``); a transaction must not do
network I/O, so no other greenlet can run while it is open. Money is stored as
integer cents.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from flask import current_app

from examples.demo_store.security import hash_password

EXTENSION = "demo_store"

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user'
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS categories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    category_id INTEGER NOT NULL REFERENCES categories(id),
    quantity INTEGER NOT NULL CHECK (quantity >= 0)
);
CREATE INDEX IF NOT EXISTS products_category ON products(category_id);
CREATE TABLE IF NOT EXISTS cart_items (
    user_id INTEGER NOT NULL REFERENCES users(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (user_id, product_id)
);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    total_cents INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_user ON orders(user_id, created_at);
CREATE TABLE IF NOT EXISTS order_items (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    product_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    quantity INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS order_items_order ON order_items(order_id);
CREATE TABLE IF NOT EXISTS inv_products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    stock INTEGER NOT NULL CHECK (stock >= 0),
    initial_stock INTEGER NOT NULL,
    restocked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS inv_orders (
    id INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS inv_order_items (
    order_id INTEGER NOT NULL REFERENCES inv_orders(id),
    product_id INTEGER NOT NULL REFERENCES inv_products(id),
    quantity INTEGER NOT NULL,
    price_cents INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inv_order_items_order ON inv_order_items(order_id);
CREATE INDEX IF NOT EXISTS inv_order_items_product ON inv_order_items(product_id);
"""

CATALOG: dict[str, tuple[tuple[float, float], list[str]]] = {
    "Electronics": (
        (25, 1500),
        [
            "Wireless Mouse",
            "Mechanical Keyboard",
            "27-inch 4K Monitor",
            "Noise-Cancelling Headphones",
            "Bluetooth Speaker",
            "USB-C Hub",
            "Smartphone X",
            "Laptop Pro 14",
            "Tablet 11",
            "Smartwatch",
        ],
    ),
    "Books": (
        (5, 60),
        [
            "The Pragmatic Programmer",
            "Clean Code",
            "Designing Data-Intensive Applications",
            "Site Reliability Engineering",
            "The Phoenix Project",
            "Refactoring",
            "Python Crash Course",
            "Release It!",
            "Accelerate",
            "Domain-Driven Design",
        ],
    ),
    "Clothing": (
        (10, 250),
        [
            "Cotton T-Shirt",
            "Denim Jacket",
            "Running Shorts",
            "Wool Sweater",
            "Rain Jacket",
            "Chino Trousers",
            "Hoodie",
            "Leather Belt",
            "Winter Parka",
            "Baseball Cap",
        ],
    ),
    "Home": (
        (8, 900),
        [
            "Ceramic Mug Set",
            "Chef's Knife",
            "Cast Iron Skillet",
            "Desk Lamp",
            "Espresso Machine",
            "Robot Vacuum",
            "Throw Blanket",
            "Air Purifier",
            "Standing Desk",
            "Bath Towel Set",
        ],
    ),
    "Sports": (
        (5, 1200),
        [
            "Yoga Mat",
            "Adjustable Dumbbells",
            "Bike Helmet",
            "Tennis Racket",
            "Running Shoes",
            "Football",
            "Camping Tent",
            "Water Bottle",
            "Jump Rope",
            "Treadmill",
        ],
    ),
}
ADJECTIVES = ["popular", "top-rated", "best-selling", "classic", "new", "staff-picked"]
WAREHOUSE = [
    "Steel Bolt M8",
    "Hex Nut M8",
    "Wood Screw 4x40",
    "Cable Tie 200mm",
    "Duct Tape Roll",
    "Safety Gloves",
    "LED Bulb E27",
    "Extension Cord 5m",
    "Paint Brush 50mm",
    "Sandpaper P120",
    "Wall Plug 8mm",
    "Hinge 75mm",
    "Door Handle",
    "Padlock 40mm",
    "Tape Measure 5m",
    "Spirit Level",
    "Cordless Drill",
    "Angle Grinder",
    "Laser Distance Meter",
    "Workbench",
]
SCARCE = (5, 5, 5, 2)  # the last inventory products' stock: "last items" races happen here


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, rows by name."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")  # only matters if another process shares the file
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception). No network I/O inside."""
    if conn.in_transaction:  # another greenlet yielded inside its transaction: a bug, not a retry case
        raise RuntimeError("nested transaction on the shared connection")
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def seed(conn: sqlite3.Connection, admin_password: str) -> None:
    """Create the schema; fill an empty database with the catalogue; (re)set the admin's password."""
    conn.executescript(SCHEMA)
    with transaction(conn):
        if conn.execute("SELECT COUNT(*) FROM categories").fetchone()[0] == 0:
            _seed_catalog(conn)
        admin_hash = hash_password(admin_password)
        conn.execute(
            "INSERT INTO users (username, email, password_hash, role) VALUES ('admin', 'admin@demo.store', ?, 'admin')"
            " ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash, role = 'admin'",
            (admin_hash,),
        )


def _seed_catalog(conn: sqlite3.Connection) -> None:
    rng = random.Random(20240601)
    for category, ((low, high), names) in CATALOG.items():
        category_id = conn.execute("INSERT INTO categories (name) VALUES (?)", (category,)).lastrowid
        for name in names:
            price = round(rng.uniform(low, high), 2)
            description = f"{name}: a {rng.choice(ADJECTIVES)} pick from our {category.lower()} range."
            conn.execute(
                "INSERT INTO products (name, description, price_cents, category_id, quantity) VALUES (?, ?, ?, ?, ?)",
                (name, description, round(price * 100), category_id, rng.randint(20, 500)),
            )
    plenty = len(WAREHOUSE) - len(SCARCE)
    for index, name in enumerate(WAREHOUSE):
        stock = rng.randint(20, 200) if index < plenty else SCARCE[index - plenty]
        conn.execute(
            "INSERT INTO inv_products (sku, name, price_cents, stock, initial_stock) VALUES (?, ?, ?, ?, ?)",
            (f"SKU-{1001 + index}", name, rng.randint(99, 25000), stock, stock),
        )


class Database:
    """The store's SQLite file and its connection; without a path, a temp file deleted on :meth:`close`."""

    def __init__(self, path: str | None, admin_password: str) -> None:
        self._tempdir: str | None = None
        if path is None:
            self._tempdir = tempfile.mkdtemp(prefix="demo-store-")
            path = os.path.join(self._tempdir, "store.sqlite3")
        self.path = path
        self.conn = connect(path)
        seed(self.conn, admin_password)
        self._finalizer = weakref.finalize(self, _cleanup, self.conn, self._tempdir)

    def close(self) -> None:
        """Close the connection; remove the temp file if there is one."""
        self._finalizer()


def _cleanup(conn: sqlite3.Connection, tempdir: str | None) -> None:
    conn.close()
    if tempdir:
        shutil.rmtree(tempdir, ignore_errors=True)


def db() -> sqlite3.Connection:
    """The current app's connection (inside a request)."""
    return cast(Database, current_app.extensions[EXTENSION]).conn
