"""``save``: take a value out of a response (JSONPath, header, cookie, regex, status, body)."""

from __future__ import annotations

import random
import re
from typing import Any

from engine.errors import ErrorSink
from engine.jsonpaths import JsonPath, JsonPathError
from engine.model import Extractor
from engine.pools import Pools
from engine.response import NotJson, ResponseView
from engine.templates import RESPONSE_NAMES, Renderer, Scope, Templates


class Missing(LookupError):
    """A value to save was not found and has no default (message is stable)."""


class Saver:
    """One compiled ``save`` entry."""

    __slots__ = (
        "_candidates",
        "_default",
        "_default_reads_response",
        "_group",
        "_path",
        "_regex",
        "arg",
        "pick",
        "pools",
        "source",
        "var",
    )

    def __init__(self, spec: Extractor, templates: Templates, sink: ErrorSink, pools: Pools | None = None) -> None:
        self.var = spec.var
        self.pools = pools if spec.share is not None else None
        self.source = spec.source
        self.arg = spec.arg
        self.pick = spec.pick
        self._path: JsonPath | None = None
        self._regex: re.Pattern[str] | None = None
        self._group: int | str = 0
        self._default: Renderer | None = (
            templates.compile(spec.default.raw, spec.default.pos, sink) if spec.default else None
        )
        # A default may read the response (status, json, ...), as expect's templates do.
        self._default_reads_response = self._default is not None and bool(
            set(self._default.names) & set(RESPONSE_NAMES)
        )
        if spec.source == "jsonpath":
            try:
                self._path = JsonPath(spec.arg)
            except JsonPathError as exc:
                sink.add(spec.pos, str(exc))
        elif spec.source == "regex":
            try:
                self._regex = re.compile(spec.arg)
            except re.error as exc:
                sink.add(spec.pos, f"invalid regex '{spec.arg}': {exc}")
            else:
                self._group = spec.group if spec.group is not None else (1 if self._regex.groups else 0)
                if isinstance(self._group, int) and self._group > self._regex.groups:
                    sink.add(spec.pos, f"regex '{spec.arg}' has no group {self._group}")
                if isinstance(self._group, str) and self._group not in self._regex.groupindex:
                    sink.add(spec.pos, f"regex '{spec.arg}' has no group named '{self._group}'")

    @property
    def default(self) -> Renderer | None:
        """The compiled ``default:`` (None when a missing value must fail the step)."""
        return self._default

    def _matches(self, response: ResponseView) -> list[Any]:
        source = self.source
        if source == "jsonpath":
            assert self._path is not None
            found = self._path.find(response.json())
            if not self._path.multi and self.pick is not None and found and isinstance(found[0], list):
                return list(found[0])
            return found
        if source == "header":
            value = response.header(self.arg)
            return [] if value is None else [value]
        if source == "cookie":
            cookie = response.cookie(self.arg)
            return [] if cookie is None else [cookie]
        if source == "regex":
            assert self._regex is not None
            return [m.group(self._group) for m in self._regex.finditer(response.text)]
        if source == "status":
            return [response.status]
        return [response.text]

    def extract(self, response: ResponseView, scope: Scope) -> Any:
        """The value to save; raises :class:`Missing` or :class:`NotJson`."""
        found = self._matches(response)
        pick = self.pick
        if found:
            if pick is None or pick == "first":
                return found[0]
            if pick == "all":
                return found
            if pick == "last":
                return found[-1]
            if pick == "random":
                return random.choice(found)
            if isinstance(pick, int) and -len(found) <= pick < len(found):
                return found[pick]
        if self._default is not None:
            if self._default_reads_response:
                return self._default.render({**scope, **response.template_names()})
            return self._default.render(scope)
        raise Missing(f"save {self.var}: {self.missing(bool(found))}")

    def missing(self, found_some: bool) -> str:
        """Why nothing could be saved, in stable words (the path or name as written, no values)."""
        if self.source == "jsonpath":
            where = self.arg
        elif self.source == "regex":
            where = f"regex '{self.arg}'"
        else:
            where = f"{self.source} '{self.arg}'"
        if found_some:  # an index pick beyond the matches
            return f"no match at index {self.pick} of {where}"
        if self.source == "jsonpath":
            return f"no value at {where}"
        if self.source == "regex":
            return f"no match for {where}"
        return f"no {where}"


def save_all(savers: list[Saver], response: ResponseView, scope: Scope, problems: list[str]) -> None:
    """Run every saver; only when every value is found do they all go into ``scope``.

    A step that fails saves nothing, so later steps never run on half the values.
    """
    saved: Scope = {}
    for saver in savers:
        try:
            saved[saver.var] = saver.extract(response, scope)
        except (Missing, NotJson) as exc:
            problems.append(str(exc) if isinstance(exc, Missing) else f"save {saver.var}: {exc}")
    if not problems:
        scope.update(saved)
        for saver in savers:
            if saver.pools is not None:
                saver.pools.publish(saver.var, saved[saver.var])
