"""Bearer-token authentication and role checks (tokens come from ``POST /user-api/login``)."""

from __future__ import annotations

import sqlite3

from flask import request

from examples.demo_store.db import db
from examples.demo_store.errors import ApiError


def bearer_token() -> str:
    """The request's ``Authorization: Bearer <token>``; 401 without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "not authenticated")
    return token.strip()


def current_user() -> sqlite3.Row:
    """The token's user; 401 without a valid (unrevoked) token."""
    row = (
        db()
        .execute(
            "SELECT u.* FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token = ?",
            (bearer_token(),),
        )
        .fetchone()
    )
    if row is None:
        raise ApiError(401, "invalid or revoked token")
    return row


def is_admin(user: sqlite3.Row) -> bool:
    return bool(user["role"] == "admin")


def require_admin() -> sqlite3.Row:
    """The token's user if an admin; 401 without a valid token, 403 for other users."""
    user = current_user()
    if not is_admin(user):
        raise ApiError(403, "admin only")
    return user


def require_self_or_admin(user_id: int) -> sqlite3.Row:
    """The token's user if it is user ``user_id`` or an admin; 401 / 403 otherwise."""
    user = current_user()
    if user["id"] != user_id and not is_admin(user):
        raise ApiError(403, "not allowed for this user")
    return user
