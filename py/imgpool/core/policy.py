"""Queue policies: which queued task runs next.

Theory of operation
-------------------
A policy holds the queued tasks and answers one question, `pick(admit)`: which task
should start now, given `admit(task) -> bool`, the scheduler's admission check (an idle
slot exists; memory budget; alone-ness). Four methods make the whole interface
(`push`, `remove`, `pick`, `__len__`), so FIFO and the smart policy run through the
same scheduler code and the benchmark can compare them. `pick(admit, soonest=True)` is
the batch's first pick (`firstresult.py`): the task whose result can come soonest.

`FifoPolicy`: strict submission order; if the head cannot be admitted nothing starts
(`soonest` changes nothing: the baseline keeps its order).

`SmartPolicy`:
- *Size classes*: light tasks wait in one heap per class of estimated work
  (`SIZE_CLASS_LIMITS_MPIX`), FIFO (by `seq`) inside a class; smaller classes first, so
  thumbnails flow while large photos wait a little.
- *Heavy lane*: tasks above `config.heavy_megapixels` wait in their own queue and are
  offered first whenever fewer than `config.heavy_lane_slots` heavy tasks run (0: no
  limit), so a panorama starts early and grinds in the background on one worker while
  small images flow through the others. The limit keeps workers for small images, so
  it holds only while one waits: with no light (or solo) task queued, a heavy task may
  take any idle worker (memory admission still applies); otherwise the last big photos
  of a batch ran one at a time beside idle workers (4 photos saved as PNG, pool of 2:
  the largest, 1.3 s, started only when the other heavy one ended, and ran alone).
  With more than one worker the lane hands out the most work first (LPT, as the big
  end below), the oldest heavy task still first in line for aging. With a single
  worker there are no "others": the heavy lane then comes after the light classes, so
  results appear at once and the panorama runs when the small ones are through (or
  when aging says so). The batch's
  first pick (`soonest`) takes that order too, whatever the pool: the first result
  comes from the smallest task, and the panorama starts right after it.
- *Big end*: with N > 1 workers, one pick in N (the 2nd, the N+2nd, ...), when no heavy
  task waits, takes the light task with the most estimated work instead (ties:
  submission order): about one worker's share works down from the largest while the
  rest goes small first. The turn is counted in picks, not tied to which worker frees
  up, so `peek` still names the next pick exactly (the page reads that file ahead).
  Small first alone leaves the largest photo for last, alone on one worker while the
  others idle at the end of the batch (4 photos of 9-17 MP, pool of 2: the batch's end
  waits for one 0.8 s photo started last); largest first on one worker is the classic
  cure for that tail (LPT), and the first result still comes from the smallest task.
- *Solo heap*: a retry that must run alone (`Placement.ALONE`) waits apart, offered
  last: it can start only when nothing else runs, and at the head of a size class it
  would block every task behind it. Aging brings it forward in bounded time.
- *Aging (bounded starvation)*: the *first in line* is the oldest queued task that is
  eligible now (light, solo, or heavy while the lane has room). Each pick that starts a
  different task counts one skip against it. Once it has `config.max_skips` skips it
  goes first; if it cannot be admitted (memory, or it must run alone) nothing else
  starts until it can, so running tasks drain and it gets in. Every other queued task
  is younger, so it becomes first in line in its turn: no task waits forever.

Cost: only the head of each heap is ever examined, so a pick is O(classes + log n);
10,000 queued tasks schedule in milliseconds. Removal (cancel) is lazy: the entry is
forgotten and skipped when it reaches the top of its heap.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable
from typing import Protocol

from imgpool.shared.config import PoolConfig, QueuePolicy
from imgpool.core.tasks import Lane, Placement, Task, TaskState

__all__ = ["Policy", "FifoPolicy", "SmartPolicy", "make_policy", "size_class",
           "SIZE_CLASS_LIMITS_MPIX"]

#: Upper bounds (megapixels of estimated work) of the light size classes; above the
#: last bound is one more class (up to the heavy threshold).
SIZE_CLASS_LIMITS_MPIX = (1.0, 4.0, 16.0)

Admit = Callable[[Task], bool]


class Policy(Protocol):
    def push(self, task: Task) -> None: ...
    def remove(self, task: Task) -> None: ...
    def pick(self, admit: Admit, soonest: bool = False) -> Task | None: ...
    def peek(self, soonest: bool = False) -> Task | None: ...
    def __len__(self) -> int: ...


def size_class(work_mpix: float) -> int:
    """0 for the smallest work, up to len(SIZE_CLASS_LIMITS_MPIX)."""
    return bisect_left(SIZE_CLASS_LIMITS_MPIX, work_mpix)


class _SeqHeap:
    """Tasks by submission order, with lazy removal against the policy's live set."""

    __slots__ = ("_heap", "_live")

    def __init__(self, live: dict[int, Task]) -> None:
        self._heap: list[tuple[float, int, int, Task]] = []
        self._live = live

    def _key(self, task: Task) -> float:
        return 0.0

    def push(self, task: Task) -> None:
        heapq.heappush(self._heap, (self._key(task), task.seq, task.task_id, task))

    def top(self) -> Task | None:
        heap, live = self._heap, self._live
        while heap and live.get(heap[0][2]) is not heap[0][3]:
            heapq.heappop(heap)  # removed (cancelled, or picked from another heap)
        return heap[0][3] if heap else None

    def pop(self) -> Task:
        return heapq.heappop(self._heap)[3]


