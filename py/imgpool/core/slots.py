"""Worker slots: the state machine of one place in the pool, and its start queue.

Theory of operation
-------------------
The pool has `config.pool_size` slots with fixed ids. A slot hosts one worker
*incarnation* at a time; every (re)start makes a new incarnation and increments the
slot's `generation`. Commands carry (slot_id, generation) and so do the worker's
messages, which is how a late message from a terminated incarnation is recognised and
ignored: it can never settle a task that was reassigned since.

Rule 1 (as in h11's `_state.py`): every transition is in `SLOT_TRANSITIONS`, one
dict of (state, event) -> new state. `Slot.fire` is the only code that changes
`Slot.state`; an event the table does not allow raises `SlotTransitionError` and leaves
the slot exactly as it was. The other fields (task, deadline, reservation) are the
pool's bookkeeping; `fire` changes only `state`, plus `generation` on START.

Rule 2: only IDLE accepts work. A slot is IDLE only after its worker said Ready.

A slot is created NEW (`INITIAL_SLOT_STATE`): it has never had a worker, so the first
event a page sees for it is new -> starting, and "restarting" always means a worker was
there before. The transient states (FAILED, TIMED_OUT) exist so that the event stream
says *why* a worker went away; the pool (`pool.py`) moves on to RESTARTING (or RETIRED)
in the same call. RETIRED is the only terminal state.

`StartQueue` spaces worker starts `stagger_s` apart: several Pyodides booting at the
same instant can hang some browsers, and a CPU-bound boot is faster one at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from enum import Enum

__all__ = ["SlotState", "SlotEvent", "SLOT_TRANSITIONS", "INITIAL_SLOT_STATE", "LIVE_STATES",
           "SlotTransitionError", "Slot", "StartQueue", "state_diagram", "slot_diagram"]


class SlotState(Enum):
    """The state of a slot's current worker incarnation."""

    #: Created, never started: waits for the pool's start() and its turn to start.
    NEW = "new"
    #: StartWorker was sent; waiting for Ready (or a boot error, or the start timeout).
    STARTING = "starting"
    #: Ready and without a task: the only state that accepts a dispatch.
    IDLE = "idle"
    #: Running exactly one task, whose deadline is the slot's deadline.
    BUSY = "busy"
    #: Its task was cancelled (and settled); StopTask sent; terminated after the grace.
    CANCELLING = "cancelling"
    #: Its task (or the cancel grace) ran past the deadline; the worker is terminated.
    TIMED_OUT = "timed_out"
    #: The worker crashed, ran out of memory or failed to boot; it is terminated.
    FAILED = "failed"
    #: Its worker was terminated (lost or recycled); waiting in the start queue for the
    #: next incarnation.
    RESTARTING = "restarting"
    #: Out of service for good (shutdown, or the circuit breaker tripped). Terminal.
    RETIRED = "retired"


class SlotEvent(Enum):
    """What can happen to a slot."""

    START = "start"                #: StartWorker sent for a new incarnation
    READY = "ready"                #: the worker said Ready
    START_FAILED = "start_failed"  #: boot error, crash while booting, or start timeout
    DISPATCH = "dispatch"          #: a task was handed to it
    FINISH = "finish"              #: its task ended and the worker is still trusted
    CANCEL = "cancel"              #: its task was cancelled; asked to stop
    STOPPED = "stopped"            #: the worker acknowledged the stop
    TIMEOUT = "timeout"            #: a task deadline or the cancel grace passed
    FAULT = "fault"                #: crashed, or out of memory: cannot be trusted
    RECYCLE = "recycle"            #: idle but its heap grew too large (or N tasks done)
    REPLACE = "replace"            #: the dead incarnation is queued for a restart
    RETIRE = "retire"              #: shutdown or breaker: never start again


S, E = SlotState, SlotEvent

#: Every legal move of a slot. Nothing else changes `Slot.state`.
SLOT_TRANSITIONS: dict[tuple[SlotState, SlotEvent], SlotState] = {
    (S.NEW, E.START): S.STARTING,
    (S.NEW, E.RETIRE): S.RETIRED,
    (S.RESTARTING, E.START): S.STARTING,
    (S.RESTARTING, E.RETIRE): S.RETIRED,
    (S.STARTING, E.READY): S.IDLE,
    (S.STARTING, E.START_FAILED): S.FAILED,
    (S.STARTING, E.RETIRE): S.RETIRED,
    (S.IDLE, E.DISPATCH): S.BUSY,
    (S.IDLE, E.FAULT): S.FAILED,
    (S.IDLE, E.RECYCLE): S.RESTARTING,
    (S.IDLE, E.RETIRE): S.RETIRED,
    (S.BUSY, E.FINISH): S.IDLE,
    (S.BUSY, E.CANCEL): S.CANCELLING,
    (S.BUSY, E.TIMEOUT): S.TIMED_OUT,
    (S.BUSY, E.FAULT): S.FAILED,
    (S.BUSY, E.RETIRE): S.RETIRED,
    (S.CANCELLING, E.STOPPED): S.IDLE,
    (S.CANCELLING, E.TIMEOUT): S.TIMED_OUT,
    (S.CANCELLING, E.FAULT): S.FAILED,
    (S.CANCELLING, E.RETIRE): S.RETIRED,
    (S.TIMED_OUT, E.REPLACE): S.RESTARTING,
    (S.TIMED_OUT, E.RETIRE): S.RETIRED,
    (S.FAILED, E.REPLACE): S.RESTARTING,
    (S.FAILED, E.RETIRE): S.RETIRED,
}

