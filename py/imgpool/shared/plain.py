"""Our dataclasses as plain JSON values, without `dataclasses.asdict`'s deep copy.

`asdict` runs `copy.deepcopy` on every value it meets. Building one `RunTask` message
(the task's options and image facts) with it took 0.4 ms in CPython, several times that
in Pyodide, on the page's main thread between a worker's result and its next image: the
largest Python cost of a finished task. Messages, options and events hold only JSON
values, enums, tuples and nested dataclasses, so one walk that converts those gives the
same JSON: enums become their values, tuples lists, objects with `to_dict` (and other
dataclasses, field by field) dicts; dicts and lists are rebuilt, never shared.

Standard library only: used by the core, the page and the worker alike.
"""

from __future__ import annotations

import dataclasses
import functools
from enum import Enum
from typing import Any

__all__ = ["plain", "plain_fields"]


def plain(value: Any) -> Any:
    """`value` as plain JSON data (str, int, float, bool, None, list, dict)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None and not isinstance(value, type):
        return to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain_fields(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    return value


def plain_fields(obj: Any) -> dict[str, Any]:
    """A dataclass instance's fields, each as plain data (its own `to_dict` is not
    called: this is what a `to_dict` is built from)."""
    return {name: plain(getattr(obj, name)) for name in _field_names(type(obj))}


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))
