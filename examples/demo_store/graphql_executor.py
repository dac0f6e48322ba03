"""Running a GraphQL request: parse, validate, pick the operation, coerce variables, resolve fields.

The answer is ``{"data": ...}`` plus ``"errors"`` when something went wrong.
Before execution (syntax, validation, operation or variable errors) data is
null. During execution a failing field is null and gets an error entry with its
path; a null in a non-null position makes its parent null instead, up to the
nearest nullable field, as the specification says. Fields run one after the
other (as a mutation's must), and a resolver's :class:`GraphQLError` becomes
an error entry; any other exception is logged and reported as an internal error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from examples.demo_store import graphql_ast as ast
from examples.demo_store.graphql_ast import GraphQLError
from examples.demo_store.graphql_parser import parse
from examples.demo_store.graphql_types import (
    NO_DEFAULT,
    CoercionError,
    FieldDef,
    ObjectType,
    Schema,
    coerce_literal,
    coerce_variable,
    serialize,
)
from examples.demo_store.graphql_validation import validate

log = logging.getLogger(__name__)

Path = list[str | int]


def execute(
    schema: Schema,
    source: str,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
    context: Any = None,
) -> dict[str, Any]:
    """The response to one GraphQL request (``variables`` and ``operation_name`` as sent, or None)."""
    try:
        document = parse(source)
        errors = validate(schema, document)
        if errors:
            return _failure(errors)
        operation = _operation(document, operation_name)
        values = _variable_values(operation, variables or {})
    except GraphQLError as error:
        return _failure([error])
    except _VariableErrors as failed:
        return _failure(failed.errors)
    return _Execution(schema, values, context).run(operation)


def _failure(errors: Sequence[GraphQLError]) -> dict[str, Any]:
    return {"data": None, "errors": [error.formatted() for error in errors]}


def _operation(document: ast.Document, name: str | None) -> ast.Operation:
    """The operation to run: the only one, or the one named ``name``."""
    if name is None:
        if len(document.operations) > 1:
            raise GraphQLError("Must provide operation name if query contains multiple operations.")
        return document.operations[0]
    for operation in document.operations:
        if operation.name == name:
            return operation
    raise GraphQLError(f'Unknown operation named "{name}".')


class _VariableErrors(Exception):
    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__(errors[0].message)
        self.errors = errors


def _variable_values(operation: ast.Operation, given: Mapping[str, Any]) -> dict[str, Any]:
    """The operation's variables: coerced given values, else defaults; absent ones are left out."""
    values: dict[str, Any] = {}
    errors = []
    for definition in operation.variables:
        name, type_ = definition.name, definition.type
        try:
            if name in given:
                values[name] = coerce_variable(given[name], type_)
            elif definition.default is not None:
                values[name] = coerce_literal(definition.default, type_, {})
            elif isinstance(type_, ast.NonNullType):
                errors.append(
                    GraphQLError(f'Variable "${name}" of required type "{type_}" was not provided.', [definition.loc])
                )
        except CoercionError as error:
            errors.append(GraphQLError(f'Variable "${name}" got invalid value; {error}', [definition.loc]))
    if errors:
        raise _VariableErrors(errors)
    return values


