"""Request input checks: JSON bodies and query parameters, failing with 422 and a list of errors.

Read the body *before* opening a database transaction: reading it is network
I/O, which may yield to other greenlets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flask import request

from examples.demo_store.errors import ApiError

LARGEST = 10**12  # bound for any number in a request: keeps sums far from SQLite's 64-bit integers


def json_body() -> dict[str, Any]:
    """The request's JSON object (whatever its Content-Type); 422 when it is not an object."""
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ApiError(422, "request body must be a JSON object")
    return data


def cents(value: float) -> int:
    """An amount in currency units as integer cents."""
    return round(value * 100)


def amount(value: int) -> float:
    """Integer cents as an amount in currency units."""
    return round(value / 100, 2)


class Fields:
    """Collects field errors while reading values; :meth:`done` raises 422 if there were any."""

    def __init__(self, source: Mapping[str, Any], where: str = "body") -> None:
        self.source = source
        self.where = where
        self.errors: list[dict[str, str]] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def done(self) -> None:
        if self.errors:
            raise ApiError(
                422, f"invalid {self.where}: {self.errors[0]['field']} {self.errors[0]['message']}", errors=self.errors
            )

    def text(self, field: str, *, required: bool = True, max_length: int = 200) -> str | None:
        """A non-empty string (stripped)."""
        value = self.source.get(field)
        if value is None:
            if required:
                self.fail(field, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(field, "must be a non-empty string")
            return None
        if len(value) > max_length:
            self.fail(field, f"must be at most {max_length} characters")
            return None
        return value.strip()

    def _given(self, field: str, required: bool) -> Any:
        """The field's raw value, or None when it is absent or empty (a problem when ``required``)."""
        raw = self.source.get(field)
        if raw is None or raw == "":
            if required:
                self.fail(field, "is required")
            return None
        return raw

    def integer(
        self, field: str, *, minimum: int | None = None, maximum: int | None = None, required: bool = True
    ) -> int | None:
        """A JSON integer (booleans are not integers) within bounds."""
        value = self.source.get(field)
        if value is None:
            if required:
                self.fail(field, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, "must be an integer")
            return None
        return self._bounded(field, value, minimum, maximum)

    def number(self, field: str, *, minimum: float | None = None, required: bool = True) -> float | None:
        """A JSON number (integer or float, not boolean) of at least ``minimum``."""
        value = self.source.get(field)
        if value is None:
            if required:
                self.fail(field, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(field, "must be a number")
            return None
        return self._bounded(field, value, minimum, None)

    def _bounded(self, field: str, value: Any, minimum: float | None, maximum: float | None) -> Any:
        maximum = LARGEST if maximum is None else maximum
        if minimum is not None and value < minimum:
            self.fail(field, f"must be >= {minimum}")
            return None
        if value > maximum:
            self.fail(field, f"must be <= {maximum}")
            return None
        return value


class Query(Fields):
    """Like :class:`Fields`, for query-string parameters (strings parsed as numbers)."""

    def __init__(self) -> None:
        super().__init__(request.args, where="query")

    def integer(
        self, field: str, *, minimum: int | None = None, maximum: int | None = None, required: bool = False
    ) -> int | None:
        raw = self._given(field, required)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            self.fail(field, "must be an integer")
            return None
        return self._bounded(field, value, minimum, maximum)

    def number(self, field: str, *, minimum: float | None = None, required: bool = False) -> float | None:
        raw = self._given(field, required)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            self.fail(field, "must be a number")
            return None
        if not math.isfinite(value):
            self.fail(field, "must be a finite number")
            return None
        return self._bounded(field, value, minimum, None)
