"""Test-data feeders: rows from CSV, JSON or inline data, handed out to users by a strategy.

``load_rows`` reads a :class:`FeederSpec`'s rows (at load time, in every
process); a :class:`Feeder` hands them out (``take()``); a :class:`FeederHub`
holds the feeders of one scenario and, once attached to a Locust environment,
makes ``unique`` feeders unique across the whole test: in a distributed run the
master keeps their cursors and hands out row *indexes* through Locust custom
messages, and each worker turns an index into its own copy of the row.

Strategies: ``sequential`` (file order, one cursor per process), ``random``,
``shuffle`` (shuffled once per process, then in order; reshuffled on recycle),
``circular`` (file order, wrapping) and ``unique`` (each row to exactly one
taker). ``on_exhausted`` (sequential, shuffle, unique): ``stop_user`` and
``fail`` raise :class:`Exhausted`, ``recycle`` starts over. Cursors start over
at every new test (Locust's ``test_start``) once a hub is attached.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import logging
import os
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from gevent.event import AsyncResult

from engine.files import UNCONFINED, Confinement, FileRefused
from engine.model import FeederSpec, OnExhausted, Strategy

log = logging.getLogger("engine.feeders")

TAKE_MESSAGE = "engine_feeder_take"
"""Worker -> master: ``{"id": request id, "feeder": name}``."""
GIVE_MESSAGE = "engine_feeder_give"
"""Master -> worker: ``{"id", "feeder", "index": int | None (exhausted), "rows": int, "error": str | None}``."""
REMOTE_TIMEOUT = 30.0
"""Seconds a worker waits for the master's answer to a ``unique`` take."""

STRATEGIES: tuple[str, ...] = get_args(Strategy)
POLICIES: tuple[str, ...] = get_args(OnExhausted)
_ACTIONS = {
    "stop_user": "stopping users",
    "fail": "failing the steps that take from it",
    "recycle": "starting over",
}

_RNG = random.Random()
if hasattr(os, "register_at_fork"):  # processes forked by --processes must not share one random sequence
    os.register_at_fork(after_in_child=_RNG.seed)


class FeederError(ValueError):
    """A problem with a feeder's data (a message without position: the caller adds file:line:col)."""


class FeederUnavailable(FeederError):
    """A ``unique`` take on a worker that the master could not serve (no answer, unknown feeder, other data)."""


class Exhausted(Exception):
    """A feeder has no row left for this taker; ``policy`` says what the taker does about it."""

    def __init__(self, feeder: str, policy: Literal["stop_user", "fail"]) -> None:
        super().__init__(feeder, policy)
        self.feeder = feeder
        self.policy = policy

    def __str__(self) -> str:
        return f"feeder '{self.feeder}' is exhausted (on_exhausted: {self.policy})"


# ---------------------------------------------------------------------------------------------------------------
# Loading