class _Execution:
    def __init__(self, schema: Schema, variables: dict[str, Any], context: Any) -> None:
        self.schema = schema
        self.variables = variables
        self.context = context
        self.errors: list[GraphQLError] = []

    def run(self, operation: ast.Operation) -> dict[str, Any]:
        root = self.schema.root(operation.kind)
        assert root is not None  # validated
        try:
            data: dict[str, Any] | None = self.selections(root, None, operation.selections, [])
        except GraphQLError as error:  # a non-null root field failed
            self.errors.append(error)
            data = None
        response: dict[str, Any] = {"data": data}
        if self.errors:
            response["errors"] = [error.formatted() for error in self.errors]
        return response

    def selections(self, type_: ObjectType, parent: Any, fields: Sequence[ast.Field], path: Path) -> dict[str, Any]:
        """The object ``parent`` of ``type_`` as the selected fields (merged by response key)."""
        groups: dict[str, list[ast.Field]] = {}
        for node in fields:
            groups.setdefault(node.response_key, []).append(node)
        return {key: self.field(type_, parent, group, [*path, key]) for key, group in groups.items()}

    def field(self, type_: ObjectType, parent: Any, nodes: list[ast.Field], path: Path) -> Any:
        """One field's value; on error, null and an error entry (or the error raised on for a non-null field)."""
        node = nodes[0]
        if node.name == "__typename":
            return type_.name
        definition = type_.fields[node.name]
        try:
            arguments = self.arguments(definition, node)
            if definition.resolve is None:
                value = parent.get(node.name) if isinstance(parent, Mapping) else getattr(parent, node.name)
            else:
                value = definition.resolve(parent, arguments, self.context)
            return self.complete(definition.type, value, nodes, path)
        except Exception as error:
            located = _located(error, node, path)
            if isinstance(definition.type, ast.NonNullType):
                raise located from error
            self.errors.append(located)
            return None

    def arguments(self, definition: FieldDef, node: ast.Field) -> dict[str, Any]:
        """The field's argument values: given, else the default; absent ones are left out."""
        given = {argument.name: argument.value for argument in node.arguments}
        values = {}
        for name, arg in definition.args.items():
            value = given.get(name)
            if value is None or (isinstance(value, ast.Variable) and value.name not in self.variables):
                if arg.default is not NO_DEFAULT:
                    values[name] = arg.default
                elif isinstance(arg.type, ast.NonNullType):
                    raise GraphQLError(f'Argument "{name}" of required type "{arg.type}" was not provided.')
                continue
            try:
                values[name] = coerce_literal(value, arg.type, self.variables)
            except CoercionError as error:
                raise GraphQLError(f'Argument "{name}" has invalid value {value}: {error}') from error
            if values[name] is None and isinstance(arg.type, ast.NonNullType):
                raise GraphQLError(f'Argument "{name}" of non-null type "{arg.type}" must not be null.')
        return values

    def complete(self, type_: ast.TypeRef, value: Any, nodes: list[ast.Field], path: Path) -> Any:
        """A resolved value as JSON of ``type_``, its sub-selections resolved."""
        if isinstance(type_, ast.NonNullType):
            completed = self.complete(type_.of, value, nodes, path)
            if completed is None:
                raise GraphQLError(f'Cannot return null for non-nullable field "{nodes[0].name}".')
            return completed
        if value is None:
            return None
        if isinstance(type_, ast.ListType):
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"expected a list for {nodes[0].name}, got {type(value).__name__}")
            return [self.item(type_.of, item, nodes, [*path, index]) for index, item in enumerate(value)]
        object_type = self.schema.object_type(type_)
        if object_type is None:
            return serialize(type_.name, value)
        return self.selections(object_type, value, [child for node in nodes for child in node.selections or ()], path)

    def item(self, type_: ast.TypeRef, value: Any, nodes: list[ast.Field], path: Path) -> Any:
        """A list item's value; on error, like :meth:`field`."""
        try:
            return self.complete(type_, value, nodes, path)
        except Exception as error:
            located = _located(error, nodes[0], path)
            if isinstance(type_, ast.NonNullType):
                raise located from error
            self.errors.append(located)
            return None


def _located(error: Exception, node: ast.Field, path: Path) -> GraphQLError:
    """``error`` as a GraphQLError at ``node`` and ``path`` (kept if it has a path already: it comes from below)."""
    if isinstance(error, GraphQLError):
        if error.path is None:
            error.locations = [node.loc]
            error.path = path
        return error
    log.error("GraphQL resolver failed at %s", path, exc_info=error)
    return GraphQLError("internal server error", [node.loc], path)
