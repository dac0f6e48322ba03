"""The demo store's GraphQL schema: catalogue, the signed-in user, orders and the cart, over SQLite.

Resolvers reuse the shop's queries and rules, so answers match the REST API;
its errors (:class:`ApiError`) become error entries with the same message and
``extensions.code`` (``UNAUTHENTICATED``, ``FORBIDDEN``, ``NOT_FOUND``,
``CONFLICT``, ``BAD_USER_INPUT``) plus the REST error's extra fields.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from typing import Any

from examples.demo_store import shop
from examples.demo_store.auth import current_user, is_admin
from examples.demo_store.db import db
from examples.demo_store.errors import ApiError
from examples.demo_store.graphql_ast import GraphQLError
from examples.demo_store.graphql_types import ObjectType, Resolver, Schema, field
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


def resolver(function: Resolver) -> Resolver:
    """``function`` with the store's :class:`ApiError` turned into a GraphQL error entry."""

    @functools.wraps(function)
    def resolve(parent: Any, args: dict[str, Any], context: Any) -> Any:
        try:
            return function(parent, args, context)
        except ApiError as error:
            extensions = {"code": CODES.get(error.status, "INTERNAL_SERVER_ERROR"), **camel(error.extra)}
            raise GraphQLError(error.detail, extensions=extensions) from error

    return resolve


# --- resolvers -------------------------------------------------------------------------------------


@resolver
def categories(_: None, args: dict[str, Any], context: Context) -> list[dict[str, Any]]:
    return list(camel(shop.list_categories(context.conn)))


@resolver
def products(_: None, args: dict[str, Any], context: Context) -> list[dict[str, Any]]:
    search = shop.product_search(Fields(args, where="arguments"), price_names=("minPrice", "maxPrice"))
    return shop.find_products(context.conn, search)[1]


@resolver
def product(_: None, args: dict[str, Any], context: Context) -> dict[str, Any] | None:
    return shop.find_product(context.conn, args["id"])


@resolver
def me(_: None, args: dict[str, Any], context: Context) -> dict[str, Any]:
    return shop.user_json(context.user())


@resolver
def order(_: None, args: dict[str, Any], context: Context) -> dict[str, Any] | None:
    user = context.user()
    found = shop.load_orders(context.conn, "o.id = ?", (args["id"],))
    if not found:
        return None
    if found[0]["user_id"] != user["id"] and not is_admin(user):
        raise ApiError(403, "forbidden")
    return dict(camel(found[0]))


@resolver
def add_to_cart(_: None, args: dict[str, Any], context: Context) -> dict[str, Any]:
    user_id = context.user()["id"]
    fields = Fields(args, where="arguments")
    quantity = fields.integer("quantity", minimum=1)
    fields.done()
    assert quantity is not None
    shop.add_to_cart(context.conn, user_id, args["productId"], quantity)
    return dict(camel(shop.cart_json(context.conn, user_id)))


# --- schema ----------------------------------------------------------------------------------------

Category = ObjectType("Category", {"id": field("Int!"), "name": field("String!"), "productCount": field("Int!")})
Product = ObjectType(
    "Product",
    {
        "id": field("Int!"),
        "name": field("String!"),
        "description": field("String!"),
        "price": field("Float!"),
        "category": field("String!"),
        "quantity": field("Int!"),
    },
)
User = ObjectType(
    "User", {"id": field("Int!"), "username": field("String!"), "email": field("String!"), "role": field("String!")}
)
OrderItem = ObjectType(
    "OrderItem",
    {"productId": field("Int!"), "name": field("String!"), "price": field("Float!"), "quantity": field("Int!")},
)
Order = ObjectType(
    "Order",
    {
        "id": field("Int!"),
        "status": field("String!"),
        "totalAmount": field("Float!"),
        "items": field("[OrderItem!]!"),
    },
)
CartItem = ObjectType("CartItem", {"productId": field("Int!"), "quantity": field("Int!")})
Cart = ObjectType("Cart", {"itemCount": field("Int!"), "totalValue": field("Float!"), "items": field("[CartItem!]!")})
Query = ObjectType(
    "Query",
    {
        "categories": field("[Category!]", categories),
        "products": field(
            "[Product!]",
            products,
            category="String",
            maxPrice="Float",
            minPrice="Float",
            q="String",
            limit="Int = 20",
            page="Int = 1",
        ),
        "product": field("Product", product, id="Int!"),
        "me": field("User", me),
        "order": field("Order", order, id="Int!"),
    },
)
Mutation = ObjectType("Mutation", {"addToCart": field("Cart", add_to_cart, productId="Int!", quantity="Int!")})

SCHEMA = Schema(query=Query, mutation=Mutation, types=[Category, Product, User, OrderItem, Order, CartItem, Cart])