def load_rows(
    spec: FeederSpec, base: Path, files: Confinement = UNCONFINED
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The rows of ``spec`` and their column names.

    ``base`` is the scenario's folder (a scenario file is accepted too: its folder is
    used); relative paths are resolved against it.

    - csv: the first line names the columns (names are stripped of surrounding
      blanks; none may be empty or repeated); every value is a ``str``; UTF-8,
      with or without a BOM; blank lines are skipped; each row must have exactly
      as many fields as the header.
    - json: a list of objects that all have the same keys (in any order); the
      columns are the first object's keys, in its order; values keep their JSON types.
    - rows: inline mappings, the same rule as json.

    Raises :class:`FeederError` for a missing or unreadable file, an empty file
    or no rows, a malformed row (with its line or item number), bad column names.
    """
    if spec.source == "rows":
        return _check_objects([_plain(row) for row in spec.rows], "row", "a mapping", "rows")
    if spec.path is None:
        raise FeederError(f"no {spec.source} file given")
    text = _read_text(spec.path, base, files)
    if spec.source == "csv":
        return _parse_csv(text, spec.path, spec.delimiter)
    if spec.source == "json":
        return _parse_json(text, spec.path)
    raise FeederError(f"unknown data source '{spec.source}'")


def _read_text(path: str, base: Path, files: Confinement) -> str:
    folder = base.parent if base.is_file() else base
    where = " (relative to the file that declares it)" if not Path(path).is_absolute() else ""
    try:
        data = files.read(folder / path, "data file")
    except FileRefused as exc:
        raise FeederError(f"{exc.message} ({exc.hint})" if exc.hint else exc.message) from None
    except FileNotFoundError:
        raise FeederError(f"data file '{path}' not found{where}") from None
    except IsADirectoryError:
        raise FeederError(f"data file '{path}' is a folder, not a file") from None
    except OSError as exc:
        raise FeederError(f"cannot read data file '{path}': {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeederError(f"data file '{path}' is not UTF-8 text (byte {exc.start + 1})") from None
    if not text.strip():
        raise FeederError(f"data file '{path}' is empty")
    return text


def _parse_csv(text: str, path: str, delimiter: str) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise FeederError(f"delimiter must be one character other than a quote or a line break, not {delimiter!r}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    columns: tuple[str, ...] | None = None
    rows: list[dict[str, Any]] = []
    while True:
        line = reader.line_num + 1  # where the next record starts (a quoted field may span lines)
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise FeederError(f"data file '{path}', line {line}: {exc}") from None
        if not record:  # a blank line
            continue
        if columns is None:
            columns = _check_columns([name.strip() for name in record], f"data file '{path}', line {line}")
            continue
        if len(record) != len(columns):
            raise FeederError(
                f"data file '{path}', line {line}: {len(record)} field{'s' if len(record) != 1 else ''}, "
                f"but the header names {len(columns)} column{'s' if len(columns) != 1 else ''}"
            )
        rows.append(dict(zip(columns, record, strict=True)))
    if columns is None:  # only blank lines: already refused as empty, kept for safety
        raise FeederError(f"data file '{path}' is empty")
    if not rows:
        raise FeederError(f"data file '{path}' has column names but no rows")
    return rows, columns


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _parse_json(text: str, path: str) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise FeederError(
            f"data file '{path}' is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except _DuplicateKey as exc:
        raise FeederError(f"data file '{path}': duplicate key '{exc.args[0]}'") from None
    if not isinstance(data, list):
        raise FeederError(f"data file '{path}' must hold a JSON list of objects, not {_kind(data, 'an object')}")
    return _check_objects(data, "item", "an object", f"data file '{path}'")


def _check_objects(
    items: list[Any], noun: str, mapping: str, where: str
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """Every item a mapping with string keys, all with the first one's keys; columns in its order."""
    if not items:
        raise FeederError(f"{where}: no rows (the list is empty)")
    columns: tuple[str, ...] = ()
    rows: list[dict[str, Any]] = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise FeederError(f"{where}: {noun} {number} is {_kind(item, mapping)}, expected {mapping}")
        for key in item:
            if not isinstance(key, str):
                raise FeederError(f"{where}: {noun} {number}: column name {key!r} is not a string")
        if number == 1:
            columns = _check_columns(list(item), f"{where}: {noun} 1")
        elif set(item) != set(columns):
            missing = [k for k in columns if k not in item]
            extra = [k for k in item if k not in columns]
            details = [f"missing {_names(missing)}"] if missing else []
            details += [f"extra {_names(extra)}"] if extra else []
            raise FeederError(
                f"{where}: {noun} {number} has other keys than {noun} 1 ({'; '.join(details)}): "
                f"every {noun} needs the same keys"
            )
        rows.append(item)
    return rows, columns


def _check_columns(names: list[str], where: str) -> tuple[str, ...]:
    if not names:
        raise FeederError(f"{where}: no columns")
    seen: dict[str, int] = {}
    for number, name in enumerate(names, 1):
        if not name:
            raise FeederError(f"{where}: column {number} has no name")
        if name in seen:
            raise FeederError(f"{where}: column '{name}' appears twice (columns {seen[name]} and {number})")
        seen[name] = number
    return tuple(names)


def _names(keys: list[str]) -> str:
    return ", ".join(f"'{key}'" for key in keys)


def _kind(value: Any, mapping: str) -> str:
    if isinstance(value, dict):
        return mapping
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


