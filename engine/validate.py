"""Stage 2: check plain data against the JSON Schema and explain every problem.

jsonschema's raw messages are written for schema authors; here each error is
placed at the YAML node it concerns (the key itself for unknown keys) and put
in plain words with a "did you mean" where a key or value looks misspelt. Every
message starts with the key path (``users.Shopper.weight: ...``; the mapping's
path for a problem with one of its keys), then says the expected form and what
was found: the schema's ``expectedForm`` words a type error, its
``errorMessage`` (``expected a duration like ...``) a value of the wrong form,
and a nearly-right value gets the fix as its hint (``write 10s``). For
``anyOf`` (a step is a request *or* a think *or* ...), the branch the author
evidently meant is the one explained.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ScenarioError, did_you_mean
from engine.schema_check import Check, compile_check
from engine.source import position_of

if TYPE_CHECKING:  # jsonschema is imported when a document fails the fast check (engine.schema_check)
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = Path(__file__).with_name("scenario.schema.json")

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The scenario JSON Schema (schemas/scenario.schema.json)."""
    with SCHEMA_FILE.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """jsonschema's ``patternProperties`` for YAML mappings, whose keys may be booleans, numbers or null."""
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if isinstance(key, str) and re.search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, allowed: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """jsonschema's ``additionalProperties`` for YAML mappings: a key that is not text is never a pattern match."""
    from jsonschema.exceptions import ValidationError  # only jsonschema calls this: it is imported

    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = "|".join(schema.get("patternProperties", {}))
    extras = [
        key
        for key in instance
        if key not in properties and not (patterns and isinstance(key, str) and re.search(patterns, key))
    ]
    if validator.is_type(allowed, "object"):
        if "propertyNames" not in schema:  # JSON has only text keys: a name YAML read otherwise is no name
            for key in extras:
                if not isinstance(key, str):
                    yield ValidationError(
                        "not a name", validator="propertyNames", instance=key, schema_path=["propertyNames"]
                    )
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed and extras:
        yield ValidationError(f"Additional properties are not allowed ({', '.join(map(repr, extras))})")


