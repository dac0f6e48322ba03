"""The GraphQL blueprint: ``POST /graphql`` with ``{"query": ..., "variables": {...}, "operationName": ...}``.

graphql-core parses, validates (the specification's rules) and executes the
request against :data:`graphql_store.SCHEMA`; introspection works. Every
GraphQL answer is HTTP 200 with ``{"data": ...}`` and ``"errors"`` when
something went wrong: data is null when the request did not run (syntax,
validation, operation or variable errors), else a failing field is null and
has an entry with its path. Only a body that is not such a request is a 400
``{"errors": [{"message": ...}]}``.

The store keeps its own limits on top: documents nested deeper than
:data:`MAX_DEPTH` and fragments, directives and subscriptions are refused as
syntax errors. Error messages are worded as graphql-js words them (names in
double quotes, values as JSON; syntax errors end with "at line L, column C"),
and an unexpected exception in a resolver is logged and answered as
"internal server error".
"""

from __future__ import annotations

import functools
import json
import logging
import re
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSyntaxError,
    Lexer,
    Node,
    OperationType,
    Source,
    TokenKind,
    Visitor,
    execute_sync,
    is_input_type,
    parse,
    specified_rules,
    type_from_ast,
    validate,
    visit,
)
from graphql.pyutils import inspect
from graphql.validation import VariablesInAllowedPositionRule

from examples.demo_store.graphql_store import SCHEMA, Context, StoreError

log = logging.getLogger(__name__)

MAX_DEPTH = 64  # nested selection sets, lists, objects and list types: deeper documents are refused, not recursed into

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
    return jsonify(run(body["query"], variables, operation_name))


def run(source: str, variables: dict[str, Any] | None = None, operation_name: str | None = None) -> dict[str, Any]:
    """The response to one GraphQL request (``variables`` and ``operation_name`` as sent, or None)."""
    prepared = prepare(source)
    if isinstance(prepared, tuple):
        return {"data": None, "errors": [formatted(error, variables) for error in prepared]}
    result = execute_sync(
        SCHEMA, prepared, context_value=Context(), variable_values=variables, operation_name=operation_name
    )
    response: dict[str, Any] = {"data": result.data}
    if result.errors:
        response["errors"] = [formatted(error, variables) for error in result.errors]
    return response


@functools.lru_cache(maxsize=256)
def prepare(source: str) -> DocumentNode | tuple[GraphQLError, ...]:
    """The parsed and validated document, or why it cannot run (cached: load tests send the same few)."""
    try:
        check_depth(source)
        document = parse(source)
    except GraphQLSyntaxError as error:
        return (error,)
    refused = unsupported(document)
    if refused is not None:
        return (refused,)
    return tuple(validate(SCHEMA, document, RULES)) or document


def check_depth(source: str) -> None:
    """GraphQLSyntaxError at the first ``{`` or ``[`` nested more than :data:`MAX_DEPTH` deep."""
    lexer = Lexer(Source(source))
    depth = 0
    token = lexer.advance()
    while token.kind != TokenKind.EOF:
        if token.kind in (TokenKind.BRACE_L, TokenKind.BRACKET_L):
            depth += 1
            if depth > MAX_DEPTH:
                message = f"the document is nested more than {MAX_DEPTH} levels deep"
                raise GraphQLSyntaxError(lexer.source, token.start, message)
        elif token.kind in (TokenKind.BRACE_R, TokenKind.BRACKET_R):
            depth -= 1
        token = lexer.advance()


