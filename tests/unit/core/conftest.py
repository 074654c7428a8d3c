"""Helpers for the core tests: a scheduler driven by hand, with a fake clock."""

from __future__ import annotations

import pytest

from imgpool.shared.config import MIB, PoolConfig
from imgpool.core.commands import Emit
from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.core.inputs import WorkerReady
from imgpool.testing import Hangs, Harness, NeverBoots


def emitted(commands, *types):
    """The events inside `commands` (only of `types`, if given)."""
    return [c.event for c in commands
            if isinstance(c, Emit) and (not types or isinstance(c.event, types))]


def of(commands, kind):
    return [c for c in commands if isinstance(c, kind)]


def png(width, height, bands=3):
    """A PNG header: PNG decodes fully, so memory is width x height x bands (+ output)."""
    return ImageInfo(format=ImageFormat.PNG, width=width, height=height, bands=bands,
                     bit_depth=8, frames=1)


def manual(config: PoolConfig | None = None, **kw) -> Harness:
    """A harness whose workers do nothing unless the test says so (via h.handle)."""
    kw.setdefault("boot", NeverBoots())
    kw.setdefault("default_task", Hangs())
    return Harness(config or PoolConfig(start_stagger_s=0.0), **kw)


def ready_all(h: Harness) -> None:
    for slot in h.scheduler.slots:
        if slot.state.name == "STARTING":
            h.handle(WorkerReady(slot.slot_id, slot.generation, 100.0))


def one_running(config: PoolConfig, **submit):
    """A manual harness with every worker Ready and one task running: (h, task)."""
    h = manual(config)
    h.start()
    ready_all(h)
    return h, h.scheduler.tasks[h.submit(**submit)]


@pytest.fixture
def cfg():
    return PoolConfig(pool_size=2, start_stagger_s=0.0, memory_budget_bytes=512 * MIB)
