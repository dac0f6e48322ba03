"""The GraphQL blueprint: ``POST /graphql`` with ``{"query": ..., "variables": {...}, "operationName": ...}``.

Every GraphQL answer is HTTP 200 with ``{"data": ...}`` (and ``"errors"`` when
something went wrong, see :mod:`graphql_executor`); only a body that is not such
a request is a 400 ``{"errors": [{"message": ...}]}``. The schema is in
:mod:`graphql_store`.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from examples.demo_store.graphql_executor import execute
from examples.demo_store.graphql_store import SCHEMA, Context

bp = Blueprint("graphql", __name__)


def bad_request(message: str) -> ResponseReturnValue:
    return jsonify(errors=[{"message": message}]), 400


@bp.post("/graphql")
def graphql() -> ResponseReturnValue:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return bad_request('the request body must be a JSON object with a "query" string')
    variables, operation_name = body.get("variables"), body.get("operationName")
    if variables is not None and not isinstance(variables, dict):
        return bad_request('"variables" must be a JSON object')
    if operation_name is not None and not isinstance(operation_name, str):
        return bad_request('"operationName" must be a string')
    return jsonify(execute(SCHEMA, body["query"], variables, operation_name, Context()))
