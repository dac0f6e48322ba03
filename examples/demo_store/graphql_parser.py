"""Reading GraphQL documents: a tokenizer and a recursive-descent parser.

The grammar is the executable part of the GraphQL specification without
fragments, directives and subscriptions (those are refused with a clear
message): operations, variable definitions with defaults, fields with aliases,
arguments and selection sets, and every kind of value. Errors are
:class:`GraphQLSyntaxError` with the line and column in the message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from examples.demo_store import graphql_ast as ast
from examples.demo_store.graphql_ast import GraphQLError, Location

MAX_DEPTH = 64  # nested selection sets, lists, objects and types: deeper documents are refused, not crashed on

Kind = Literal["punctuator", "name", "int", "float", "string", "block string", "eof"]

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_PUNCTUATORS = "!$&():=@[]{|}"
_IGNORED = " \t,\ufeff"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class GraphQLSyntaxError(GraphQLError):
    def __init__(self, message: str, loc: Location) -> None:
        super().__init__(f"Syntax Error: {message} at {loc}.", [loc])


@dataclass(frozen=True)
class Token:
    kind: Kind
    value: str  # a string's value is unescaped
    loc: Location

    def __str__(self) -> str:
        if self.kind == "eof":
            return "<EOF>"
        if self.kind == "punctuator":
            return _quote(self.value)
        label = {"name": "Name", "int": "Int", "float": "Float", "string": "String", "block string": "BlockString"}
        return f"{label[self.kind]} {_quote(self.value)}"


# --- tokenizer -------------------------------------------------------------------------------------


class _Lexer:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def loc(self, pos: int | None = None) -> Location:
        return Location(self.line, (self.pos if pos is None else pos) - self.line_start + 1)

    def fail(self, message: str, pos: int | None = None) -> GraphQLSyntaxError:
        return GraphQLSyntaxError(message, self.loc(pos))

    def newline(self, end: int) -> None:
        """A line ends just before ``end`` (the first character of the next line)."""
        self.line += 1
        self.line_start = end

    def tokens(self) -> list[Token]:
        tokens = []
        while True:
            token = self.next()
            tokens.append(token)
            if token.kind == "eof":
                return tokens

    def next(self) -> Token:
        self.skip_ignored()
        source, start = self.source, self.pos
        if start >= len(source):
            return Token("eof", "", self.loc())
        char = source[start]
        if source.startswith("...", start):
            self.pos += 3
            return Token("punctuator", "...", self.loc(start))
        if char in _PUNCTUATORS:
            self.pos += 1
            return Token("punctuator", char, self.loc(start))
        if match := _NAME.match(source, start):
            self.pos = match.end()
            return Token("name", match.group(), self.loc(start))
        if char in "-0123456789":
            return self.number()
        if source.startswith('"""', start):
            return self.block_string()
        if char == '"':
            return self.string()
        raise self.fail(f"Unexpected character: {_quote(char)}")

    def skip_ignored(self) -> None:
        source = self.source
        while self.pos < len(source):
            char = source[self.pos]
            if char in _IGNORED:
                self.pos += 1
            elif char in "\r\n":
                self.pos += 2 if source.startswith("\r\n", self.pos) else 1
                self.newline(self.pos)
            elif char == "#":
                while self.pos < len(source) and source[self.pos] not in "\r\n":
                    self.pos += 1
            else:
                return

    def number(self) -> Token:
        start = self.pos
        match = _NUMBER.match(self.source, start)
        if match is None:
            raise self.fail(f"Invalid number: {_quote(self.source[start : start + 2])}")
        self.pos = match.end()
        if self.pos < len(self.source) and (self.source[self.pos] in "._" or self.source[self.pos].isalnum()):
            raise self.fail(f"Invalid number: unexpected {_quote(self.source[self.pos])}", self.pos)
        kind: Kind = "float" if match.group(1) or match.group(2) else "int"
        return Token(kind, match.group(), self.loc(start))

    def string(self) -> Token:
        source, start = self.source, self.pos
        chars: list[str] = []
        self.pos += 1
        while self.pos < len(source):
            char = source[self.pos]
            if char == '"':
                self.pos += 1
                return Token("string", "".join(chars), self.loc(start))
            if char in "\r\n":
                break
            if char < " " and char != "\t":
                raise self.fail(f"Invalid character within String: {_quote(char)}")
            if char == "\\":
                chars.append(self.escape())
            else:
                chars.append(char)
                self.pos += 1
        raise self.fail("Unterminated string")

    def escape(self) -> str:
        """The character of the escape sequence at ``pos`` (a backslash); moves past it."""
        source, start = self.source, self.pos
        code = source[start + 1 : start + 2]
        if code in _ESCAPES:
            self.pos += 2
            return _ESCAPES[code]
        if code != "u":
            raise self.fail(f"Invalid character escape sequence: {_quote(source[start : start + 2])}")
        point = self.hex4(start)
        self.pos += 6
        if 0xD800 <= point <= 0xDBFF and source.startswith("\\u", self.pos):  # a surrogate pair
            low = self.hex4(self.pos)
            if 0xDC00 <= low <= 0xDFFF:
                self.pos += 6
                return chr(0x10000 + ((point - 0xD800) << 10) + (low - 0xDC00))
        if 0xD800 <= point <= 0xDFFF:
            raise self.fail(f"Invalid Unicode escape sequence: {_quote(source[start : start + 6])}", start)
        return chr(point)

    def hex4(self, start: int) -> int:
        digits = self.source[start + 2 : start + 6]
        if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise self.fail(f"Invalid Unicode escape sequence: {_quote(self.source[start : start + 6])}", start)
        return int(digits, 16)

    def block_string(self) -> Token:
        source, start = self.source, self.pos
        loc = self.loc(start)
        self.pos += 3
        raw: list[str] = []
        while self.pos < len(source):
            if source.startswith('"""', self.pos):
                self.pos += 3
                return Token("block string", block_string_value("".join(raw)), loc)
            if source.startswith('\\"""', self.pos):
                raw.append('"""')
                self.pos += 4
                continue
            char = source[self.pos]
            if char < " " and char not in "\t\r\n":
                raise self.fail(f"Invalid character within String: {_quote(char)}")
            raw.append(char)
            self.pos += 1
            if char == "\n" or (char == "\r" and not source.startswith("\n", self.pos)):
                self.newline(self.pos)
        raise self.fail("Unterminated string")


