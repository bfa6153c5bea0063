"""An option's value, from TOML or the command line, as the option's type.

Pure conversions: each raises TypeError or ValueError for a value it cannot take, and
config.py turns that into one line naming the file or flag, the section and the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

TYPE_WORDS = {
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "tuple[float, ...]": "a list of numbers",
    "tuple[str, ...]": "a list of words",
}
_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.lower()]
    raise ValueError(value)


def to_int(value: Any) -> int:
    """A whole number: 8, 8.0 or "8"; never 8.5, a bool or a list."""
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,18}\s*", value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(value)


def to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(value)


def _listed(value: Any) -> list[Any]:
    """A list, or comma-separated text (as a flag gives it)."""
    if isinstance(value, str):
        return value.split(",")
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(value)


def to_floats(value: Any) -> tuple[float, ...]:
    values = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else _listed(value)
    return tuple(to_float(v) for v in values)


def to_words(value: Any) -> tuple[str, ...]:
    words = _listed(value)
    if not all(isinstance(v, str) for v in words):
        raise TypeError(value)
    return tuple(v.strip() for v in words if v.strip())


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "bool": to_bool,
    "int": to_int,
    "float": to_float,
    "str": to_text,
    "tuple[float, ...]": to_floats,
    "tuple[str, ...]": to_words,
}
