"""Checking a parsed document against the schema before anything runs (so a bad mutation changes nothing).

The checks are the specification's validation rules that apply to the
supported subset: unique and lone anonymous operations; variables unique, of
known input types, with fitting defaults, all defined and all used, and used
where their type fits; fields that exist, selections on objects and none on
scalars; known, unique, required and well-typed arguments; and fields of the
same response name that can be merged.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from examples.demo_store import graphql_ast as ast
from examples.demo_store.graphql_ast import GraphQLError
from examples.demo_store.graphql_types import (
    NO_DEFAULT,
    ArgumentDef,
    CoercionError,
    FieldDef,
    ObjectType,
    Schema,
    coerce_literal,
    is_input_type,
    is_subtype,
)


def validate(schema: Schema, document: ast.Document) -> list[GraphQLError]:
    """Every problem found in ``document`` (empty when it can run)."""
    errors: list[GraphQLError] = []
    names = [op.name for op in document.operations]
    for index, operation in enumerate(document.operations):
        if operation.name is None and len(names) > 1:
            errors.append(GraphQLError("This anonymous operation must be the only defined operation.", [operation.loc]))
        elif operation.name is not None and names.index(operation.name) != index:
            errors.append(GraphQLError(f'There can be only one operation named "{operation.name}".', [operation.loc]))
        errors += _OperationCheck(schema, operation).run()
    return errors


class _OperationCheck:
    def __init__(self, schema: Schema, operation: ast.Operation) -> None:
        self.schema = schema
        self.operation = operation
        self.errors: list[GraphQLError] = []
        self.variables: dict[str, ast.VariableDefinition] = {}
        self.used: set[str] = set()

    def fail(self, message: str, *nodes: ast.Node) -> None:
        self.errors.append(GraphQLError(message, [node.loc for node in nodes]))

    def run(self) -> list[GraphQLError]:
        operation = self.operation
        for definition in operation.variables:
            self.variable_definition(definition)
        root = self.schema.root(operation.kind)
        if root is None:
            self.fail(f"Schema is not configured to execute {operation.kind} operation.", operation)
            return self.errors
        self.selections(root, operation.selections)
        for name, definition in self.variables.items():
            if name not in self.used:
                self.fail(f'Variable "${name}" is never used{self.in_operation()}.', definition)
        return self.errors

    def in_operation(self) -> str:
        return f' in operation "{self.operation.name}"' if self.operation.name else ""

    def variable_definition(self, definition: ast.VariableDefinition) -> None:
        if definition.name in self.variables:
            self.fail(f'There can be only one variable named "${definition.name}".', definition)
            return
        self.variables[definition.name] = definition
        type_name = ast.named_type(definition.type)
        if type_name not in self.schema.types and not is_input_type(definition.type):
            self.fail(f'Unknown type "{type_name}".', definition.type)
        elif not is_input_type(definition.type):
            self.fail(f'Variable "${definition.name}" cannot be non-input type "{definition.type}".', definition.type)
        elif definition.default is not None:
            self.literal(definition.default, definition.type)

    def literal(self, value: ast.Value, type_: ast.TypeRef) -> None:
        try:
            coerce_literal(value, type_, None)
        except CoercionError as error:
            self.fail(str(error), value)

    def selections(self, parent: ObjectType, fields: Sequence[ast.Field]) -> None:
        """Check one selection set on ``parent``; fields of the same response name are merged first."""
        groups: dict[str, list[ast.Field]] = {}
        for node in fields:
            groups.setdefault(node.response_key, []).append(node)
        for key, group in groups.items():
            first = group[0]
            for other in group[1:]:
                if other.name != first.name:
                    self.fail(
                        f'Fields "{key}" conflict because "{first.name}" and "{other.name}" are different fields.'
                        " Use different aliases on the fields to fetch both if this was intentional.",
                        first,
                        other,
                    )
                elif sorted(other.arguments, key=_name) != sorted(first.arguments, key=_name):
                    self.fail(
                        f'Fields "{key}" conflict because they have differing arguments.'
                        " Use different aliases on the fields to fetch both if this was intentional.",
                        first,
                        other,
                    )
            self.field(parent, first, [child for node in group for child in node.selections or ()])

    def field(self, parent: ObjectType, node: ast.Field, children: list[ast.Field]) -> None:
        if node.name == "__typename":
            definition = FieldDef(ast.NamedType(loc=node.loc, name="String"))
        elif node.name in parent.fields:
            definition = parent.fields[node.name]
        else:
            message = f'Cannot query field "{node.name}" on type "{parent.name}".'
            suggestions = difflib.get_close_matches(node.name, list(parent.fields), n=3, cutoff=0.6)
            if suggestions:
                message += " Did you mean " + " or ".join(f'"{name}"' for name in suggestions) + "?"
            self.fail(message, node)
            return
        self.arguments(parent, node, definition)
        child_type = self.schema.object_type(definition.type)
        if child_type is None and node.selections is not None:
            self.fail(
                f'Field "{node.name}" must not have a selection since type "{definition.type}" has no subfields.', node
            )
        elif child_type is not None and node.selections is None:
            self.fail(
                f'Field "{node.name}" of type "{definition.type}" must have a selection of subfields.'
                f' Did you mean "{node.name} {{ ... }}"?',
                node,
            )
        elif child_type is not None:
            self.selections(child_type, children)

    def arguments(self, parent: ObjectType, node: ast.Field, definition: FieldDef) -> None:
        given: dict[str, ast.Argument] = {}
        for argument in node.arguments:
            if argument.name in given:
                self.fail(f'There can be only one argument named "{argument.name}".', given[argument.name], argument)
            elif argument.name not in definition.args:
                self.fail(f'Unknown argument "{argument.name}" on field "{parent.name}.{node.name}".', argument)
            else:
                given[argument.name] = argument
                self.argument_value(argument.value, definition.args[argument.name])
        for name, arg in definition.args.items():
            if isinstance(arg.type, ast.NonNullType) and arg.default is NO_DEFAULT and name not in given:
                self.fail(
                    f'Field "{node.name}" argument "{name}" of type "{arg.type}" is required, but it was not provided.',
                    node,
                )

    def argument_value(self, value: ast.Value, arg: ArgumentDef) -> None:
        for variable in _variables_in(value):
            self.used.add(variable.name)
            definition = self.variables.get(variable.name)
            if definition is None:
                self.fail(f'Variable "${variable.name}" is not defined{self.in_operation()}.', variable, self.operation)
            elif variable is value and is_input_type(definition.type) and not self.fits(definition, arg):
                self.fail(
                    f'Variable "${variable.name}" of type "{definition.type}" used in position expecting type'
                    f' "{arg.type}".',
                    definition,
                    variable,
                )
        self.literal(value, arg.type)

    @staticmethod
    def fits(definition: ast.VariableDefinition, arg: ArgumentDef) -> bool:
        """Whether the variable may be the whole argument (a nullable one only with a default on either side)."""
        location = arg.type
        has_default = definition.default is not None and not isinstance(definition.default, ast.NullValue)
        if isinstance(location, ast.NonNullType) and (has_default or arg.default is not NO_DEFAULT):
            location = location.of
        return is_subtype(definition.type, location)


def _name(argument: ast.Argument) -> str:
    return argument.name


def _variables_in(value: ast.Value) -> list[ast.Variable]:
    if isinstance(value, ast.Variable):
        return [value]
    if isinstance(value, ast.ListValue):
        return [variable for item in value.items for variable in _variables_in(item)]
    if isinstance(value, ast.ObjectValue):
        return [variable for item in value.fields for variable in _variables_in(item.value)]
    return []
