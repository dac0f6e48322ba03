"""Durations as a scenario writes them (``2``, ``500ms``, ``1.5s``, ``1m``, ``1h``) in seconds."""

from __future__ import annotations

import re
from typing import Any

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$")


def seconds(value: Any) -> float:
    """A schema-valid duration (number of seconds or "500ms"/"2s"/"1m"/"1h") in seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]