def _plain(value: Any) -> Any:
    """YAML data as plain dicts and lists (without the source positions of the marked containers)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------------------------
# Handing rows out


class Feeder:
    """Hands out the rows of one feeder according to its strategy (see the module docstring).

    ``take()`` never yields to other greenlets, except for a ``unique`` take on a
    worker (it waits for the master), so users of one process never see a half-
    updated cursor. A taken row is a shallow copy.
    """

    def __init__(
        self,
        name: str,
        rows: list[dict[str, Any]],
        columns: tuple[str, ...],
        strategy: str,
        on_exhausted: str,
        *,
        rng: random.Random | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise FeederError(f"unknown strategy '{strategy}' (one of {', '.join(STRATEGIES)})")
        if on_exhausted not in POLICIES:
            raise FeederError(f"unknown on_exhausted '{on_exhausted}' (one of {', '.join(POLICIES)})")
        if not rows:
            raise FeederError(f"feeder '{name}' has no rows")
        self.name = name
        self.rows = rows
        self.columns = columns
        self.strategy = strategy
        self.on_exhausted = on_exhausted
        self._rng = rng if rng is not None else _RNG
        self._remote: Callable[[str], int | None] | None = None
        self._cursor = 0
        self._order: list[int] | None = None  # shuffle: made at the first take, i.e. after a fork
        self._exhausted = False
        self._warned = False

    def reset(self) -> None:
        """Start over: the first row again, a new shuffle, not exhausted, and warn again."""
        self._cursor = 0
        self._order = None
        self._exhausted = False
        self._warned = False

    def take(self) -> dict[str, Any]:
        """The row for one taker; raises :class:`Exhausted` (recycling is handled here)."""
        return dict(self.rows[self.take_index()])

    def take_index(self) -> int:
        """The index of the row for one taker (``take()`` without the copy)."""
        if self.strategy == "random":
            return self._rng.randrange(len(self.rows))
        if self.strategy == "circular":
            index = self._cursor
            self._cursor = (index + 1) % len(self.rows)
            return index
        if self.strategy == "unique" and self._remote is not None:
            return self._take_remote(self._remote)
        return self.next_index()

    def next_index(self) -> int:
        """The next index of this process's cursor, applying ``on_exhausted`` (sequential, shuffle, unique)."""
        if self._exhausted:
            raise self._exhausted_error()
        if self._cursor >= len(self.rows):
            count = len(self.rows)
            self._warn(logging.WARNING, f"after {count} row{'s' if count != 1 else ''}")
            if self.on_exhausted != "recycle":
                self._exhausted = True
                raise self._exhausted_error()
            self._cursor = 0
            self._order = None
        index = self._cursor
        self._cursor += 1
        if self.strategy != "shuffle":
            return index
        if self._order is None:
            self._order = list(range(len(self.rows)))
            self._rng.shuffle(self._order)
        return self._order[index]

    def _take_remote(self, remote: Callable[[str], int | None]) -> int:
        if self._exhausted:
            raise self._exhausted_error()
        index = remote(self.name)
        if index is not None:
            return index
        if self.on_exhausted == "recycle":  # the master recycles: it never answers None for these
            raise FeederUnavailable(f"feeder '{self.name}': the master reported it exhausted, but it recycles")
        self._exhausted = True
        self._warn(logging.INFO, "(reported by the master)")
        raise self._exhausted_error()

    def _exhausted_error(self) -> Exhausted:
        return Exhausted(self.name, "fail" if self.on_exhausted == "fail" else "stop_user")

    def _warn(self, level: int, when: str) -> None:
        if not self._warned:
            self._warned = True
            log.log(
                level,
                "feeder '%s' exhausted %s: %s (on_exhausted: %s)",
                self.name,
                when,
                _ACTIONS[self.on_exhausted],
                self.on_exhausted,
            )


