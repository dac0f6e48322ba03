"""JSON error answers: ``{"detail": "..."}`` for API errors and for Flask's own 404/405/500."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

_MESSAGES = {404: "not found", 405: "method not allowed", 500: "internal server error"}


class ApiError(Exception):
    """An error answer: HTTP ``status`` with body ``{"detail": detail, **extra}``."""

    def __init__(self, status: int, detail: str, /, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def error_response(status: int, detail: str, /, **extra: Any) -> Response:
    response = jsonify({"detail": detail, **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def register_error_handlers(app: Flask) -> None:
    """Answer every error (ours, routing, unexpected exceptions) with JSON."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error_response(error.status, error.detail, **error.extra)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        # Unhandled exceptions arrive here too, as InternalServerError (500).
        status = error.code or 500
        response = error_response(status, _MESSAGES.get(status) or error.description or error.name)
        for name, value in error.get_headers():  # e.g. Allow on 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
