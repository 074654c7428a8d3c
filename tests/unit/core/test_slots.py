"""The slot state table on its own (h11 test_state.py style), and the start queue."""

import itertools

import pytest

from imgpool.core.slots import (INITIAL_SLOT_STATE, LIVE_STATES, SLOT_TRANSITIONS, Slot,
                                SlotEvent, SlotState, SlotTransitionError, StartQueue,
                                slot_diagram, state_diagram)
from imgpool.core.tasks import TASK_TRANSITIONS, TaskState


def slot_in(state, generation=3):
    slot = Slot(0)
    slot.state, slot.generation = state, generation
    return slot


@pytest.mark.parametrize("state,event", sorted(SLOT_TRANSITIONS, key=str))
def test_each_legal_transition(state, event):
    slot = slot_in(state)
    assert slot.fire(event) is state
    assert slot.state is SLOT_TRANSITIONS[(state, event)]
    assert slot.generation == (4 if event is SlotEvent.START else 3)


ILLEGAL = [(s, e) for s, e in itertools.product(SlotState, SlotEvent)
           if (s, e) not in SLOT_TRANSITIONS]


@pytest.mark.parametrize("state,event", ILLEGAL)
def test_each_illegal_transition_raises_and_changes_nothing(state, event):
    slot = slot_in(state)
    slot.task_id, slot.deadline, slot.tasks_done, slot.heap_bytes = 9, 12.5, 4, 100
    with pytest.raises(SlotTransitionError, match=f"cannot {event.value}"):
        slot.fire(event)
    assert (slot.state, slot.generation, slot.task_id, slot.deadline, slot.tasks_done,
            slot.heap_bytes) == (state, 3, 9, 12.5, 4, 100)


def test_only_idle_accepts_work():
    assert [s for s, e in SLOT_TRANSITIONS if e is SlotEvent.DISPATCH] == [SlotState.IDLE]


def test_retired_is_terminal_and_reachable_from_everywhere():
    assert not [k for k in SLOT_TRANSITIONS if k[0] is SlotState.RETIRED]
    for state in SlotState:
        if state is not SlotState.RETIRED:
            assert SLOT_TRANSITIONS[(state, SlotEvent.RETIRE)] is SlotState.RETIRED


def test_every_state_is_reachable_from_the_initial_one():
    seen, frontier = {INITIAL_SLOT_STATE}, [INITIAL_SLOT_STATE]
    while frontier:
        state = frontier.pop()
        for (s, _), new in SLOT_TRANSITIONS.items():
            if s is state and new not in seen:
                seen.add(new)
                frontier.append(new)
    assert seen == set(SlotState)


def test_a_slot_is_created_new_and_never_returns_there():
    assert Slot(0).state is INITIAL_SLOT_STATE is SlotState.NEW
    assert SlotState.NEW not in SLOT_TRANSITIONS.values()
    # new and restarting differ only in history: the same moves lead out of both
    out = {e: n for (s, e), n in SLOT_TRANSITIONS.items() if s is SlotState.NEW}
    assert out == {e: n for (s, e), n in SLOT_TRANSITIONS.items()
                   if s is SlotState.RESTARTING}


def test_start_makes_a_new_incarnation():
    slot = Slot(2)
    assert (slot.state, slot.generation) == (SlotState.NEW, 0)
    slot.tasks_done, slot.heap_bytes = 5, 99
    slot.fire(SlotEvent.START)
    assert (slot.state, slot.generation, slot.tasks_done, slot.heap_bytes) == (
        SlotState.STARTING, 1, 0, 0)


def test_live_states_are_those_with_a_worker():
    assert LIVE_STATES == {SlotState.STARTING, SlotState.IDLE, SlotState.BUSY,
                           SlotState.CANCELLING}


def test_mermaid_diagram_has_every_edge():
    text = slot_diagram()
    assert text.startswith("stateDiagram-v2\n    [*] --> NEW\n")
    for (state, event), new in SLOT_TRANSITIONS.items():
        line = next(l for l in text.splitlines() if l.strip().startswith(
            f"{state.name} --> {new.name} :"))
        assert event.value in line
    assert "RETIRED --> [*]" in text


def test_dot_diagram_and_the_task_table():
    dot = slot_diagram("dot")
    assert dot.startswith("digraph states {") and dot.rstrip().endswith("}")
    assert '"BUSY" -> "CANCELLING" [label="cancel"];' in dot
    assert 'start -> "NEW";' in dot
    tasks = state_diagram(TASK_TRANSITIONS, TaskState.QUEUED)
    for terminal in ("DONE", "FAILED", "CANCELLED"):
        assert f"{terminal} --> [*]" in tasks
    with pytest.raises(ValueError):
        slot_diagram("svg")


def test_start_queue_staggers():
    q = StartQueue(0.25)
    for i in range(3):
        q.push(i)
    q.push(1)  # already waiting: not twice
    assert len(q) == 3
    assert q.pop_due(0.0) == [0]
    assert q.wake_at == 0.25
    assert q.pop_due(0.2) == []
    assert q.pop_due(0.25) == [1]
    assert q.pop_due(10.0) == [2]
    assert q.wake_at is None
    q.push(0)
    assert q.pop_due(10.1) == []  # still spaced from the last start at 10.0
    assert q.pop_due(10.25) == [0]


def test_start_queue_without_stagger_releases_all():
    q = StartQueue(0.0)
    for i in range(4):
        q.push(i)
    assert q.pop_due(5.0) == [0, 1, 2, 3]