class FeederHub:
    """The feeders of one loaded scenario, by name, and their coordination in a distributed run.

    Until :meth:`attach` (or on a LocalRunner) everything is local. On a master,
    the hub answers the workers' ``unique`` takes from its own cursors; on a
    worker, ``unique`` takes ask the master and wait up to ``timeout`` seconds
    (then :class:`FeederUnavailable`).
    """

    def __init__(self, feeders: dict[str, Feeder], *, timeout: float = REMOTE_TIMEOUT) -> None:
        for key, feeder in feeders.items():
            if key != feeder.name:
                raise FeederError(f"feeder '{feeder.name}' is registered as '{key}': use its name")
        self.feeders = dict(feeders)
        self.timeout = timeout
        self.role: Literal["local", "master", "worker"] = "local"
        self._runner: Any = None
        self._environment: Any = None
        self._pending: dict[int, AsyncResult] = {}
        self._ids = itertools.count(1)

    def take(self, name: str) -> dict[str, Any]:
        """A row of feeder ``name`` (see :meth:`Feeder.take`)."""
        return self.feeders[name].take()

    def reset(self) -> None:
        """Start every feeder over (on a worker, the master's ``unique`` cursors are the master's)."""
        for feeder in self.feeders.values():
            feeder.reset()

    def attach(self, environment: Any) -> None:
        """Coordinate with the other Locust processes of ``environment.runner`` (call it from ``events.init``)."""
        from locust.runners import MasterRunner, WorkerRunner

        runner = environment.runner
        for feeder in self.feeders.values():
            feeder._remote = None
        if isinstance(runner, MasterRunner):
            _register(runner, TAKE_MESSAGE, self._serve)
            self.role = "master"
        elif isinstance(runner, WorkerRunner):
            _register(runner, GIVE_MESSAGE, self._receive)
            for feeder in self.feeders.values():
                if feeder.strategy == "unique":
                    feeder._remote = self._ask
            self.role = "worker"
        else:
            self.role = "local"
        self._runner = runner
        if environment is not self._environment:
            environment.events.test_start.add_listener(self._on_test_start)
            self._environment = environment

    def _on_test_start(self, **_: Any) -> None:
        self.reset()

    def _serve(self, environment: Any, msg: Any, **_: Any) -> None:
        """Master: answer a worker's take with the next index (None when exhausted) or an error."""
        data = msg.data if isinstance(msg.data, dict) else {}
        name = data.get("feeder")
        reply: dict[str, Any] = {"id": data.get("id"), "feeder": name, "index": None, "rows": None, "error": None}
        feeder = self.feeders.get(name) if isinstance(name, str) else None
        if feeder is None or feeder.strategy != "unique":
            reply["error"] = f"the master has no unique feeder '{name}' (does it run the same scenario?)"
        else:
            reply["rows"] = len(feeder.rows)
            with contextlib.suppress(Exhausted):  # exhausted: the index stays None
                reply["index"] = feeder.next_index()
        self._runner.send_message(GIVE_MESSAGE, reply, client_id=msg.node_id)

    def _receive(self, environment: Any, msg: Any, **_: Any) -> None:
        """Worker: hand the master's answer to the greenlet waiting for it."""
        data = msg.data if isinstance(msg.data, dict) else {}
        request = data.get("id")
        waiting = self._pending.get(request) if isinstance(request, int) else None
        if waiting is None:
            log.debug("late answer from the master for feeder %r dropped: %r", data.get("feeder"), data)
            return
        waiting.set(data)

    def _ask(self, name: str) -> int | None:
        """Worker: the master's next index of ``name`` (None when exhausted)."""
        request = next(self._ids)
        waiting: AsyncResult = AsyncResult()
        self._pending[request] = waiting
        try:
            self._runner.send_message(TAKE_MESSAGE, {"id": request, "feeder": name})
            waiting.wait(self.timeout)
            if not waiting.ready():
                raise FeederUnavailable(
                    f"feeder '{name}': no answer from the master within {self.timeout:g}s "
                    "(does the master run the same scenario?)"
                )
            reply: dict[str, Any] = waiting.get()
        finally:
            self._pending.pop(request, None)
        if reply.get("error"):
            raise FeederUnavailable(f"feeder '{name}': {reply['error']}")
        rows = len(self.feeders[name].rows)
        if reply.get("rows") != rows:
            raise FeederUnavailable(
                f"feeder '{name}' has {reply.get('rows')} rows on the master but {rows} on this worker: "
                "give every worker the same data files"
            )
        index = reply.get("index")
        return index if isinstance(index, int) else None


def _register(runner: Any, msg_type: str, handler: Callable[..., None]) -> None:
    """Register a custom message handler once (attaching the same hub again is a no-op)."""
    existing = runner.custom_messages.get(msg_type)
    if existing is not None:
        if existing[0] == handler:
            return
        raise FeederError(f"another feeder hub already handles '{msg_type}' messages on this runner")
    runner.register_message(msg_type, handler)