def block_string_value(raw: str) -> str:
    """A block string's value: common indentation and blank first and last lines removed."""
    lines = re.split(r"\r\n|\n|\r", raw)
    indents = [len(line) - len(line.lstrip(" \t")) for line in lines[1:] if line.strip(" \t")]
    common = min(indents, default=0)
    lines = lines[:1] + [line[common:] for line in lines[1:]]
    while lines and not lines[0].strip(" \t"):
        lines.pop(0)
    while lines and not lines[-1].strip(" \t"):
        lines.pop()
    return "\n".join(lines)


# --- parser ----------------------------------------------------------------------------------------


def parse(source: str) -> ast.Document:
    """The document in ``source``; :class:`GraphQLSyntaxError` if it is not valid (supported) GraphQL."""
    return _Parser(source).document()


def parse_type(source: str) -> ast.TypeRef:
    """A type reference such as ``[Product!]!``."""
    parser = _Parser(source)
    type_ = parser.type_ref()
    parser.expect("eof")
    return type_


def parse_value(source: str) -> ast.Value:
    """A constant value such as ``20`` or ``"Books"``."""
    parser = _Parser(source)
    value = parser.value(const=True)
    parser.expect("eof")
    return value


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _Lexer(source).tokens()
        self.pos = 0
        self.depth = 0

    # helpers

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != "eof":
            self.pos += 1
        return token

    def peek(self, kind: Kind, value: str | None = None) -> bool:
        return self.token.kind == kind and (value is None or self.token.value == value)

    def skip(self, kind: Kind, value: str | None = None) -> bool:
        """Move past the current token if it is ``kind`` (``value``)."""
        if self.peek(kind, value):
            self.advance()
            return True
        return False

    def expect(self, kind: Kind, value: str | None = None) -> Token:
        if not self.peek(kind, value):
            wanted = f'"{value}"' if value else {"name": "Name", "eof": "<EOF>"}.get(kind, kind)
            raise GraphQLSyntaxError(f"Expected {wanted}, found {self.token}", self.token.loc)
        return self.advance()

    def unexpected(self) -> GraphQLSyntaxError:
        token = self.token
        if token.kind == "punctuator" and token.value == "...":
            return GraphQLSyntaxError("fragments are not supported", token.loc)
        if token.kind == "punctuator" and token.value == "@":
            return GraphQLSyntaxError("directives are not supported", token.loc)
        return GraphQLSyntaxError(f"Unexpected {token}", token.loc)

    def nested(self, loc: Location) -> None:
        """Enter one more level of nesting (leave with ``self.depth -= 1``)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise GraphQLSyntaxError(f"the document is nested more than {MAX_DEPTH} levels deep", loc)

    # document and operations

    def document(self) -> ast.Document:
        loc = self.token.loc
        operations = [self.operation()]
        while not self.peek("eof"):
            operations.append(self.operation())
        return ast.Document(loc=loc, operations=tuple(operations))

    def operation(self) -> ast.Operation:
        token = self.token
        if self.peek("punctuator", "{"):
            return ast.Operation(loc=token.loc, kind="query", name=None, variables=(), selections=self.selections())
        if token.kind == "name" and token.value in ("query", "mutation"):
            self.advance()
            name = self.advance().value if self.peek("name") else None
            variables = self.variable_definitions() if self.peek("punctuator", "(") else ()
            return ast.Operation(
                loc=token.loc,
                kind="mutation" if token.value == "mutation" else "query",
                name=name,
                variables=variables,
                selections=self.selections(),
            )
        if token.kind == "name" and token.value in ("subscription", "fragment"):
            raise GraphQLSyntaxError(f"{token.value}s are not supported", token.loc)
        raise self.unexpected()

    def variable_definitions(self) -> tuple[ast.VariableDefinition, ...]:
        self.expect("punctuator", "(")
        definitions = []
        while True:
            loc = self.expect("punctuator", "$").loc
            name = self.expect("name").value
            self.expect("punctuator", ":")
            type_ = self.type_ref()
            default = self.value(const=True) if self.skip("punctuator", "=") else None
            definitions.append(ast.VariableDefinition(loc=loc, name=name, type=type_, default=default))
            if self.skip("punctuator", ")"):
                return tuple(definitions)

    def type_ref(self) -> ast.TypeRef:
        token = self.token
        inner: ast.NamedType | ast.ListType
        if self.skip("punctuator", "["):
            self.nested(token.loc)
            inner = ast.ListType(loc=token.loc, of=self.type_ref())
            self.expect("punctuator", "]")
            self.depth -= 1
        else:
            inner = ast.NamedType(loc=token.loc, name=self.expect("name").value)
        return ast.NonNullType(loc=token.loc, of=inner) if self.skip("punctuator", "!") else inner

    # selections

    def selections(self) -> tuple[ast.Field, ...]:
        self.nested(self.expect("punctuator", "{").loc)
        fields = [self.field()]
        while not self.skip("punctuator", "}"):
            fields.append(self.field())
        self.depth -= 1
        return tuple(fields)

    def field(self) -> ast.Field:
        if self.peek("punctuator", "..."):
            raise self.unexpected()
        token = self.expect("name")
        loc = token.loc
        alias, name = None, token.value
        if self.skip("punctuator", ":"):
            alias, name = name, self.expect("name").value
        arguments = self.arguments() if self.peek("punctuator", "(") else ()
        if self.peek("punctuator", "@"):
            raise self.unexpected()
        selections = self.selections() if self.peek("punctuator", "{") else None
        return ast.Field(loc=loc, alias=alias, name=name, arguments=arguments, selections=selections)

    def arguments(self) -> tuple[ast.Argument, ...]:
        self.expect("punctuator", "(")
        arguments = []
        while True:
            token = self.expect("name")
            self.expect("punctuator", ":")
            arguments.append(ast.Argument(loc=token.loc, name=token.value, value=self.value(const=False)))
            if self.skip("punctuator", ")"):
                return tuple(arguments)

    # values

    def value(self, const: bool) -> ast.Value:
        token = self.token
        loc = token.loc
        if token.kind == "punctuator" and token.value == "$":
            self.advance()
            variable = ast.Variable(loc=loc, name=self.expect("name").value)
            if const:
                raise GraphQLSyntaxError(f'Unexpected variable "{variable}" in a constant value', loc)
            return variable
        if token.kind in ("int", "float", "string", "block string", "name"):
            self.advance()
            return self.scalar(token)
        if token.kind == "punctuator" and token.value in ("[", "{"):
            self.advance()
            self.nested(loc)
            value = self.list_value(loc, const) if token.value == "[" else self.object_value(loc, const)
            self.depth -= 1
            return value
        raise self.unexpected()

    @staticmethod
    def scalar(token: Token) -> ast.Value:
        loc = token.loc
        if token.kind == "int":
            return ast.IntValue(loc=loc, text=token.value)
        if token.kind == "float":
            return ast.FloatValue(loc=loc, text=token.value)
        if token.kind in ("string", "block string"):
            return ast.StringValue(loc=loc, value=token.value)
        if token.value in ("true", "false"):
            return ast.BooleanValue(loc=loc, value=token.value == "true")
        if token.value == "null":
            return ast.NullValue(loc=loc)
        return ast.EnumValue(loc=loc, name=token.value)

    def list_value(self, loc: Location, const: bool) -> ast.ListValue:
        items = []
        while not self.skip("punctuator", "]"):
            items.append(self.value(const))
        return ast.ListValue(loc=loc, items=tuple(items))

    def object_value(self, loc: Location, const: bool) -> ast.ObjectValue:
        fields = []
        while not self.skip("punctuator", "}"):
            token = self.expect("name")
            self.expect("punctuator", ":")
            fields.append(ast.ObjectField(loc=token.loc, name=token.value, value=self.value(const)))
        return ast.ObjectValue(loc=loc, fields=tuple(fields))
