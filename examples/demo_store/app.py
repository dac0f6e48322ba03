"""The Flask app factory: one SQLite database, the shop, inventory and GraphQL blueprints, JSON errors."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider
from flask.typing import ResponseReturnValue
from werkzeug.routing import IntegerConverter, Map

from examples.demo_store import graphql, inventory, shop
from examples.demo_store.db import EXTENSION, Database
from examples.demo_store.errors import register_error_handlers


class _Int(IntegerConverter):
    """``<int:...>`` path parts that fit SQLite's integers (larger ones simply match no route: 404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(db_path: str | None = None, order_step: float = 1.0, admin_password: str = "admin123") -> Flask:
    """The demo store's WSGI app.

    ``db_path``: the SQLite file (created and seeded if empty); None for a temp
    file removed by ``app.extensions["demo_store"].close()`` (or at exit).
    ``order_step``: seconds between shop order statuses.
    """
    if order_step < 0:
        raise ValueError("order_step must be >= 0")
    app = Flask(__name__)
    app.config["DEMO_ORDER_STEP"] = order_step
    if isinstance(app.json, DefaultJSONProvider):
        app.json.sort_keys = False
    app.url_map.converters["int"] = _Int
    app.extensions[EXTENSION] = Database(db_path, admin_password)
    register_error_handlers(app)
    app.register_blueprint(shop.bp)
    app.register_blueprint(inventory.bp)
    app.register_blueprint(graphql.bp)

    @app.get("/health")
    def health() -> ResponseReturnValue:
        return jsonify(status="ok")

    return app
