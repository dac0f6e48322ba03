"""The ``graphql`` step: a GraphQL operation, sent as a POST request with a JSON body.

It builds a request (:mod:`engine.steps.request`), which compiles and runs as
any other; its stats name is ``graphql <operation>`` and its ``expect`` also
checks the response's ``errors``.
"""

from __future__ import annotations

from engine.model import METHODS, RequestStep
from engine.source import MarkedDict
from engine.steps.base import Building
from engine.steps.request import Request, build_request


class GraphQL(Request):
    """``graphql: {query: ..., variables: ..., operation: ...}`` (a method key makes it a plain request)."""

    name = "graphql"
    keys = ("graphql",)

    def matches(self, node: MarkedDict) -> bool:
        return "graphql" in node and not any(method in node for method in METHODS)

    def build(self, node: MarkedDict, b: Building) -> RequestStep | None:
        return build_request("graphql", node, b)


KIND = GraphQL()