@lru_cache(maxsize=1)
def _validator() -> Any:
    """jsonschema's Draft 7 validator of the scenario schema, with the two YAML-aware keywords above."""
    import jsonschema

    extended = jsonschema.validators.extend(
        jsonschema.Draft7Validator,
        {"patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
    )
    return extended(schema())


@lru_cache(maxsize=1)
def _fast_check() -> Check | None:
    """The scenario schema compiled into a validity predicate (None when it uses what the compiler lacks)."""
    return compile_check(schema())


def release() -> None:
    """Forget the schema, its compiled check and its validator (see :func:`engine.load.settle`)."""
    for cached in (schema, _validator, _fast_check):
        cached.cache_clear()


def _fast_valid(data: Any) -> bool:
    """True when the fast check finds ``data`` valid (then jsonschema finds no error either)."""
    check = _fast_check()
    if check is None:
        return False
    try:
        return check(data)
    except RecursionError:
        return False  # jsonschema says what it says of a document this deep


# Words that authors bring from other tools (Artillery, k6, Tavern, Hurl...) and the key meant here.
SYNONYMS = {
    "sleep": "think",
    "pause": "think",
    "delay": "think",
    "capture": "save",
    "extract": "save",
    "assert": "expect",
    "asserts": "expect",
    "check": "expect",
    "checks": "expect",
    "validate": "expect",
    "statuscode": "status",
    "status_code": "status",
    "qs": "params",
    "query": "params",
    "data": "form",
    "iftrue": "if",
    "when": "if",
    "repeat": "loop",
    "count": "loop",
    "fragment": "use",
    "include": "use",
}


DEPENDENCY_HINTS = {"abort": "abort stops the test when the sliding window of for: fails"}


def suggest(key: Any, allowed: Any) -> str | None:
    """A "did you mean" for a word another tool uses, when what it means here is allowed."""
    meant = SYNONYMS.get(str(key).lower())
    return f"did you mean '{meant}'?" if meant is not None and meant in allowed else None


def validate(data: Any) -> list[ScenarioError]:
    """Every schema problem of ``data`` (as loaded by :mod:`engine.source`)."""
    if _fast_valid(data):
        return []
    problems: list[ScenarioError] = []
    for error in _validator().iter_errors(data):
        problems.extend(_explain(error, data))
    # A key unknown to both a node's properties and its anyOf branches (a profile's shape) is one problem.
    detailed = {(p.pos, m[1]) for p in problems if (m := _UNKNOWN.match(p.message)) and m[2]}
    return [p for p in problems if not ((m := _UNKNOWN.match(p.message)) and not m[2] and (p.pos, m[1]) in detailed)]


_UNKNOWN = re.compile(r"(.*?unknown key '[^']*')(.*)", re.DOTALL)


def check_value(path: list[str], value: Any) -> list[ScenarioError]:
    """The schema problems of one value given outside the file (``--var defaults.client=fast``).

    Each message starts with the key path, as for the file's own values; the
    positions are meaningless (the caller puts its own).
    """
    document: Any = value
    for key in reversed(path):
        document = {key: document}
    if _fast_valid(document):
        return []
    problems: list[ScenarioError] = []
    for error in _validator().iter_errors(document):
        if list(error.absolute_path)[: len(path)] == path:
            problems.extend(_explain(error, document))
    return problems


def describe(value: Any) -> str:
    """A value's JSON type in words: 'a string', 'a list', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _path(error: ValidationError) -> list[str | int]:
    return list(error.absolute_path)


def _at(error: ValidationError, root: Any, message: str, hint: str | None = None) -> ScenarioError:
    """A problem of the node ``error`` is about: ``key.path: message``."""
    return ScenarioError(position_of(root, _path(error)), _named(root, _path(error), message), hint)


def _at_key(error: ValidationError, root: Any, key: Any, message: str, hint: str | None = None) -> ScenarioError:
    """A problem of one key of the mapping ``error`` is about, placed at the key: ``mapping.path: message``."""
    pos = position_of(root, [*_path(error), key], key=True)
    return ScenarioError(pos, _named(root, _path(error), message), hint)


def _named(root: Any, path: list[str | int], message: str) -> str:
    where = key_path(root, path)
    return f"{where}: {message}" if where else message


def _shown(value: Any) -> str:
    """A value as an author wrote it: '10 seconds', -1, true, or its kind for a list or a mapping."""
    if isinstance(value, str):
        value = value if len(value) <= 60 else value[:57] + "..."
        return f"'{value}'" if "'" not in value else json.dumps(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return str(value)
    return describe(value)


def key_path(root: Any, path: list[str | int]) -> str:
    """A node's place in words: ``users.Shopper.weight``, ``journeys.j.steps[0].get``."""
    text, node = "", root
    for item in path:
        if isinstance(node, list):
            text += f"[{item}]"
        else:
            word = getattr(node, "spelled", {}).get(item, item) if not isinstance(item, str) else item
            if not _PLAIN_KEY.fullmatch(str(word)):  # a JSONPath, a header or a name with spaces: quoted
                text += f"[{json.dumps(str(word))}]"
            else:
                text += f".{word}" if text else str(word)
        node = node[item]
    return text


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_BOOLEAN_HINT = "unquoted, YAML reads yes, no, on, off, true and false as booleans: put the text in quotes"


def _type_error(error: ValidationError, root: Any, wanted: list[str]) -> ScenarioError:
    """``path: expected <form>, got <kind>``, with a hint for a quoted number or a YAML boolean."""
    instance: Any = error.instance
    form = error.schema.get("expectedForm") if isinstance(error.schema, dict) else None
    expected = form if isinstance(form, str) else " or ".join(_TYPE_NAMES[name] for name in wanted)
    hint = None
    if isinstance(instance, bool) and "string" in wanted:
        hint = _BOOLEAN_HINT
    elif isinstance(instance, str) and ("integer" in wanted or "number" in wanted) and _NUMBER.fullmatch(instance):
        hint = f"write {instance.strip()} without quotes"
    return _at(error, root, f"expected {expected}, got {describe(instance)}", hint)


_NUMBER = re.compile(r"\s*-?[0-9]+(\.[0-9]+)?\s*")


def _branches(error: ValidationError) -> dict[int, list[ValidationError]]:
    groups: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        groups.setdefault(int(sub.schema_path[0]), []).append(sub)
    return groups


def _is_mismatch(error: ValidationError) -> bool:
    """True when a branch error only says "this is not the kind of node I describe"."""
    if error.relative_path:
        return False
    if error.validator in ("type", "required"):
        return True
    if error.validator in ("anyOf", "oneOf"):
        return all(any(_is_mismatch(e) for e in errs) for errs in _branches(error).values())
    return False


def _branch_schemas(error: ValidationError) -> list[dict[str, Any]]:
    """The branch schemas of an anyOf error, with $refs resolved."""
    resolved = []
    branches: Any = error.validator_value
    for branch in branches:
        while isinstance(branch, dict) and "$ref" in branch:
            branch = _resolve(branch["$ref"])
        resolved.append(branch if isinstance(branch, dict) else {})
    return resolved


def _resolve(ref: str) -> Any:
    node: Any = schema()
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _keys_of(branch: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(discriminating keys, all known property names) of a branch schema.

    The first required key names a kind of node (``if`` for ``{if, then}``); the
    alternatives of an anyOf of required keys (get, post, ...) name it too.
    """
    required = list(branch.get("required", [])[:1])
    for sub in branch.get("anyOf", []):
        required.extend(sub.get("required", []))
    return required, list(branch.get("properties", {}))


def _explain_any_of(error: ValidationError, root: Any) -> Iterator[ScenarioError]:
    branches = _branches(error)
    candidates = [errs for errs in branches.values() if not any(_is_mismatch(e) for e in errs)]
    if candidates:
        custom = _custom(error, None)
        best = min(candidates, key=lambda errs: (sum(len(_unknown_keys(e)) for e in errs), len(errs)))
        rivals = [key for branch in _branch_schemas(error) for key in _keys_of(branch)[0]]
        for sub in best:
            if _unknown_keys(sub):
                yield from _explain_unknown_keys(sub, root, rivals)
            else:
                yield from _explain(sub, root, custom if not sub.relative_path else None)
        return
    custom = _custom(error, None)
    instance: Any = error.instance
    if custom and not isinstance(instance, dict):
        yield _custom_error(error, root, custom)
        return
    schemas = _branch_schemas(error)
    if isinstance(instance, dict) and any("object" in _types(s) or "required" in s for s in schemas):
        discriminators: list[str] = []
        known: list[str] = list(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
        for branch in schemas:
            required, props = _keys_of(branch)
            discriminators.extend(k for k in required if k not in discriminators)
            known.extend(props)
        unknown = [k for k in instance if k not in known and k not in discriminators]
        wanted = ", ".join(discriminators)
        if unknown:
            for key in unknown:
                hint = (
                    suggest(key, discriminators + known)
                    or did_you_mean(key, discriminators)
                    or did_you_mean(key, known)
                )
                if len(discriminators) == 1:
                    message, hint = f"unknown key '{key}'", hint or f"the key here is '{discriminators[0]}'"
                else:
                    message = f"unknown key '{key}': expected one of {wanted}"
                yield _at_key(error, root, key, message, hint)
        elif len(discriminators) == 1:
            yield _at(error, root, f"missing required key '{discriminators[0]}'")
        else:
            yield _at(error, root, f"missing key: expected one of {wanted}")
        return
    accepted: list[str] = []
    for branch in schemas:
        for name in _types(branch):
            if name not in accepted:
                accepted.append(name)
    if custom:
        yield _custom_error(error, root, custom)
    elif not accepted:
        yield _at(error, root, f"expected a different value, got {_shown(instance)}")
    else:
        yield _type_error(error, root, accepted)


def _unknown_keys(error: ValidationError) -> list[Any]:
    """The keys an ``additionalProperties`` error is about (none for any other error)."""
    schema: Any = error.schema
    if (
        error.validator != "additionalProperties"
        or not isinstance(error.instance, dict)
        or not isinstance(schema, dict)
    ):
        return []
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return [
        k
        for k in error.instance
        if k not in properties and not (isinstance(k, str) and any(re.search(p, k) for p in patterns))
    ]


def _explain_unknown_keys(error: ValidationError, root: Any, rivals: list[str]) -> Iterator[ScenarioError]:
    """One error per unknown key; a key that selects another ``anyOf`` branch (``rivals``) clashes instead."""
    properties: Any = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    instance: Any = error.instance
    own = next((k for k in instance if k in rivals and k in properties), None)
    in_list = bool(error.absolute_path) and isinstance(error.absolute_path[-1], int)
    for key in _unknown_keys(error):
        if own is not None and key in rivals:
            hint = "split it into two steps" if in_list else "keep only one of them"
            yield _at_key(error, root, key, f"'{key}' cannot be combined with '{own}'", hint)
        elif key is None:
            yield _at_key(error, root, key, "a key is empty", "write a name before the ':', or remove the line")
        elif not isinstance(key, str):
            spelled = getattr(instance, "spelled", {}).get(key, str(key))
            kind = "the boolean" if isinstance(key, bool) else "a number,"
            message = f"unknown key '{spelled}' (read by YAML as {kind} {str(key).lower()})"
            yield _at_key(error, root, key, message, did_you_mean(spelled, properties))
        else:
            meant = suggest(key, properties) or did_you_mean(key, properties)
            yield _at_key(error, root, key, f"unknown key '{key}'", meant)


def _odd_name(error: ValidationError, root: Any, key: Any, custom: str | None) -> ScenarioError:
    """A name that YAML did not read as text: ``on:`` is the boolean true, ``1:`` a number."""
    owner = _node(root, _path(error))
    spelled = getattr(owner, "spelled", {}).get(key, str(key))
    if isinstance(key, bool):
        return _at_key(
            error,
            root,
            key,
            f"'{spelled}' is read by YAML as the boolean {str(key).lower()}, not a name",
            f"quote it ('{spelled}'), or choose another name",
        )
    message = f"'{spelled}' {custom or 'is not an allowed name'}"
    return _at_key(error, root, key, message, f"quote it ('{spelled}') to make it text")


def _node(root: Any, path: list[str | int]) -> Any:
    node = root
    for item in path:
        node = node[item]
    return node


def _types(branch: dict[str, Any]) -> list[str]:
    declared = branch.get("type")
    if declared is None:
        if "properties" in branch or "required" in branch:
            return ["object"]
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def _custom(error: ValidationError, inherited: str | None) -> str | None:
    """The schema's own ``errorMessage`` for this node, else the one inherited from an anyOf."""
    own = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    return own if isinstance(own, str) else inherited


def _explain(error: ValidationError, root: Any, inherited: str | None = None) -> Iterator[ScenarioError]:
    kind = error.validator
    custom = _custom(error, inherited)
    instance: Any = error.instance
    rule: Any = error.validator_value
    if kind in ("anyOf", "oneOf"):
        yield from _explain_any_of(error, root)
    elif kind == "additionalProperties" and isinstance(instance, dict):
        yield from _explain_unknown_keys(error, root, [])
    elif kind == "required":
        missing = [k for k in rule if k not in instance]
        for key in missing:
            yield _at(error, root, f"missing required key '{key}'")
    elif kind == "dependencies" and isinstance(instance, dict):
        for key, needs in rule.items():
            missing = [n for n in needs if key in instance and n not in instance]
            if missing:
                yield _at_key(error, root, key, f"'{key}' needs '{missing[0]}' too", DEPENDENCY_HINTS.get(key))
    elif "propertyNames" in list(error.schema_path) and isinstance(instance, str):
        yield _at_key(error, root, instance, f"'{instance}' {custom or 'is not an allowed name'}")
    elif "propertyNames" in list(error.schema_path):  # a key YAML read as a boolean, a number or null
        yield _odd_name(error, root, instance, custom)
    elif custom:
        yield _custom_error(error, root, custom)
    elif kind == "type":
        yield _type_error(error, root, [rule] if isinstance(rule, str) else list(rule))
    elif kind == "enum":
        options = ", ".join(str(o) for o in rule)
        hint = did_you_mean(instance, rule) if isinstance(instance, str) else None
        yield _at(error, root, f"expected one of {options}, got {_shown(instance)}", hint)
    elif kind == "const":
        hint = (
            f"write {instance.strip()} without quotes"
            if isinstance(instance, str) and _NUMBER.fullmatch(instance)
            else None
        )
        yield _at(error, root, f"expected {json.dumps(rule)}, got {_shown(instance)}", hint)
    elif kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {
            "minimum": "{} or more",
            "exclusiveMinimum": "more than {}",
            "maximum": "{} or less",
            "exclusiveMaximum": "less than {}",
        }
        yield _at(error, root, f"expected {words[kind].format(rule)}, got {_shown(instance)}")
    elif kind in ("minItems", "maxItems"):
        word = "at least" if kind == "minItems" else "at most"
        form = error.schema.get("expectedForm") if isinstance(error.schema, dict) else None
        expected = form if isinstance(form, str) else f"a list of {word} {_count(rule, 'item')}"
        yield _at(error, root, f"expected {expected}, got {_count(len(instance), 'item')}")
    elif kind in ("minProperties", "maxProperties"):
        word = "at least" if kind == "minProperties" else "at most"
        yield _at(
            error, root, f"expected a mapping of {word} {_count(rule, 'entry')}, got {_count(len(instance), 'entry')}"
        )
    elif kind in ("minLength", "maxLength"):
        word = "at least" if kind == "minLength" else "at most"
        yield _at(error, root, f"expected text of {word} {_count(rule, 'character')}, got {_shown(instance)}")
    elif kind == "pattern":
        yield _at(error, root, f"expected text matching {rule}, got {_shown(instance)}")
    else:
        yield _at(error, root, error.message)


def _count(number: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{number} {noun if number == 1 else plural}"


def _custom_error(error: ValidationError, root: Any, custom: str) -> ScenarioError:
    """The schema's own text for a node; one that says the expected form (``expected ...``) also says what was found.

    A duration, a status class or a condition that is nearly right gets the fix as its hint (``write 10s``).
    """
    instance: Any = error.instance
    if not custom.startswith("expected "):
        return _at(error, root, custom)
    fix = next((found for start, found in _FIXES.items() if custom.startswith(start)), None)
    return _at(error, root, f"{custom}, got {_shown(instance)}", fix(instance) if fix else None)


_UNITS = {
    **dict.fromkeys(["ms", "msec", "msecs", "millisecond", "milliseconds"], "ms"),
    **dict.fromkeys(["s", "sec", "secs", "second", "seconds"], "s"),
    **dict.fromkeys(["m", "min", "mins", "minute", "minutes"], "m"),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], "h"),
}
_AMOUNT = re.compile(r"\s*(-?)([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*")


def _duration_fix(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return "a duration cannot be negative"
    match = _AMOUNT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    sign, number, unit = match.groups()
    if sign:
        return "a duration cannot be negative"
    unit = unit.lower()
    if unit in ("d", "day", "days"):
        return f"write {float(number) * 24:g}h"
    if unit in _UNITS or not unit:
        return f"write {number}{_UNITS.get(unit, 's')}"
    return None


def _status_fix(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[1-5]xx", value.strip().lower()):
        return f"write {value.strip().lower()}"
    if isinstance(value, str) and value.strip().isdigit():
        return f"write {value.strip()} without quotes"
    return None


def _condition_fix(value: Any) -> str | None:
    if isinstance(value, str) and "{{" not in value and "{%" not in value:
        return f'write "{{{{ {value.strip()} }}}}"'
    return None


def _threshold_fix(value: Any) -> str | None:
    fix = _duration_fix(value)
    return fix if fix is None or not fix.endswith("h") else None


# Keyed by the start of the schema's errorMessage.
_FIXES = {
    "expected a duration": _duration_fix,
    "expected a number, a time like": _threshold_fix,
    "expected a status code": _status_fix,
    "expected one {{ expression }}": _condition_fix,
}
