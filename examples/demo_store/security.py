"""Password hashing (salted PBKDF2, kept cheap for load tests) and bearer-token generation."""

from __future__ import annotations

import hashlib
import hmac
import secrets

ITERATIONS = 1000  # deliberately low: a login must not block the event loop for long


def hash_password(password: str) -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<digest>``."""
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), ITERATIONS).hex()
    return f"pbkdf2_sha256${ITERATIONS}${salt}${digest}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password`."""
    try:
        _, iterations, salt, digest = stored.split("$")
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations)).hex()
    except ValueError:
        return False
    return hmac.compare_digest(actual, digest)


def new_token() -> str:
    """An opaque, unguessable access token."""
    return secrets.token_urlsafe(32)
