"""Stage 1b: one scenario document from several files, an environment and command-line overrides.

``include:`` pulls in the vars, fragments, data, services and environments of
other files (relative to the including file, recursively); the including file
wins for vars, and anything else defined twice is an error. Then ``--env NAME``
overlays an environment, and ``--var name=value`` replaces vars (``--var
defaults.client=fast`` sets one of the scalar defaults, checked by the schema). Every node keeps
the position of the file it was written in, so later errors point there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.errors import Position, ScenarioError, ScenarioErrors, did_you_mean
from engine.files import Confinement, FileRefused, parse_size
from engine.source import MarkedDict, MarkedList, read_file
from engine.validate import check_value, schema, validate

SHARED = ("vars", "fragments", "data", "services", "environments")
INCLUDABLE = frozenset({"version", "name", "description", "include", "secrets", *SHARED})
COMMAND_LINE = Position("<command line>", 1, 1)
DEFAULTS = "defaults."
# The defaults --var can set: every scalar one (headers is a mapping, set in the file or an environment).
SETTABLE_DEFAULTS = [key for key in schema()["definitions"]["defaults"]["properties"] if key != "headers"]
_NOUNS = {"fragments": "fragment", "data": "feeder", "services": "service", "environments": "environment"}


@dataclass(frozen=True)
class Overrides:
    """What the command line changes: ``--env NAME`` and ``--var name=value`` (repeatable)."""

    env: str | None = None
    vars: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()  # --allow-path DIR: more folders the scenario's files may come from


NO_OVERRIDES = Overrides()


@dataclass
class Composed:
    """The merged document, the files it came from and a digest of all of them."""

    data: Any
    files: list[Path]
    digest: str
    problems: list[ScenarioError]
    confinement: Confinement


class _Composer:
    def __init__(self, confinement: Confinement) -> None:
        self.problems: list[ScenarioError] = []
        self.files: list[Path] = []
        self.confinement = confinement

    def load(self, path: Path, stack: tuple[Path, ...], at: Position | None) -> Any:
        """Read and validate one file; its includes are merged in first."""
        try:
            data = read_file(path, self.confinement, "included file" if at is not None else "scenario")
        except FileRefused as exc:
            self.problems.append(ScenarioError(at or Position(str(path), 1, 1), exc.message, exc.hint))
            return None
        except ScenarioErrors as exc:
            if at is not None and exc.errors[0].message == "file not found":
                folder = (stack[-1] if stack else path).parent.as_posix()
                hint = f"an include path is relative to the including file's folder, {folder}/"
                self.problems.append(ScenarioError(at, f"included file not found: {path}", hint))
            else:
                self.problems.extend(exc.errors)
            return None
        self.files.append(path)
        if not isinstance(data, MarkedDict):
            return data
        if at is None:  # the scenario itself may allow more folders and larger data files
            self.confinement = widened(self.confinement, data, path)
        self.problems.extend(validate(data))
        if at is not None:
            for key in data:
                if key not in INCLUDABLE and not str(key).startswith("x-"):
                    self.problems.append(
                        ScenarioError(
                            data.key_pos[key],
                            f"an included file may only define {', '.join(SHARED)}, secrets: found '{key}'",
                        )
                    )
        includes = data.get("include")
        if isinstance(includes, list):
            for index, item in enumerate(includes):
                if isinstance(item, str):
                    self.include(data, path.parent / item, includes.item_pos[index], (*stack, path))  # type: ignore[attr-defined]
        return data

    def include(self, into: MarkedDict, path: Path, at: Position, stack: tuple[Path, ...]) -> None:
        try:
            self.confinement.resolve(path, "included file")
        except FileRefused as exc:
            self.problems.append(ScenarioError(at, exc.message, exc.hint))
            return
        if path.suffix.lower() not in (".yaml", ".yml"):
            self.problems.append(
                ScenarioError(at, f"include {path.name}: only YAML files (.yaml, .yml) can be included")
            )
            return
        resolved = path.resolve()
        if resolved in {p.resolve() for p in stack}:
            chain = " -> ".join(p.name for p in (*stack, path))
            self.problems.append(ScenarioError(at, f"include cycle: {chain}"))
            return
        included = self.load(path, stack, at)
        if isinstance(included, MarkedDict):
            for section in SHARED:
                if isinstance(included.get(section), MarkedDict):
                    merge(into, section, included, self.problems)
            merge_secrets(into, included)


def merge_secrets(into: MarkedDict, source: MarkedDict) -> None:
    """An included file's ``secrets:`` are the including file's too (a list: their union)."""
    incoming = source.get("secrets")
    if not isinstance(incoming, MarkedList):
        return
    own = into.get("secrets")
    if own is None:
        own = MarkedList()
        own.pos, own.item_pos = incoming.pos, []
        into["secrets"] = own
        into.key_pos.setdefault("secrets", source.key_pos["secrets"])
        into.value_pos.setdefault("secrets", source.value_pos["secrets"])
    if not isinstance(own, MarkedList):
        return  # not a list: the schema reports it
    for item, pos in zip(incoming, incoming.item_pos, strict=True):
        if item not in own:
            own.append(item)
            own.item_pos.append(pos)


def merge(into: MarkedDict, section: str, source: MarkedDict, problems: list[ScenarioError]) -> None:
    """Put ``source[section]``'s entries under ``into[section]``.

    ``into`` keeps its own vars (and those of its earlier includes); any other
    name defined in both is an error, reported at the later definition (a file's
    own definitions come after those of the files it includes, in include order).
    The same definition reached along two include paths is not a duplicate.
    """
    incoming: MarkedDict = source[section]
    own = into.get(section)
    if not isinstance(own, MarkedDict):
        own = _empty_like(incoming)
        into[section] = own
        into.key_pos.setdefault(section, source.key_pos[section])
        into.value_pos.setdefault(section, source.value_pos[section])
    merged = _empty_like(own)
    for key, value in incoming.items():
        _put(merged, key, value, incoming)
    for key, value in own.items():
        if key in merged and section != "vars":
            mine, theirs = own.key_pos[key], merged.key_pos[key]
            if _same_place(mine, theirs):  # one file included along two paths: one definition
                continue
            if mine.file == into.pos.file:  # the including file's own: after everything it includes
                later, first = mine, theirs
            else:  # from an earlier include: before this one
                later, first = theirs, mine
                _put(merged, key, value, own)
            message = f"{_NOUNS[section]} '{key}' is already defined at {first}"
            problems.append(ScenarioError(later, message, "rename one of them"))
            continue
        _put(merged, key, value, own)
    own.clear()
    own.update(merged)
    own.key_pos, own.value_pos = merged.key_pos, merged.value_pos


def _same_place(one: Position, other: Position) -> bool:
    """The same node of the same file (however the paths that led to it are spelled)."""
    if (one.line, one.col) != (other.line, other.col):
        return False
    return one.file == other.file or Path(one.file).resolve() == Path(other.file).resolve()


def _empty_like(node: MarkedDict) -> MarkedDict:
    made = MarkedDict()
    made.pos, made.key_pos, made.value_pos = node.pos, {}, {}
    return made


def _put(target: MarkedDict, key: Any, value: Any, origin: MarkedDict) -> None:
    target[key] = value
    target.key_pos[key] = origin.key_pos[key]
    target.value_pos[key] = origin.value_pos[key]


def apply_overrides(data: MarkedDict, overrides: Overrides, problems: list[ScenarioError]) -> None:
    """Overlay ``--env`` and then ``--var`` onto a composed document."""
    if overrides.env:
        environments = data.get("environments")
        names = list(environments) if isinstance(environments, dict) else []
        if overrides.env not in names:
            defined = f"defined: {', '.join(names)}" if names else "the scenario defines no environments"
            hint = did_you_mean(overrides.env, names) or defined
            problems.append(ScenarioError(COMMAND_LINE, f"--env {overrides.env}: no such environment", hint))
        else:
            overlay: MarkedDict = environments[overrides.env]  # type: ignore[index]
            if "host" in overlay:
                _put(data, "host", overlay["host"], overlay)
            for section in ("vars", "services", "defaults"):
                if isinstance(overlay.get(section), MarkedDict):
                    _overlay(data, section, overlay[section])
    for item in overrides.vars:
        name, sep, text = item.partition("=")
        variables = data.get("vars")
        known = list(variables) if isinstance(variables, dict) else []
        if not sep or not name:
            problems.append(ScenarioError(COMMAND_LINE, f"--var {item}: expected name=value"))
        elif name.startswith(DEFAULTS):
            _set_default(data, name, _scalar(text), problems)
        elif name not in known:
            if name in SETTABLE_DEFAULTS:  # --var client=fast: the setting is meant
                hint = f"--var {DEFAULTS}{name}={text} sets defaults.{name}"
            else:
                hint = did_you_mean(name, known) or "--var can only replace a var the scenario defines under vars:"
            problems.append(ScenarioError(COMMAND_LINE, f"--var {name}: the scenario has no var '{name}'", hint))
        else:
            assert isinstance(variables, MarkedDict)
            variables[name] = _scalar(text)
            variables.value_pos[name] = COMMAND_LINE


def _set_default(data: MarkedDict, name: str, value: Any, problems: list[ScenarioError]) -> None:
    """``--var defaults.client=fast``: set one of the scalar ``defaults`` (checked like the file's own)."""
    key = name[len(DEFAULTS) :]
    if key == "headers":
        hint = "set them in the file's defaults, or in an environment's"
        problems.append(ScenarioError(COMMAND_LINE, f"--var {name}: headers cannot be set with --var", hint))
        return
    if key not in SETTABLE_DEFAULTS:
        hint = (
            did_you_mean(key, SETTABLE_DEFAULTS)
            or f"--var can set {', '.join(DEFAULTS + k for k in SETTABLE_DEFAULTS)}"
        )
        problems.append(ScenarioError(COMMAND_LINE, f"--var {name}: defaults has no setting '{key}'", hint))
        return
    wrong = check_value(["defaults", key], value)
    for problem in wrong:
        problems.append(ScenarioError(COMMAND_LINE, f"--var {problem.message}", problem.hint))
    if wrong:
        return
    target = data.get("defaults")
    if not isinstance(target, MarkedDict):
        target = _empty_like(data)
        data["defaults"] = target
        data.key_pos["defaults"] = data.value_pos["defaults"] = COMMAND_LINE
    target[key] = value
    target.key_pos[key] = target.value_pos[key] = COMMAND_LINE


def _overlay(data: MarkedDict, section: str, values: MarkedDict) -> None:
    target = data.get(section)
    if not isinstance(target, MarkedDict):
        target = _empty_like(values)
        data[section] = target
        data.key_pos[section] = data.value_pos[section] = values.pos
    for key, value in values.items():
        _put(target, key, value, values)


def _scalar(text: str) -> Any:
    """A --var value as YAML reads a plain scalar (5 is a number, true a boolean), else the text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) else text


def compose(path: Path, overrides: Overrides = NO_OVERRIDES) -> Composed:
    """Read ``path`` with its includes, apply ``overrides``; problems are collected, not raised."""
    allowed = tuple(Path(folder) for folder in overrides.allow)
    composer = _Composer(Confinement.around(path, allowed))
    data = composer.load(path, (), None)
    if isinstance(data, MarkedDict) and not composer.problems:
        apply_overrides(data, overrides, composer.problems)
    digest = hashlib.sha256()
    for file in composer.files:
        digest.update(file.read_bytes())
    digest.update(repr(overrides).encode())
    return Composed(data, composer.files, digest.hexdigest()[:16], composer.problems, composer.confinement)


def widened(confinement: Confinement, data: MarkedDict, path: Path) -> Confinement:
    """``confinement`` with the scenario's ``files: {allow: [...], max_size: ...}`` (the schema checks them)."""
    files = data.get("files")
    if not isinstance(files, dict):
        return confinement
    allow = files.get("allow")
    folders = [path.parent / folder for folder in allow if isinstance(folder, str)] if isinstance(allow, list) else []
    limit = parse_size(files.get("max_size"))
    return Confinement(
        (*confinement.roots, *(folder.resolve() for folder in folders)),
        confinement.data_limit if limit is None else limit,
    )
