"""Marker values print as plain words: no ``<object object at 0x…>`` in a log line or a message."""

from __future__ import annotations

import copy
import inspect
import re
from pathlib import Path

import pytest

from engine import expect, jsonpaths, response, templates
from engine.steps import use as use_step

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("marker", "text"),
    [
        (expect._ABSENT, "absent"),
        (use_step._ABSENT, "absent"),
        (templates._MISSING, "no default"),
        (jsonpaths.ALL, "[*]"),
        (response.ResponseView._UNSET, "not parsed yet"),
    ],
)
def test_every_marker_prints_as_its_name(marker: object, text: str) -> None:
    assert repr(marker) == text and str(marker) == text and f"{marker}" == text
    assert repr([marker]) == f"[{text}]"  # also inside a container, as a log line would show it
    assert copy.copy(marker) is marker and copy.deepcopy({"k": marker})["k"] is marker  # still the marker


def test_no_bare_object_marker_in_the_engine() -> None:
    """A new marker is a ``Sentinel`` (engine/sentinels.py), never ``object()``."""
    bare = [
        f"{path.name}:{number}"
        for path in sorted((ROOT / "engine").glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"=\s*object\(\)", line)
    ]
    assert bare == []


def test_the_env_default_marker_never_shows_in_a_message() -> None:
    with pytest.raises(LookupError) as raised:
        templates.env_var("ENGINE_TEST_SURELY_UNSET_VARIABLE")
    assert "object at 0x" not in str(raised.value)
    assert "= no default" in str(inspect.signature(templates.env_var))  # as help() would show it
