"""Reading the files a scenario names: inside its folder, regular files only, of bounded size.

The scenario given on the command line sets the tree: its includes, data files and schema
files must resolve (symlinks followed) inside its folder, or inside a folder the author allows
with ``files: {allow: [DIR]}`` or ``--allow-path DIR``. Devices, FIFOs and folders are refused
before they are opened, and no file is read beyond its size limit. Messages name the path, never
what the file holds.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

SCENARIO_LIMIT = 10 * 2**20
"""The largest YAML file (a scenario or an include) that is read: 10 MiB."""
DATA_LIMIT = 50 * 2**20
"""The default largest data or schema file: 50 MiB, raised with ``files: {max_size: ...}``."""


class FileRefused(Exception):
    """A file that may not be read: outside the tree, not a regular file, or too large."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$")
_UNITS = {None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def parse_size(value: object) -> int | None:
    """A size as a scenario writes it (``200MB``, ``1.5GiB``, ``1048576``) in bytes, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def size_text(size: int) -> str:
    """A byte count in words: ``512 bytes``, ``3.5 MiB``."""
    if size < 2**10:
        return f"{size} bytes"
    if size < 2**20:
        return f"{size / 2**10:.1f} KiB"
    return f"{size / 2**20:.1f} MiB"


@dataclass(frozen=True)
class Confinement:
    """The folders a scenario's files may come from, and the size limit of its data files."""

    roots: tuple[Path, ...]
    data_limit: int = DATA_LIMIT

    @classmethod
    def around(cls, scenario: Path, allowed: tuple[Path, ...] = (), data_limit: int = DATA_LIMIT) -> Confinement:
        """The tree of ``scenario`` (the file named on the command line), plus ``allowed`` folders."""
        roots = (scenario.resolve().parent, *(folder.resolve() for folder in allowed))
        return cls(roots, data_limit)

    def resolve(self, path: Path, what: str) -> Path:
        """``path`` resolved, when it lies inside one of the roots; else :class:`FileRefused`."""
        resolved = path.resolve()
        if not any(resolved.is_relative_to(root) for root in self.roots):
            return self._outside(path, what)
        return resolved

    def _outside(self, path: Path, what: str) -> Path:
        folders = ", ".join(f"{root}/" for root in self.roots)
        raise FileRefused(
            f"{what} {path} is outside the scenario's folder ({folders})",
            "a scenario reads files only inside its own folder: move the file there, or allow its folder "
            "with files: {allow: [DIR]} in the scenario or --allow-path DIR",
        )

    def read(self, path: Path, what: str, limit: int | None = None) -> bytes:
        """The bytes of a regular file inside the tree, at most ``limit`` of them (the data limit)."""
        limit = self.data_limit if limit is None else limit
        resolved = self.resolve(path, what)
        info = os.stat(resolved)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{what} {path} is not a regular file", "name a file, not a device, pipe or socket")
        if info.st_size > limit:
            raise FileRefused(
                f"{what} {path} is {size_text(info.st_size)}, over the limit of {size_text(limit)}",
                _raise_hint(limit),
            )
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        descriptor = os.open(resolved, flags)
        with os.fdopen(descriptor, "rb") as handle:
            data = handle.read(info.st_size + 1)  # read(n) allocates n bytes first: the size, not the limit
            if len(data) > info.st_size:  # it grows as it is read: on, still bounded
                data += handle.read(limit + 1 - len(data))
        if len(data) > limit:  # it grew after the check
            raise FileRefused(f"{what} {path} is over the limit of {size_text(limit)}", _raise_hint(limit))
        return data


def _raise_hint(limit: int) -> str:
    if limit == SCENARIO_LIMIT:
        return "split it into files that include each other"
    return "raise the limit with files: {max_size: 200MB} in the scenario"


UNCONFINED = Confinement((Path("/"),))
"""For files a test or a tool reads outside any scenario's tree."""
