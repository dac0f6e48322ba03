"""The demo store's GraphQL schema (SDL, built by graphql-core): catalogue, the signed-in user, orders and the cart.

Resolvers reuse the shop's queries and rules over SQLite, so answers match the
REST API; its errors (:class:`ApiError`) become error entries with the same
message and ``extensions.code`` (``UNAUTHENTICATED``, ``FORBIDDEN``,
``NOT_FOUND``, ``CONFLICT``, ``BAD_USER_INPUT``) plus the REST error's extra
fields. Fields without a resolver read the parent's key of the same name.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema, build_schema

from examples.demo_store import shop
from examples.demo_store.auth import current_user, is_admin
from examples.demo_store.db import db
from examples.demo_store.errors import ApiError
from examples.demo_store.inputs import Fields

CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT", 422: "BAD_USER_INPUT"}


class Context:
    """Per request: the database connection and the bearer token's user (looked up once, when needed)."""

    def __init__(self) -> None:
        self.conn = db()
        self._user: sqlite3.Row | None = None

    def user(self) -> sqlite3.Row:
        """The signed-in user; ApiError 401 without a valid token."""
        if self._user is None:
            self._user = current_user()
        return self._user


def camel(data: Any) -> Any:
    """``data`` with its dictionary keys in camelCase (``product_id`` -> ``productId``), at every depth."""
    if isinstance(data, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key): camel(value) for key, value in data.items()}
    if isinstance(data, list):
        return [camel(item) for item in data]
    return data


class StoreError(GraphQLError):
    """A resolver's :class:`ApiError` as a GraphQL error (its message is the store's, kept as it is)."""


Resolver = Callable[[Any, dict[str, Any], Context], Any]
"""``resolve(parent, arguments, context)``: the field's value."""


def resolver(function: Resolver) -> Callable[..., Any]:
    """``function`` as a graphql-core resolver, the store's :class:`ApiError` turned into a :class:`StoreError`."""

    @functools.wraps(function)
    def resolve(parent: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        try:
            return function(parent, args, info.context)
        except ApiError as error:
            extensions = {"code": CODES.get(error.status, "INTERNAL_SERVER_ERROR"), **camel(error.extra)}
            raise StoreError(error.detail, extensions=extensions) from error

    return resolve


# --- resolvers -------------------------------------------------------------------------------------


def categories(_: None, args: dict[str, Any], context: Context) -> list[dict[str, Any]]:
    return list(camel(shop.list_categories(context.conn)))


def products(_: None, args: dict[str, Any], context: Context) -> list[dict[str, Any]]:
    search = shop.product_search(Fields(args, where="arguments"), price_names=("minPrice", "maxPrice"))
    return shop.find_products(context.conn, search)[1]


def product(_: None, args: dict[str, Any], context: Context) -> dict[str, Any] | None:
    return shop.find_product(context.conn, args["id"])


def me(_: None, args: dict[str, Any], context: Context) -> dict[str, Any]:
    return shop.user_json(context.user())


def order(_: None, args: dict[str, Any], context: Context) -> dict[str, Any] | None:
    user = context.user()
    found = shop.load_orders(context.conn, "o.id = ?", (args["id"],))
    if not found:
        return None
    if found[0]["user_id"] != user["id"] and not is_admin(user):
        raise ApiError(403, "forbidden")
    return dict(camel(found[0]))


def add_to_cart(_: None, args: dict[str, Any], context: Context) -> dict[str, Any]:
    user_id = context.user()["id"]
    fields = Fields(args, where="arguments")
    quantity = fields.integer("quantity", minimum=1)
    fields.done()
    assert quantity is not None
    shop.add_to_cart(context.conn, user_id, args["productId"], quantity)
    return dict(camel(shop.cart_json(context.conn, user_id)))


# --- schema ----------------------------------------------------------------------------------------

SDL = """
type Query {
  categories: [Category!]
  products(category: String, maxPrice: Float, minPrice: Float, q: String, limit: Int = 20, page: Int = 1): [Product!]
  product(id: Int!): Product
  me: User
  order(id: Int!): Order
}

type Mutation {
  addToCart(productId: Int!, quantity: Int!): Cart
}

type Category { id: Int! name: String! productCount: Int! }
type Product { id: Int! name: String! description: String! price: Float! category: String! quantity: Int! }
type User { id: Int! username: String! email: String! role: String! }
type OrderItem { productId: Int! name: String! price: Float! quantity: Int! }
type Order { id: Int! status: String! totalAmount: Float! items: [OrderItem!]! }
type CartItem { productId: Int! quantity: Int! }
type Cart { itemCount: Int! totalValue: Float! items: [CartItem!]! }
"""

RESOLVERS: dict[tuple[str, str], Resolver] = {
    ("Query", "categories"): categories,
    ("Query", "products"): products,
    ("Query", "product"): product,
    ("Query", "me"): me,
    ("Query", "order"): order,
    ("Mutation", "addToCart"): add_to_cart,
}


def build() -> GraphQLSchema:
    """The schema of :data:`SDL` with the :data:`RESOLVERS` attached."""
    schema = build_schema(SDL)
    for (type_name, field_name), function in RESOLVERS.items():
        type_ = schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        type_.fields[field_name].resolve = resolver(function)
    return schema


SCHEMA = build()
