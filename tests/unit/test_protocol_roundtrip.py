"""Every protocol message survives encode -> decode with every field set to a value that
is not its default, so a field dropped by `to_message` or `decode` comes back different
instead of silently equal.

The message classes are found in `imgpool.shared.protocol` itself, so a message or a field added
later is covered without touching this file; a field of a type this file cannot fill
fails with a message saying so.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

import pytest

from imgpool.shared import protocol
from imgpool.shared.protocol import Message, decode

PLAIN = (str, int, float, bool, type(None))


def message_classes() -> list[type[Message]]:
    found = [obj for obj in vars(protocol).values()
             if isinstance(obj, type) and issubclass(obj, Message) and obj is not Message
             and dataclasses.is_dataclass(obj)]
    return sorted(found, key=lambda cls: cls.__name__)


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def value_for(where: str, tp: Any, default: Any, salt: int) -> Any:
    """A value of type `tp` that differs from `default` (and from other fields' values)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return value_for(where, next(a for a in args if a is not type(None)), default, salt)
    if tp is bool:
        return True if default is dataclasses.MISSING else not default
    if tp is int:
        return 1000 + salt if default != 1000 + salt else 2000 + salt
    if tp is float:
        return 1000.25 + salt
    if tp is str or tp is Any:
        return f"{where}-value"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(m for m in reversed(list(tp)) if m != default)
    if origin is list:
        return [value_for(f"{where}[0]", args[0] if args else str, dataclasses.MISSING, salt)]
    if origin is tuple:
        return tuple(value_for(f"{where}[{i}]", a, dataclasses.MISSING, salt + i)
                     for i, a in enumerate(a for a in args if a is not Ellipsis))
    if origin is dict:
        return {f"{where}-key": f"{where}-value", "number": salt}
    if dataclasses.is_dataclass(tp):
        return build(tp, salt)
    pytest.fail(f"{where}: no non-default value for type {tp!r}; teach value_for() this type")


def build(cls: type, salt: int = 0) -> Any:
    hints = typing.get_type_hints(cls)
    values = {f.name: value_for(f"{cls.__name__}.{f.name}", hints[f.name], default_of(f),
                                salt + i)
              for i, f in enumerate(dataclasses.fields(cls)) if f.init}
    return cls(**values)


def plain(value: Any) -> bool:
    """What postMessage can carry as is (after pyodide.ffi.to_js)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(plain(v) for v in value)
    return isinstance(value, PLAIN)


def test_every_message_class_is_found():
    names = {cls.__name__ for cls in message_classes()}
    assert {"Init", "RunTask", "Ready", "TaskDoneMsg", "TaskFailedMsg", "StatsReply"} <= names


@pytest.mark.parametrize("cls", message_classes(), ids=lambda cls: cls.__name__)
def test_every_field_survives_a_round_trip(cls):
    msg = build(cls)
    for f in dataclasses.fields(cls):
        assert getattr(msg, f.name) != default_of(f), f"{cls.__name__}.{f.name} is its default"
    data = msg.to_message()
    assert plain(data), f"{cls.__name__}.to_message() is not plain data: {data!r}"
    back = decode(data)
    assert type(back) is cls
    for f in dataclasses.fields(cls):
        assert getattr(back, f.name) == getattr(msg, f.name), \
            f"{cls.__name__}.{f.name} was lost on the way: {getattr(back, f.name)!r}"
    assert back == msg


@pytest.mark.parametrize("cls", message_classes(), ids=lambda cls: cls.__name__)
def test_a_message_decodes_to_its_own_type(cls):
    data = build(cls).to_message()
    assert data["type"] == cls.TYPE and data["v"] == protocol.PROTOCOL_VERSION
    types_seen = {c.TYPE for c in message_classes()}
    assert len(types_seen) == len(message_classes())     # no two classes share a tag