class _Unsupported(Visitor):
    """Collects the fragments, directives and subscriptions of a document as (offset, what)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[int, str]] = []

    def add(self, node: Node, what: str) -> None:
        assert node.loc is not None
        self.found.append((node.loc.start, what))

    def enter_fragment_definition(self, node: Node, *_: Any) -> None:
        self.add(node, "fragments")

    def enter_fragment_spread(self, node: Node, *_: Any) -> None:
        self.add(node, "fragments")

    def enter_inline_fragment(self, node: Node, *_: Any) -> None:
        self.add(node, "fragments")

    def enter_directive(self, node: Node, *_: Any) -> None:
        self.add(node, "directives")

    def enter_operation_definition(self, node: Node, *_: Any) -> None:
        if getattr(node, "operation", None) == OperationType.SUBSCRIPTION:
            self.add(node, "subscriptions")


def unsupported(document: DocumentNode) -> GraphQLSyntaxError | None:
    """The first fragment, directive or subscription in ``document`` as a syntax error (None if there is none)."""
    visitor = _Unsupported()
    visit(document, visitor)
    if not visitor.found:
        return None
    assert document.loc is not None
    start, what = min(visitor.found)
    return GraphQLSyntaxError(document.loc.source, start, f"{what} are not supported")


class _InputVariablesInAllowedPosition(VariablesInAllowedPositionRule):
    """The specification's rule for the variables of input types only (the others have their own error)."""

    def enter_variable_definition(self, node: Any, *args: Any) -> None:
        if is_input_type(type_from_ast(self.context.schema, node.type)):
            super().enter_variable_definition(node, *args)


RULES = tuple(
    _InputVariablesInAllowedPosition if rule is VariablesInAllowedPositionRule else rule for rule in specified_rules
)


# --- error entries ---------------------------------------------------------------------------------

_QUOTED_NAME = re.compile(r"(?<!\w)'([^'\s]+|\w+ \{ \.\.\. \})'(?!\w)")  # 'Query.products', '$id', '[Int!]'
_QUOTED_TOKEN = re.compile(r"'(.+?)'(?=,| |$)")  # in syntax errors: ':', Name 'x', '\x'


def formatted(error: GraphQLError, variables: dict[str, Any] | None) -> dict[str, Any]:
    """The error's entry in ``errors``: the store's own messages kept, graphql-core's worded as graphql-js's."""
    entry: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if error.path is not None and isinstance(original, StoreError):
        return entry
    if error.path is not None and original is not None and not isinstance(original, GraphQLError):
        log.error("GraphQL resolver failed at %s", error.path, exc_info=original)
        entry["message"] = "internal server error"
        return entry
    entry["message"] = wording(error, variables)
    return entry


def wording(error: GraphQLError, variables: dict[str, Any] | None) -> str:
    """graphql-core's message for ``error`` in graphql-js's (and the old hand-written store's) words."""
    message = error.message
    if message.startswith("Syntax Error: "):
        return _syntax_wording(error)
    if null := re.fullmatch(r"Variable '\$(\w+)' of non-null type '(.+)' must not be null\.", message):
        name, type_ = null.groups()
        return f'Variable "${name}" got invalid value null; Expected non-nullable type "{type_}" not to be null.'
    if (invalid := re.match(r"Variable '\$(\w+)' got invalid value ", message)) and invalid[1] in (variables or {}):
        value = (variables or {})[invalid[1]]
        message = message.replace(inspect(value), json.dumps(value, ensure_ascii=False))
    if message.startswith("Field '__typename' must not have a selection"):
        message = message.replace("'String!'", "'String'")  # as the store has always said
    return _QUOTED_NAME.sub(lambda match: f'"{match[1]}"', message)


def _syntax_wording(error: GraphQLError) -> str:
    description = error.message.removeprefix("Syntax Error: ").removesuffix(".")
    description = re.sub(r"^Invalid number, [^:]*: ", "Invalid number: unexpected ", description)
    description = re.sub(r"^(Unexpected variable .*) in constant value$", r"\1 in a constant value", description)
    description = _QUOTED_TOKEN.sub(lambda match: json.dumps(match[1], ensure_ascii=False), description)
    where = f" at line {error.locations[0].line}, column {error.locations[0].column}" if error.locations else ""
    return f"Syntax Error: {description}{where}."
