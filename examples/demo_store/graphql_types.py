"""The type system: object types with resolvers, the built-in scalars, and coercion of input values.

A schema is declared in Python with types written as in GraphQL::

    Product = ObjectType("Product", {"id": field("Int!"), "name": field("String!")})
    Query = ObjectType("Query", {
        "products": field("[Product!]", resolve_products, limit="Int = 20", category="String"),
    })
    schema = Schema(query=Query, types=[Product])

Input types are the scalars only (no enums or input objects), so an enum or
object literal is always an invalid argument.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from examples.demo_store import graphql_ast as ast
from examples.demo_store.graphql_parser import parse_type, parse_value

Resolver = Callable[[Any, dict[str, Any], Any], Any]
"""``resolve(parent, arguments, context)``: the field's value (a GraphQLError becomes an error entry)."""

SCALARS = ("Int", "Float", "String", "Boolean")
INT_RANGE = (-(2**31), 2**31 - 1)  # GraphQL's Int is a signed 32-bit integer


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


class CoercionError(Exception):
    """An input value that does not fit its type (the message says why)."""


@dataclass(frozen=True)
class ArgumentDef:
    type: ast.TypeRef
    default: Any = NO_DEFAULT  # already coerced


@dataclass(frozen=True)
class FieldDef:
    type: ast.TypeRef
    resolve: Resolver | None = None  # None: ``parent[name]``
    args: Mapping[str, ArgumentDef] = dataclasses.field(default_factory=dict)


def field(type_: str, resolve: Resolver | None = None, /, **args: str) -> FieldDef:
    """A field of type ``type_`` (e.g. ``"[Product!]"``); each argument is ``"Type"`` or ``"Type = default"``."""
    definitions = {}
    for name, spec in args.items():
        type_text, _, default_text = spec.partition("=")
        arg_type = parse_type(type_text)
        default = coerce_literal(parse_value(default_text), arg_type, {}) if default_text else NO_DEFAULT
        definitions[name] = ArgumentDef(arg_type, default)
    return FieldDef(parse_type(type_), resolve, definitions)


@dataclass(frozen=True)
class ObjectType:
    name: str
    fields: Mapping[str, FieldDef]


class Schema:
    """The root types and every object type they lead to."""

    def __init__(self, query: ObjectType, mutation: ObjectType | None = None, types: Iterable[ObjectType] = ()):
        self.query = query
        self.mutation = mutation
        self.types = {t.name: t for t in (query, *([mutation] if mutation else []), *types)}
        for type_ in self.types.values():
            for name, definition in type_.fields.items():
                wanted = [ast.named_type(definition.type)]
                wanted += [ast.named_type(arg.type) for arg in definition.args.values()]
                for type_name in wanted:
                    if type_name not in self.types and type_name not in SCALARS:
                        raise ValueError(f"{type_.name}.{name}: unknown type {type_name}")
                if any(ast.named_type(arg.type) not in SCALARS for arg in definition.args.values()):
                    raise ValueError(f"{type_.name}.{name}: arguments must be scalars")

    def root(self, kind: str) -> ObjectType | None:
        return self.query if kind == "query" else self.mutation

    def object_type(self, type_: ast.TypeRef) -> ObjectType | None:
        """The object type inside ``type_``; None for a scalar."""
        return self.types.get(ast.named_type(type_))


def is_input_type(type_: ast.TypeRef) -> bool:
    return ast.named_type(type_) in SCALARS


def is_subtype(variable_type: ast.TypeRef, location_type: ast.TypeRef) -> bool:
    """Whether a variable of ``variable_type`` may be used where ``location_type`` is expected."""
    if isinstance(location_type, ast.NonNullType):
        return isinstance(variable_type, ast.NonNullType) and is_subtype(variable_type.of, location_type.of)
    if isinstance(variable_type, ast.NonNullType):
        return is_subtype(variable_type.of, location_type)
    if isinstance(location_type, ast.ListType):
        return isinstance(variable_type, ast.ListType) and is_subtype(variable_type.of, location_type.of)
    return isinstance(variable_type, ast.NamedType) and variable_type.name == location_type.name


# --- literals in the document ----------------------------------------------------------------------


def coerce_literal(node: ast.Value, type_: ast.TypeRef, variables: Mapping[str, Any] | None) -> Any:
    """The value of literal ``node`` as ``type_``.

    ``variables``: the operation's coerced variable values (a variable missing
    from it counts as null); None while validating, when variables are checked
    elsewhere and stand for any value.
    """
    if isinstance(node, ast.Variable):
        return None if variables is None else variables.get(node.name)
    if isinstance(type_, ast.NonNullType):
        if isinstance(node, ast.NullValue):
            raise CoercionError(f'Expected value of type "{type_}", found null.')
        return coerce_literal(node, type_.of, variables)
    if isinstance(node, ast.NullValue):
        return None
    if isinstance(type_, ast.ListType):
        items = node.items if isinstance(node, ast.ListValue) else (node,)
        return [coerce_literal(item, type_.of, variables) for item in items]
    return _scalar_literal(type_.name, node)


def _scalar_literal(name: str, node: ast.Value) -> Any:
    if name == "Int" and isinstance(node, ast.IntValue):
        return _int(int(node.text), str(node))
    if name == "Float" and isinstance(node, (ast.IntValue, ast.FloatValue)):
        return _float(float(node.text), str(node))
    if name == "String" and isinstance(node, ast.StringValue):
        return node.value
    if name == "Boolean" and isinstance(node, ast.BooleanValue):
        return node.value
    raise CoercionError(_mismatch(name, str(node)))


# --- variable values from the request --------------------------------------------------------------


def coerce_variable(value: Any, type_: ast.TypeRef) -> Any:
    """A variable's JSON value as ``type_``."""
    if isinstance(type_, ast.NonNullType):
        if value is None:
            raise CoercionError(f'Expected non-nullable type "{type_}" not to be null.')
        return coerce_variable(value, type_.of)
    if value is None:
        return None
    if isinstance(type_, ast.ListType):
        return [coerce_variable(item, type_.of) for item in (value if isinstance(value, list) else [value])]
    printed = json.dumps(value, ensure_ascii=False)
    name = type_.name
    if name == "Int" and isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():
            raise CoercionError(_mismatch(name, printed))
        return _int(int(value), printed)
    if name == "Float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _float(float(value), printed)
    if (name == "String" and isinstance(value, str)) or (name == "Boolean" and isinstance(value, bool)):
        return value
    raise CoercionError(_mismatch(name, printed))


# --- scalars ---------------------------------------------------------------------------------------


def _int(value: int, printed: str) -> int:
    if not INT_RANGE[0] <= value <= INT_RANGE[1]:
        raise CoercionError(f"Int cannot represent non 32-bit signed integer value: {printed}")
    return value


def _float(value: float, printed: str) -> float:
    if not math.isfinite(value):
        raise CoercionError(f"Float cannot represent non numeric value: {printed}")
    return value


def _mismatch(name: str, printed: str) -> str:
    kind = {"Int": "non-integer", "Float": "non numeric", "String": "a non string", "Boolean": "a non boolean"}
    return f"{name} cannot represent {kind[name]} value: {printed}"


def serialize(name: str, value: Any) -> Any:
    """A resolved scalar as JSON (ValueError if it is not one)."""
    if name == "Int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if name == "Float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if (name == "String" and isinstance(value, str)) or (name == "Boolean" and isinstance(value, bool)):
        return value
    raise ValueError(f"{name} cannot represent {value!r}")