del S, E

#: The state every slot is created in (and where the diagram starts).
INITIAL_SLOT_STATE = SlotState.NEW

#: States with a live worker incarnation: messages are accepted, terminate is needed.
LIVE_STATES = frozenset({SlotState.STARTING, SlotState.IDLE, SlotState.BUSY,
                         SlotState.CANCELLING})


class SlotTransitionError(RuntimeError):
    """A slot was asked to make a move the table does not allow; it is unchanged."""


class Slot:
    """One place in the pool. `fire` moves the state; the pool keeps the rest."""

    __slots__ = ("slot_id", "state", "generation", "task_id", "deadline", "tasks_done",
                 "heap_bytes", "reserved_bytes")

    def __init__(self, slot_id: int) -> None:
        self.slot_id = slot_id
        self.state = INITIAL_SLOT_STATE
        #: Incarnation number: 0 before the first start, +1 on every START.
        self.generation = 0
        #: The task it runs (BUSY) or is stopping (CANCELLING); None otherwise.
        self.task_id: int | None = None
        #: When tick() must look at it: start timeout (STARTING), task deadline (BUSY),
        #: end of the cancel grace (CANCELLING); None otherwise.
        self.deadline: float | None = None
        #: Tasks finished by this incarnation.
        self.tasks_done = 0
        #: This incarnation's wasm heap after its last task (bytes).
        self.heap_bytes = 0
        #: Memory admission counts for its task (bytes); 0 when it holds none.
        self.reserved_bytes = 0

    def fire(self, event: SlotEvent) -> SlotState:
        """Move along the table; return the old state. Raises and changes nothing if illegal."""
        new = SLOT_TRANSITIONS.get((self.state, event))
        if new is None:
            raise SlotTransitionError(
                f"slot {self.slot_id} (generation {self.generation}): cannot "
                f"{event.value} while {self.state.value}")
        if event is SlotEvent.START:
            self.generation += 1
            self.tasks_done = 0
            self.heap_bytes = 0
        old, self.state = self.state, new
        return old

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def __repr__(self) -> str:
        return (f"Slot({self.slot_id}, gen={self.generation}, {self.state.name}, "
                f"task={self.task_id}, deadline={self.deadline})")


class StartQueue:
    """Slots waiting to start, released at most one per `stagger_s` seconds."""

    def __init__(self, stagger_s: float) -> None:
        self._stagger = stagger_s
        self._queue: deque[int] = deque()
        self._not_before = float("-inf")

    def push(self, slot_id: int) -> None:
        if slot_id not in self._queue:
            self._queue.append(slot_id)

    def pop_due(self, now: float) -> list[int]:
        """Slot ids whose turn has come at `now`, in order; the next waits `stagger_s`."""
        due = []
        while self._queue and now >= self._not_before:
            due.append(self._queue.popleft())
            self._not_before = now + self._stagger
        return due

    @property
    def wake_at(self) -> float | None:
        """When the next queued start is due, or None when nothing waits."""
        return self._not_before if self._queue else None

    def clear(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)

    def __contains__(self, slot_id: object) -> bool:
        return slot_id in self._queue


def state_diagram(table: Mapping[tuple[Enum, Enum], Enum], initial: Enum | None = None,
                  style: str = "mermaid") -> str:
    """Render a transition table as Mermaid (`stateDiagram-v2`) or Graphviz (`dot`) text."""
    edges: dict[tuple[str, str], list[str]] = {}
    for (state, event), new in table.items():
        edges.setdefault((state.name, new.name), []).append(event.value)
    targets = {new for new in table.values()}
    sources = {state for state, _ in table}
    terminal = sorted(t.name for t in targets - sources)
    if style == "mermaid":
        lines = ["stateDiagram-v2"]
        if initial is not None:
            lines.append(f"    [*] --> {initial.name}")
        lines += [f"    {a} --> {b} : {', '.join(evs)}" for (a, b), evs in edges.items()]
        lines += [f"    {t} --> [*]" for t in terminal]
        return "\n".join(lines) + "\n"
    if style == "dot":
        lines = ["digraph states {", "    rankdir=LR;"]
        if initial is not None:
            lines += ['    start [shape=point];', f'    start -> "{initial.name}";']
        lines += [f'    "{t}" [shape=doublecircle];' for t in terminal]
        lines += [f'    "{a}" -> "{b}" [label="{", ".join(evs)}"];'
                  for (a, b), evs in edges.items()]
        return "\n".join(lines + ["}"]) + "\n"
    raise ValueError(f"style must be 'mermaid' or 'dot', not {style!r}")


def slot_diagram(style: str = "mermaid") -> str:
    """The slot state machine, for the docs (Mermaid or Graphviz text)."""
    return state_diagram(SLOT_TRANSITIONS, INITIAL_SLOT_STATE, style)