class _WorkHeap(_SeqHeap):
    """Tasks by estimated work, the most first; submission order among equals."""

    __slots__ = ()

    def _key(self, task: Task) -> float:
        return -task.estimate.work_mpix


class FifoPolicy:
    """First in, first out; the head blocks the queue until it can be admitted."""

    def __init__(self, config: PoolConfig | None = None) -> None:
        self._live: dict[int, Task] = {}
        self._heap = _SeqHeap(self._live)

    def push(self, task: Task) -> None:
        self._live[task.task_id] = task
        self._heap.push(task)

    def remove(self, task: Task) -> None:
        self._live.pop(task.task_id, None)

    def pick(self, admit: Admit, soonest: bool = False) -> Task | None:
        head = self._heap.top()
        if head is None or not admit(head):
            return None
        self._heap.pop()
        del self._live[head.task_id]
        return head

    def peek(self, soonest: bool = False) -> Task | None:
        """What `pick` would hand out if every task were admissible; nothing changes."""
        return self._heap.top()

    def __len__(self) -> int:
        return len(self._live)


class SmartPolicy:
    """Size classes, small first, a heavy lane, aging after `max_skips` skips."""

    def __init__(self, config: PoolConfig) -> None:
        self._max_skips = config.max_skips
        self._lane_slots = config.heavy_lane_slots
        #: Heavy first only when another worker is left for the light tasks.
        self._heavy_first = config.pool_size > 1
        self._live: dict[int, Task] = {}
        self._light = [_SeqHeap(self._live) for _ in range(len(SIZE_CLASS_LIMITS_MPIX) + 1)]
        self._heavy = _SeqHeap(self._live)      # oldest first: first in line for aging
        #: The same heavy tasks, the most work first: what the lane offers (pool > 1).
        self._heavy_big = _WorkHeap(self._live)
        self._solo = _SeqHeap(self._live)
        #: Every light task again, the most work first: the big end (pool > 1 only).
        self._big = _WorkHeap(self._live)
        self._pool_size = config.pool_size
        self._picks = 0
        #: Heavy tasks this policy handed out; pruned to those still RUNNING on use.
        self._heavy_out: list[Task] = []

    def _heap_for(self, task: Task) -> _SeqHeap:
        if task.placement is Placement.ALONE:
            return self._solo
        if task.lane is Lane.HEAVY:
            return self._heavy
        return self._light[size_class(task.estimate.work_mpix)]

    def push(self, task: Task) -> None:
        self._live[task.task_id] = task
        heap = self._heap_for(task)
        heap.push(task)
        if not self._heavy_first or heap is self._solo:
            return
        (self._heavy_big if heap is self._heavy else self._big).push(task)

    def remove(self, task: Task) -> None:
        self._live.pop(task.task_id, None)

    def heavy_lane_has_room(self) -> bool:
        """Whether a heavy task may start: the lane has a free place, or no light or
        solo task waits for the workers the limit keeps."""
        if self._lane_slots == 0:
            return True
        self._heavy_out = [t for t in self._heavy_out if t.state is TaskState.RUNNING]
        if len(self._heavy_out) < self._lane_slots:
            return True
        return all(heap.top() is None for heap in (*self._light, self._solo))

    def _candidates(self, soonest: bool) -> list[tuple[_SeqHeap, Task]]:
        # Candidates in preference order: the heavy lane's head (if the lane has room; on a
        # one-worker pool, or for the batch's first pick, after the light classes); on the
        # big end's turn the largest light task; the head of each light class, smallest
        # class first; then the solo head.
        heavy: tuple[_SeqHeap, ...] = ()
        if self.heavy_lane_has_room():
            # The largest first; the oldest is a candidate too, for aging's first in line.
            heavy = (self._heavy_big, self._heavy) if self._heavy_first else (self._heavy,)
        if not (self._heavy_first and not soonest):
            order = (*self._light, *heavy, self._solo)
        elif self._picks % self._pool_size == 1:
            order = (*heavy, self._big, *self._light, self._solo)
        else:
            order = (*heavy, *self._light, self._solo)
        return [(heap, head) for heap in order if (head := heap.top()) is not None]

    def peek(self, soonest: bool = False) -> Task | None:
        """What `pick` would hand out if every task were admissible; nothing changes."""
        candidates = self._candidates(soonest)
        if not candidates:
            return None
        first = min(candidates, key=lambda c: c[1].seq)[1]
        return first if first.skips >= self._max_skips else candidates[0][1]

    def pick(self, admit: Admit, soonest: bool = False) -> Task | None:
        candidates = self._candidates(soonest)
        if not candidates:
            return None
        first = min(candidates, key=lambda c: c[1].seq)  # first in line
        if first[1].skips >= self._max_skips:
            # Aged: it goes now, or nothing does (so the running set drains for it).
            chosen = first if admit(first[1]) else None
        else:
            chosen = next((c for c in candidates if admit(c[1])), None)
        if chosen is None:
            return None
        heap, task = chosen
        heap.pop()
        del self._live[task.task_id]
        if task is not first[1]:
            first[1].skips += 1
        self._picks += 1
        if task.lane is Lane.HEAVY:
            self._heavy_out.append(task)
        return task

    def __len__(self) -> int:
        return len(self._live)


def make_policy(config: PoolConfig) -> Policy:
    """The policy `config.policy` names."""
    if config.policy is QueuePolicy.FIFO:
        return FifoPolicy(config)
    return SmartPolicy(config)
