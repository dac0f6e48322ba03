"""``expect``: checks on a response, compiled once; every unmet one becomes a stable message.

Messages quote the expectation as written (templates unrendered) and never the
actual value, so that Locust groups failures by kind and not by ID. The actual
values are logged at DEBUG level on the ``engine.expect`` logger.
"""

from __future__ import annotations

import json
import logging
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from engine.errors import ErrorSink, did_you_mean
from engine.files import UNCONFINED, Confinement, FileRefused
from engine.jsonpaths import JsonPath, JsonPathError
from engine.model import Expectation, Match, Probe, Value
from engine.response import NotJson, ResponseView
from engine.secrets import NO_SECRETS, Secrets
from engine.sentinels import Sentinel
from engine.source import position_of
from engine.templates import RESPONSE_NAMES, Constant, Renderer, Scope, Sequence_, Templates

if TYPE_CHECKING:  # jsonschema is imported only for a scenario with a schema: expectation
    import jsonschema

log = logging.getLogger("engine.expect")
_ABSENT: Any = Sentinel("absent")
_INDEX = re.compile(r"\[[0-9]+\]")
_JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}
_SYMBOLS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _shown(raw: Any) -> str:
    return raw if isinstance(raw, str) else json.dumps(raw)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _header_value(value: Any) -> Any:
    """An expected value as a header would show it: text, with booleans as true/false (lists item by item)."""
    if isinstance(value, list):
        return [_header_value(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if value is None else str(value)


class Operator:
    """One compiled operator check: ``failure(actual, scope)`` is None or a short reason.

    Its test comes from :data:`OPERATORS` once, at load: an operator the table
    does not know is a load-time problem, never a run-time error.
    On a header (``header=True``) the actual value is always text: eq/ne/in compare
    the expected value as text, and gt/ge/lt/le read the header as a number.
    """

    __slots__ = ("expected", "header", "header_text", "op", "regex", "rule", "text", "unmet")
    text: str
    unmet: str

    def __init__(self, match: Match, templates: Templates, sink: ErrorSink, header: bool = False) -> None:
        self.op = match.op
        self.header = header
        self.expected: Renderer = templates.compile(match.expected.raw, match.expected.pos, sink)
        rule = OPERATORS.get(self.op)
        if rule is None:
            hint = did_you_mean(self.op, OPERATORS) or f"operators: {', '.join(OPERATORS)}"
            sink.add(match.expected.pos, f"unknown operator '{self.op}'", hint)
            rule = _UNKNOWN
        self.rule = rule
        self.header_text = header and rule.header_text
        self.regex: re.Pattern[str] | None = None
        if self.op == "matches" and isinstance(self.expected, Constant):
            try:
                self.regex = re.compile(str(match.expected.raw))
            except re.error as exc:
                sink.add(match.expected.pos, f"invalid regex '{match.expected.raw}': {exc}")
        symbol = _SYMBOLS.get(self.op, self.op.replace("_", " "))
        self.text = f"{symbol} {_shown(match.expected.raw)}"
        self.unmet = f"expected {self.text}"

    def failure(self, actual: Any, scope: Scope) -> str | None:
        rule = self.rule
        if actual is _ABSENT and not rule.absent:
            return "missing"
        expected = self.expected.render(scope)
        if self.header_text:
            expected = _header_value(expected)
        return rule.test(self, actual, expected)


@dataclass(frozen=True)
class Rule:
    """What an operator does: ``test(check, actual, expected)`` is None or a short reason."""

    test: Callable[[Operator, Any, Any], str | None]
    absent: bool = False
    """It judges an absent value itself (else an absent value is "missing")."""
    header_text: bool = False
    """On a header, the expected value compares as text."""


def _verdict(ok: bool, check: Operator) -> str | None:
    return None if ok else check.unmet


def _exists(check: Operator, actual: Any, expected: Any) -> str | None:
    wanted = bool(expected)
    present = actual is not _ABSENT
    return None if present == wanted else ("missing" if wanted else "present, expected absent")


def _comparison(holds: Callable[[float, float], bool]) -> Callable[[Operator, Any, Any], str | None]:
    def test(check: Operator, actual: Any, expected: Any) -> str | None:
        left, right = _number(actual), _number(expected)
        if left is None or (isinstance(actual, str) and not check.header):
            return f"expected a number {check.text}"
        if right is None:
            return f"{check.text}: not a number"
        return _verdict(holds(left, right), check)

    return test


def _contains(check: Operator, actual: Any, expected: Any) -> str | None:
    if isinstance(actual, str):
        return _verdict(str(expected) in actual, check)
    if isinstance(actual, (list, dict)):
        return _verdict(expected in actual, check)
    return f"expected a string, list or object that contains {_shown(expected)}"


def _matches(check: Operator, actual: Any, expected: Any) -> str | None:
    regex = check.regex or re.compile(str(expected))
    return _verdict(regex.search(actual if isinstance(actual, str) else json.dumps(actual)) is not None, check)


def _length(holds: Callable[[int, int], bool]) -> Callable[[Operator, Any, Any], str | None]:
    def test(check: Operator, actual: Any, expected: Any) -> str | None:
        if not isinstance(actual, (str, list, dict)):
            return f"expected {check.text}, got a value without a length"
        return _verdict(holds(len(actual), int(expected)), check)

    return test


OPERATORS: dict[str, Rule] = {
    "eq": Rule(lambda o, actual, expected: None if actual == expected else o.unmet, header_text=True),
    "ne": Rule(lambda o, actual, expected: None if actual != expected else o.unmet, header_text=True),
    "gt": Rule(_comparison(operator.gt)),
    "ge": Rule(_comparison(operator.ge)),
    "lt": Rule(_comparison(operator.lt)),
    "le": Rule(_comparison(operator.le)),
    "in": Rule(lambda o, actual, expected: None if actual in expected else o.unmet, header_text=True),
    "contains": Rule(_contains),
    "matches": Rule(_matches),
    "exists": Rule(_exists, absent=True),
    "type": Rule(lambda o, actual, expected: _verdict(_JSON_TYPES[str(expected)](actual), o)),
    "length": Rule(_length(operator.eq)),
    "min_length": Rule(_length(operator.ge)),
    "max_length": Rule(_length(operator.le)),
}
"""Every expectation operator (the schema's ``operators``), by name."""
_UNKNOWN = Rule(lambda o, actual, expected: f"unknown operator '{o.op}'")  # never run: the scenario does not load


class ProbeCheck:
    """All operators on one JSONPath (``json``) or one header (``headers``)."""

    __slots__ = ("_path", "key", "kind", "label", "operators", "secrets")

    def __init__(
        self, kind: str, probe: Probe, templates: Templates, sink: ErrorSink, secrets: Secrets = NO_SECRETS
    ) -> None:
        self.kind = kind
        self.secrets = secrets
        self.key = probe.key
        self.label = self.key if kind == "json" else f"header {self.key}"  # how a failure names it
        self._path: JsonPath | None = None
        if kind == "json":
            try:
                self._path = JsonPath(probe.key)
            except JsonPathError as exc:
                sink.add(probe.pos, str(exc))
        self.operators = [Operator(m, templates, sink, header=kind == "headers") for m in probe.matches]

    @property
    def multi(self) -> bool:
        """A JSONPath that may match many values (its actual value is the list of them)."""
        return self._path is not None and self._path.multi

    def actual(self, response: ResponseView) -> Any:
        if self._path is None:
            value = response.header(self.key)
            return _ABSENT if value is None else value
        found = self._path.find(response.json())
        if self._path.multi:
            return found
        return found[0] if found else _ABSENT

    def check(self, response: ResponseView, scope: Scope, problems: list[str]) -> None:
        try:
            actual = self.actual(response)
        except NotJson as exc:
            problems.append(f"{self.label}: {exc}")
            return
        multi = self._path is not None and self._path.multi
        for check in self.operators:
            absent = multi and check.rule.absent and not actual
            reason = check.failure(_ABSENT if absent else actual, scope)
            if reason:
                label = self.label
                problems.append(f"{label}: {reason}")
                if log.isEnabledFor(logging.DEBUG):
                    shown = "absent" if actual is _ABSENT else self.secrets.mask(repr(actual), scope)
                    log.debug("%s: %s (actual: %s)", label, reason, shown)
                if reason == "missing":
                    break  # one missing path is reported once, whatever the operators on it


class Checks:
    """Every check of one ``expect`` block (or the default: status below 400)."""

    def __init__(
        self,
        spec: Expectation | None,
        base: Path,
        templates: Templates,
        sink: ErrorSink,
        graphql: bool = False,
        files: Confinement = UNCONFINED,
        secrets: Secrets = NO_SECRETS,
    ) -> None:
        self.secrets = secrets
        self.needs_response = False
        self.codes: frozenset[int] = frozenset()
        self.classes: frozenset[int] = frozenset()
        self.status_text = "status < 400"
        self.probes: list[ProbeCheck] = []
        self.contains: list[tuple[Renderer, str]] = []
        self.body_regex: re.Pattern[str] | None = None
        self.body_pattern = ""
        self.max_ms: float | None = None
        self.schema: jsonschema.protocols.Validator | None = None
        self.graphql_errors = graphql and not (spec and any(t.key.startswith("$.errors") for t in spec.json))
        if spec is None:
            return
        if spec.status:
            self.codes = frozenset(s for s in spec.status if isinstance(s, int))
            self.classes = frozenset(int(s[0]) for s in spec.status if isinstance(s, str))
            self.status_text = "expected " + ", ".join(str(s) for s in spec.status)
        self.probes = [ProbeCheck("json", t, templates, sink, secrets) for t in spec.json]
        self.probes += [ProbeCheck("headers", t, templates, sink, secrets) for t in spec.headers]
        self.contains = [(templates.compile(v.raw, v.pos, sink), str(v.raw)) for v in spec.body_contains]
        if spec.body_matches is not None:
            self.body_pattern = str(spec.body_matches.raw)
            try:
                self.body_regex = re.compile(self.body_pattern)
            except re.error as exc:
                sink.add(spec.body_matches.pos, f"invalid regex '{self.body_pattern}': {exc}")
        self.max_ms = spec.max_ms
        if spec.schema is not None:
            self.schema = _schema_validator(spec.schema, base, sink, files)
            from jsonschema.exceptions import best_match

            self.best_match = best_match
        self.needs_response = bool(set(self.renderers().names) & set(RESPONSE_NAMES))

    def describe(self) -> str:
        """The expectations in one line, as written: ``status 200; $.status == DELIVERED``."""
        parts = ["status " + self.status_text.removeprefix("expected ")] if self.codes or self.classes else []
        parts += [f"{probe.label} {check.text}" for probe in self.probes for check in probe.operators]
        parts += [f"body contains {shown!r}" for _, shown in self.contains]
        if self.body_regex is not None:
            parts.append(f"body matches {self.body_pattern!r}")
        return "; ".join(parts) or "status < 400"

    def renderers(self) -> Renderer:
        """Every expected value, as one renderer (for the compiler's name checks)."""
        parts = [op.expected for p in self.probes for op in p.operators] + [r for r, _ in self.contains]
        return Sequence_(parts)

    @staticmethod
    def response_scope(response: ResponseView, scope: Scope) -> Scope:
        """``scope`` plus the response: status, headers, json (None when not JSON), body, elapsed_ms."""
        return {**scope, **response.template_names()}

    def check(self, response: ResponseView, scope: Scope, problems: list[str]) -> None:
        """Append one short, stable reason per unmet expectation to ``problems``."""
        if self.needs_response:
            scope = self.response_scope(response, scope)
        status = response.status
        if self.codes or self.classes:
            if status not in self.codes and status // 100 not in self.classes:
                problems.append(f"status {status}, {self.status_text}")
        elif status >= 400:
            problems.append(f"status {status}, {self.status_text}")
        for probe in self.probes:
            probe.check(response, scope, problems)
        if self.contains:
            text = response.text
            for renderer, shown in self.contains:
                if str(renderer.render(scope)) not in text:
                    problems.append(f"body does not contain {shown!r}")
        if self.body_regex is not None and not self.body_regex.search(response.text):
            problems.append(f"body does not match {self.body_pattern!r}")
        if self.max_ms is not None and response.elapsed_ms > self.max_ms:
            problems.append(f"took longer than {self.max_ms:g} ms")
        if self.schema is not None:
            try:
                document = response.json()
            except NotJson as exc:
                problems.append(f"schema: {exc}")
                return
            error = self.best_match(self.schema.iter_errors(document))
            if error is not None:
                where = _INDEX.sub("[*]", error.json_path)
                rule = "false" if error.validator is None else error.validator  # a `false` (sub)schema
                problems.append(f"schema: {where} fails '{rule}'")
        if self.graphql_errors:
            self.check_graphql(response, problems, scope)

    def explain(self, response: ResponseView, scope: Scope) -> list[tuple[str, bool, Any]]:
        """Every expectation, whether it holds and the actual value (for ``trace``; not the hot path)."""
        if self.needs_response:
            scope = self.response_scope(response, scope)
        status = response.status
        held = status in self.codes or status // 100 in self.classes if self.codes or self.classes else status < 400
        expected = (
            "status " + self.status_text.removeprefix("expected ") if self.codes or self.classes else "status < 400"
        )
        found: list[tuple[str, bool, Any]] = [(expected, held, status)]
        for probe in self.probes:
            try:
                actual = probe.actual(response)
            except NotJson as exc:
                found += [(f"{probe.label} {check.text}", False, str(exc)) for check in probe.operators]
                continue
            for check in probe.operators:
                absent = probe.multi and check.rule.absent and not actual
                reason = check.failure(_ABSENT if absent else actual, scope)
                found.append((f"{probe.label} {check.text}", reason is None, "absent" if actual is _ABSENT else actual))
        for renderer, shown in self.contains:
            found.append((f"body contains {shown!r}", str(renderer.render(scope)) in response.text, None))
        if self.body_regex is not None:
            found.append((f"body matches {self.body_pattern!r}", bool(self.body_regex.search(response.text)), None))
        if self.max_ms is not None:
            found.append((f"max_ms {self.max_ms:g}", response.elapsed_ms <= self.max_ms, round(response.elapsed_ms)))
        problems: list[str] = []
        if self.schema is not None or self.graphql_errors:
            self.check(response, scope, problems)
        for label, used in (("schema", self.schema is not None), ("graphql", self.graphql_errors)):
            failed = [problem for problem in problems if problem.startswith(f"{label}:")]
            if used:
                found.append((label, not failed, "; ".join(failed) or None))
        return found

    def check_graphql(self, response: ResponseView, problems: list[str], scope: Scope | None = None) -> None:
        """A GraphQL answer is 200 even when it failed: its ``errors`` make the request a failure."""
        try:
            document = response.json()
        except NotJson as exc:
            problems.append(f"graphql: {exc}")
            return
        errors = document.get("errors") if isinstance(document, dict) else None
        if errors:
            problems.append("graphql: the response has errors")
            if log.isEnabledFor(logging.DEBUG):
                log.debug("graphql errors: %s", self.secrets.mask(repr(errors), scope))


def _schema_validator(
    value: Value, base: Path, sink: ErrorSink, files: Confinement
) -> jsonschema.protocols.Validator | None:
    document = value.raw
    if isinstance(document, str):
        path = base / document  # relative to the scenario, shown as the user would type it
        try:
            text = files.read(path, "schema file").decode("utf-8")
        except FileRefused as exc:
            sink.add(value.pos, exc.message, exc.hint)
            return None
        except OSError:
            sink.add(value.pos, f"schema file not found: {document}", f"looked for {path}")
            return None
        except UnicodeDecodeError:
            sink.add(value.pos, f"schema file {document} is not UTF-8 text")
            return None
        try:
            document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except json.JSONDecodeError as exc:  # the message says where, never what the file holds
            where = f"line {exc.lineno}, column {exc.colno}"
            sink.add(value.pos, f"schema file {document} is not valid JSON: {exc.msg} ({where})")
            return None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            sink.add(value.pos, f"schema file {document} is not valid YAML{where}: {getattr(exc, 'problem', None)}")
            return None
    import jsonschema

    cls = jsonschema.validators.validator_for(document, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(document)
    except jsonschema.exceptions.SchemaError as exc:
        if isinstance(value.raw, str):
            sink.add(value.pos, f"invalid JSON Schema in {value.raw} at {exc.json_path}: {exc.message}")
        else:  # inline: point at the offending node itself
            sink.add(position_of(value.raw, list(exc.absolute_path)), f"invalid JSON Schema: {exc.message}")
        return None
    validator: jsonschema.protocols.Validator = cls(document)
    return validator
