"""The syntax tree of a GraphQL document (the subset the demo store runs) and errors located in it.

Nodes are immutable and compare equal when they are written alike, wherever
they are (``loc`` is left out of comparisons), which is what the check for
conflicting fields needs. ``str(node)`` prints values and types as GraphQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Location:
    """A 1-based line and column in the document."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}"


class GraphQLError(Exception):
    """An entry of a response's ``errors``: a message, where in the document, where in the data."""

    def __init__(
        self,
        message: str,
        locations: list[Location] | None = None,
        path: list[str | int] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.locations = locations or []
        self.path = path
        self.extensions = extensions

    def formatted(self) -> dict[str, Any]:
        """The error as JSON: ``message``, and ``locations``, ``path``, ``extensions`` when known."""
        entry: dict[str, Any] = {"message": self.message}
        if self.locations:
            entry["locations"] = [{"line": loc.line, "column": loc.column} for loc in self.locations]
        if self.path is not None:
            entry["path"] = self.path
        if self.extensions:
            entry["extensions"] = self.extensions
        return entry


@dataclass(frozen=True)
class Node:
    loc: Location = field(compare=False, repr=False)


# --- values ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable(Node):
    name: str

    def __str__(self) -> str:
        return f"${self.name}"


@dataclass(frozen=True)
class IntValue(Node):
    text: str  # as written: Python's int() reads it

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class FloatValue(Node):
    text: str  # as written: Python's float() reads it

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class StringValue(Node):
    value: str

    def __str__(self) -> str:
        return json.dumps(self.value, ensure_ascii=False)


@dataclass(frozen=True)
class BooleanValue(Node):
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass(frozen=True)
class NullValue(Node):
    def __str__(self) -> str:
        return "null"


@dataclass(frozen=True)
class EnumValue(Node):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ListValue(Node):
    items: tuple[Value, ...]

    def __str__(self) -> str:
        return f"[{', '.join(map(str, self.items))}]"


@dataclass(frozen=True)
class ObjectField(Node):
    name: str
    value: Value


@dataclass(frozen=True)
class ObjectValue(Node):
    fields: tuple[ObjectField, ...]

    def __str__(self) -> str:
        return "{" + ", ".join(f"{item.name}: {item.value}" for item in self.fields) + "}"


Value = Variable | IntValue | FloatValue | StringValue | BooleanValue | NullValue | EnumValue | ListValue | ObjectValue


# --- types -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedType(Node):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ListType(Node):
    of: TypeRef

    def __str__(self) -> str:
        return f"[{self.of}]"


@dataclass(frozen=True)
class NonNullType(Node):
    of: NamedType | ListType

    def __str__(self) -> str:
        return f"{self.of}!"


TypeRef = NamedType | ListType | NonNullType


def named_type(type_: TypeRef) -> str:
    """The name inside any list and non-null wrappers: ``[Product!]!`` -> ``Product``."""
    while not isinstance(type_, NamedType):
        type_ = type_.of
    return type_.name


# --- operations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Argument(Node):
    name: str
    value: Value


@dataclass(frozen=True)
class Field(Node):
    alias: str | None
    name: str
    arguments: tuple[Argument, ...]
    selections: tuple[Field, ...] | None  # None for a leaf: no braces were written

    @property
    def response_key(self) -> str:
        """The field's name in the response: its alias if it has one."""
        return self.alias or self.name


@dataclass(frozen=True)
class VariableDefinition(Node):
    name: str
    type: TypeRef
    default: Value | None


@dataclass(frozen=True)
class Operation(Node):
    kind: Literal["query", "mutation"]
    name: str | None
    variables: tuple[VariableDefinition, ...]
    selections: tuple[Field, ...]


@dataclass(frozen=True)
class Document(Node):
    operations: tuple[Operation, ...]
