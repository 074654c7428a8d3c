"""`imgpool.shared.plain`: the same JSON as `dataclasses.asdict`, without its deep copy."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum

from imgpool.shared import protocol as P
from imgpool.shared.options import Options
from imgpool.shared.plain import plain, plain_fields


def _asdict_json(obj) -> object:
    """What the old `asdict`-based conversion gave, as JSON."""
    def enum_value(o):
        if isinstance(o, Enum):
            return o.value
        raise TypeError(o)
    return json.loads(json.dumps(dataclasses.asdict(obj), default=enum_value))


def test_messages_and_options_give_the_json_asdict_gave():
    options = Options.from_dict({"format": "avif", "widths": "960,480",
                                 "formats": "avif,webp", "metadata": "copyright"})
    info = {"format": "jpeg", "width": 4000, "height": 3000, "icc": True}
    run = P.RunTask(slot=1, gen=2, task_id=3, name="a.jpg", options=options.to_dict(),
                    info=info, source="buffer")
    done = P.TaskDoneMsg(slot=0, gen=1, task_id=3, width=960, height=720, format="avif",
                         in_bytes=10, out_bytes=5, elapsed_ms=1.5, heap_bytes=0,
                         mem_highwater_bytes=0,
                         outputs=[P.SetOutput(suffix="-960.avif", width=960, height=720,
                                              format="avif", out_bytes=5, quality=80)])
    for obj in (run, done, options):
        ours = obj.to_dict() if isinstance(obj, Options) else obj.to_message()
        old = _asdict_json(obj)
        assert json.loads(json.dumps(ours)) == {**old, **{k: ours[k] for k in ("v", "type")
                                                          if k in ours}}
    assert options.to_dict()["widths"] == [960, 480]
    assert options.to_dict()["formats"] == ["avif", "webp"]


def test_nested_values_are_rebuilt_not_shared():
    info = {"format": "jpeg", "exif": [1, 2]}
    run = P.RunTask(slot=0, gen=1, task_id=1, name="a.jpg", options={}, info=info,
                    source="buffer")
    out = run.to_message()
    out["info"]["exif"].append(3)
    assert info == {"format": "jpeg", "exif": [1, 2]}


class _Colour(Enum):
    RED = "red"


def test_plain_turns_enums_tuples_and_objects_into_json_values():
    @dataclasses.dataclass
    class Inner:
        colour: _Colour
        pair: tuple

    assert plain(Inner(_Colour.RED, (1, 2))) == {"colour": "red", "pair": [1, 2]}
    assert plain({1: (Inner(_Colour.RED, ()),)}) == {"1": [{"colour": "red", "pair": []}]}
    assert plain_fields(Inner(_Colour.RED, ("x",))) == {"colour": "red", "pair": ["x"]}
