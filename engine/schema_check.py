"""A JSON Schema compiled into a yes/no check: is a document valid at all?

jsonschema walks a valid document as slowly as an invalid one (an error
generator per keyword per node, every branch of a step's ``anyOf`` tried in
turn, each ``$ref`` looked up anew): about 0.3 ms a step. Most documents are
valid, so :mod:`engine.validate` first asks the predicate that
:func:`compile_check` builds once from the same schema, with the same semantics
as its validator (Draft 7: ``$ref`` siblings ignored, its type checker, and the
two YAML-aware keywords there: a mapping key that is not text matches no
pattern and, under ``additionalProperties: {schema}`` without
``propertyNames``, is no name). Only a document it rejects goes through
jsonschema, whose errors are explained as before: messages cannot change. A
keyword the compiler does not know makes it give up (None), and every document
goes through jsonschema. Nothing here imports jsonschema: a valid scenario
never loads it (about 4 MiB of a process).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]


def compile_check(schema: dict[str, Any]) -> Check | None:
    """``schema`` as a validity predicate, or None when it uses what the compiler does not implement."""
    try:
        return _FastCompiler(schema).compile(schema)
    except (_Unsupported, re.error, TypeError, KeyError):
        return None


def _equal(one: Any, two: Any) -> bool:
    """JSON equality as JSON Schema means it (``enum``, ``const``, ``uniqueItems``): true is not 1, 1 is 1.0."""
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[key], two[key]) for key in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return one is two
    return bool(one == two)


def _unique(items: list[Any]) -> bool:
    return not any(_equal(a, b) for i, a in enumerate(items) for b in items[i + 1 :])


# --- the compiler ----------------------------------------------------------------


class _Unsupported(Exception):
    """The schema uses something the fast check does not implement."""


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPE_CHECKS: dict[str, Check] = {
    "array": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "integer": _is_integer,
    "null": lambda value: value is None,
    "number": _is_number,
    "object": lambda value: isinstance(value, dict),
    "string": lambda value: isinstance(value, str),
}
_ANNOTATIONS = frozenset({"format"})  # a Draft 7 keyword that asserts nothing without a format checker (none here)
_KEYWORDS = frozenset(  # every Draft 7 keyword that asserts something
    {
        "$ref",
        "additionalItems",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "contains",
        "dependencies",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",
        "if",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "not",
        "oneOf",
        "pattern",
        "patternProperties",
        "properties",
        "propertyNames",
        "required",
        "type",
        "uniqueItems",
    }
)


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _all_of(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    frozen = tuple(checks)

    def check(value: Any) -> bool:
        for one in frozen:  # a loop: all() and a generator would cost more than most checks do
            if not one(value):
                break
        else:
            return True
        return False

    return check


class _FastCompiler:
    """Compiles a Draft 7 schema (the subset scenario.schema.json uses) into a validity predicate."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, ref: str) -> Check:
        """The check of a local ``#/definitions/...`` reference, compiled once (references may recurse)."""
        known = self.refs.get(ref)
        if known is not None:
            return known
        if not ref.startswith("#") or "%" in ref or "~" in ref:
            raise _Unsupported(ref)
        target: Any = self.root
        for part in ref[1:].split("/")[1:]:
            if not isinstance(target, dict) or part not in target:
                raise _Unsupported(ref)
            target = target[part]
        cell: list[Check] = []
        self.refs[ref] = lambda value: cell[0](value)
        cell.append(self.compile(target))
        self.refs[ref] = cell[0]
        return cell[0]

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise _Unsupported(repr(schema))
        if "$ref" in schema:  # Draft 7: a $ref's siblings are ignored
            ref = schema["$ref"]
            if not isinstance(ref, str):
                raise _Unsupported(repr(ref))
            return self.ref(ref)
        if "$id" in schema and schema is not self.root:
            raise _Unsupported("$id")
        unknown = (_KEYWORDS & set(schema)) - _ANNOTATIONS - self.KNOWN
        if unknown:
            raise _Unsupported(", ".join(sorted(unknown)))
        checks: list[Check] = []
        if "type" in schema:
            checks.append(self.type_check(schema["type"]))
        checks.extend(self.general(schema))
        objects = self.object_check(schema)
        if objects is not None:
            checks.append(lambda value: not isinstance(value, dict) or objects(value))
        arrays = self.array_check(schema)
        if arrays is not None:
            checks.append(lambda value: not isinstance(value, list) or arrays(value))
        strings = self.string_check(schema)
        if strings is not None:
            checks.append(lambda value: not isinstance(value, str) or strings(value))
        numeric = self.number_check(schema)
        if numeric is not None:
            checks.append(lambda value: not _is_number(value) or numeric(value))
        return _all_of(checks)

    KNOWN = frozenset(
        {
            "$ref",
            "type",
            "enum",
            "const",
            "anyOf",
            "allOf",
            "oneOf",
            "not",
            "if",
            "properties",
            "patternProperties",
            "additionalProperties",
            "required",
            "propertyNames",
            "minProperties",
            "maxProperties",
            "dependencies",
            "items",
            "minItems",
            "maxItems",
            "uniqueItems",
            "contains",
            "pattern",
            "minLength",
            "maxLength",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
        }
    )

    @staticmethod
    def type_check(types: Any) -> Check:
        names = [types] if isinstance(types, str) else list(types)
        if not all(isinstance(name, str) and name in _TYPE_CHECKS for name in names):
            raise _Unsupported(f"type {types!r}")
        if len(names) == 1:
            return _TYPE_CHECKS[names[0]]
        checks = tuple(_TYPE_CHECKS[name] for name in names)
        return lambda value: any(one(value) for one in checks)

    def general(self, schema: dict[str, Any]) -> list[Check]:
        """The keywords that apply to a value of any type."""
        checks: list[Check] = []
        if "enum" in schema:
            enums = list(schema["enum"])
            texts = frozenset(e for e in enums if isinstance(e, str))

            def enum(value: Any) -> bool:
                if isinstance(value, str) and type(value) is str:
                    return value in texts
                return any(_equal(each, value) for each in enums)

            checks.append(enum)
        if "const" in schema:
            const = schema["const"]
            checks.append(lambda value: _equal(value, const))
        if "anyOf" in schema:
            branches = tuple(self.compile(s) for s in schema["anyOf"])
            checks.append(lambda value: any(one(value) for one in branches))
        if "allOf" in schema:
            checks.append(_all_of([self.compile(s) for s in schema["allOf"]]))
        if "oneOf" in schema:
            alternatives = tuple(self.compile(s) for s in schema["oneOf"])
            checks.append(lambda value: sum(1 for one in alternatives if one(value)) == 1)
        if "not" in schema:
            negated = self.compile(schema["not"])
            checks.append(lambda value: not negated(value))
        if "if" in schema:
            condition = self.compile(schema["if"])
            then = self.compile(schema["then"]) if "then" in schema else _always
            otherwise = self.compile(schema["else"]) if "else" in schema else _always
            checks.append(lambda value: then(value) if condition(value) else otherwise(value))
        return checks

    def object_check(self, schema: dict[str, Any]) -> Check | None:
        """The object keywords of ``schema`` as one check of a mapping (None: there are none)."""
        properties: dict[Any, Check] = {k: self.compile(v) for k, v in schema.get("properties", {}).items()}
        patterns = [(re.compile(p), self.compile(v)) for p, v in schema.get("patternProperties", {}).items()]
        joined = "|".join(schema.get("patternProperties", {}))
        extras_pattern = re.compile(joined) if joined else None
        additional: Any = schema.get("additionalProperties", True)
        extra_check: Check | None = None
        text_keys_only = False
        if isinstance(additional, dict):
            extra_check = self.compile(additional)
            text_keys_only = "propertyNames" not in schema
        elif not additional and "additionalProperties" in schema:
            extra_check = _never
        names = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None
        required = list(schema.get("required", []))
        minimum = schema.get("minProperties")
        maximum = schema.get("maxProperties")
        dependencies: list[tuple[Any, Any]] = []
        for key, needs in schema.get("dependencies", {}).items():
            dependencies.append((key, list(needs) if isinstance(needs, list) else self.compile(needs)))
        if not (properties or patterns or extra_check or names or required or dependencies) and (
            minimum is None and maximum is None
        ):
            return None
        properties_get = properties.get

        def check(value: dict[Any, Any]) -> bool:
            for key in required:
                if key not in value:
                    return False
            if minimum is not None and len(value) < minimum:
                return False
            if maximum is not None and len(value) > maximum:
                return False
            for key, item in value.items():
                own = properties_get(key) if isinstance(key, str) else None
                if own is not None and not own(item):
                    return False
                if patterns and isinstance(key, str):
                    for pattern, matched in patterns:
                        if pattern.search(key) and not matched(item):
                            return False
                if (
                    extra_check is not None
                    and own is None
                    and key not in properties
                    and not (extras_pattern is not None and isinstance(key, str) and extras_pattern.search(key))
                    and ((text_keys_only and not isinstance(key, str)) or not extra_check(item))
                ):
                    return False
                if names is not None and not names(key):
                    return False
            for key, needs in dependencies:
                if key in value:
                    if isinstance(needs, list):
                        if any(need not in value for need in needs):
                            return False
                    elif not needs(value):
                        return False
            return True

        return check

    def array_check(self, schema: dict[str, Any]) -> Check | None:
        """The array keywords of ``schema`` as one check of a list (None: there are none)."""
        checks: list[Check] = []
        if "items" in schema:
            items = schema["items"]
            if isinstance(items, list):
                positional = [self.compile(s) for s in items]
                checks.append(lambda value: all(one(x) for one, x in zip(positional, value, strict=False)))
            else:
                each = self.compile(items)
                if each is not _always:
                    checks.append(lambda value: all(each(x) for x in value))
        if "minItems" in schema:
            low = schema["minItems"]
            checks.append(lambda value: len(value) >= low)
        if "maxItems" in schema:
            high = schema["maxItems"]
            checks.append(lambda value: len(value) <= high)
        if schema.get("uniqueItems"):
            checks.append(_unique)
        if "contains" in schema:
            contains = self.compile(schema["contains"])
            checks.append(lambda value: any(contains(x) for x in value))
        return _all_of(checks) if checks else None

    @staticmethod
    def string_check(schema: dict[str, Any]) -> Check | None:
        checks: list[Check] = []
        if "pattern" in schema:
            search = re.compile(schema["pattern"]).search
            checks.append(lambda value: search(value) is not None)
        if "minLength" in schema:
            shortest = schema["minLength"]
            checks.append(lambda value: len(value) >= shortest)
        if "maxLength" in schema:
            longest = schema["maxLength"]
            checks.append(lambda value: len(value) <= longest)
        return _all_of(checks) if checks else None

    @staticmethod
    def number_check(schema: dict[str, Any]) -> Check | None:
        checks: list[Check] = []
        if "minimum" in schema:
            low = schema["minimum"]
            checks.append(lambda value: not value < low)
        if "maximum" in schema:
            high = schema["maximum"]
            checks.append(lambda value: not value > high)
        if "exclusiveMinimum" in schema:
            above = schema["exclusiveMinimum"]
            checks.append(lambda value: not value <= above)
        if "exclusiveMaximum" in schema:
            below = schema["exclusiveMaximum"]
            checks.append(lambda value: not value >= below)
        return _all_of(checks) if checks else None
