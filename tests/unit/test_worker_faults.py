"""The worker's test-only fault hooks: specs parse strictly, are off unless given, and each
kind does what it says (with a fake `js`; the real thing runs in tests/e2e/test_crash_matrix.py)."""

from __future__ import annotations

import pytest

from imgpool.shared import protocol as P
from imgpool.worker.faults import (Abandoned, Fault, FaultKind, Faults, FaultSpecError,
                                   InjectedFault, Stage, fire)


def test_specs_parse_and_are_looked_up_by_stage_and_name():
    faults = Faults.from_init(["encode:oom:a.jpg", "transfer:close:dir/b:c.png"],
                              hang=["h.jpg"], crash=["c.jpg"])
    assert faults.at(Stage.ENCODE, "a.jpg") is FaultKind.OOM
    assert faults.at(Stage.DECODE, "a.jpg") is None
    assert faults.at(Stage.TRANSFER, "dir/b:c.png") is FaultKind.CLOSE   # ":" in a name
    assert faults.at(Stage.START, "h.jpg") is FaultKind.HANG
    assert faults.at(Stage.START, "c.jpg") is FaultKind.CRASH
    assert faults.at(Stage.START, "other.jpg") is None


@pytest.mark.parametrize("spec", ["encode:oom", "encode:oom:", "paint:oom:a.jpg",
                                  "encode:melt:a.jpg", "a.jpg"])
def test_bad_specs_say_what_is_wrong(spec):
    with pytest.raises(FaultSpecError, match="fault"):
        Fault.parse(spec)


def test_off_by_default():
    init = P.decode(P.Init(slot=0, gen=1).to_message())
    faults = Faults.from_init(init.debug_faults, init.debug_hang, init.debug_crash)
    assert not faults
    assert all(faults.at(stage, "x.jpg") is None for stage in Stage)


class FakeJs:
    def __init__(self):
        self.calls = []

    def close(self):
        self.calls.append("close")

    def eval(self, code):
        self.calls.append(code)


def test_fire_throw_close_and_crash():
    js = FakeJs()
    with pytest.raises(InjectedFault):
        fire(FaultKind.THROW, js, None)
    with pytest.raises(Abandoned):
        fire(FaultKind.CLOSE, js, None)
    assert js.calls == ["close"]
    with pytest.raises(Abandoned):
        fire(FaultKind.CRASH, js, None)
    assert "throw new Error('debug crash requested')" in js.calls[-1]
