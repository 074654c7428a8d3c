"""imgpool.core: the page's sans-IO scheduler. Standard library and `imgpool.shared` only;
no clock, no I/O, no `js`. Runs in the page only (workers and host never import it).

Layout (each module opens with its theory of operation):
- `estimate`: decoded memory and work of a task; per-format calibration.
- `deadline`: how long a running task may take (a prior per encoder, learned rates).
- `tasks`: `Task`, its state table, `FailureReason`, `TaskResult`, failure messages.
- `slots`: the worker-slot state table, `Slot`, the staggered start queue, diagrams.
- `policy`: which queued task runs next (FIFO, smart: size classes, heavy lane, aging).
- `inputs`: what the adapter tells the core (`Start`, `Submit`, `WorkerReady`,
  `TaskFinished`, `TaskErrored`, `Tick`, ...); `events` / `commands`: what the core
  reports / asks its adapter to do.
- `stats`: batch statistics.
- `pool`: `WorkerPool`, the life of every worker slot: staggered starts, start timeouts,
  replace, recycle, retire, retry pins, the circuit breaker.
- `taskbook`: the tasks, the queue and the running set; queue, settle, retry.
- `admission`: refuse at submit or queue; dispatch within the memory budget.
- `firstresult`: a batch's small first image runs alone, for a bounded time.
- `failures`: failure classification (what a failure means for task and worker);
  `recovery` carries it out; `cancellation`: the cancel ladder.
- `scheduler`: `Scheduler`, which owns all of the above: `handle(now, input)` ->
  commands, its one entry point.
"""

from imgpool.core.commands import (Command, Dispatch, Emit, SetTimer, StartWorker, StopTask,
                                   TerminateWorker)
from imgpool.core.deadline import DeadlineModel
from imgpool.core.estimate import Estimate, MemoryCalibration, estimate
from imgpool.core.events import (TERMINAL_EVENTS, BatchFinished, BreakerTripped, Event,
                                 TaskCancelled, TaskDone, TaskFailed, TaskProgress,
                                 TaskQueued, TaskStarted, WorkerStateChanged)
from imgpool.core.inputs import (Cancel, CancelAll, Input, Shutdown, Start, Submission, Submit,
                                 TaskErrored, TaskFinished, TaskProgressed, TaskStopped, Tick,
                                 WorkerCrashed, WorkerReady, WorkerStartFailed)
from imgpool.core.policy import FifoPolicy, Policy, SmartPolicy, make_policy
from imgpool.core.pool import PoolState
from imgpool.core.scheduler import Scheduler
from imgpool.core.slots import (SLOT_TRANSITIONS, Slot, SlotEvent, SlotState,
                                SlotTransitionError, slot_diagram)
from imgpool.core.stats import BatchStats
from imgpool.core.tasks import (TASK_TRANSITIONS, FailureReason, Task, TaskEvent, TaskResult,
                                TaskState, TaskTransitionError)

__all__ = [
    # the scheduler and what it says
    "Scheduler", "PoolState",
    "Input", "Start", "Submit", "Submission", "Tick", "Cancel", "CancelAll", "Shutdown",
    "WorkerReady", "WorkerStartFailed", "WorkerCrashed", "TaskProgressed", "TaskFinished",
    "TaskErrored", "TaskStopped",
    "Command", "StartWorker", "Dispatch", "StopTask", "TerminateWorker", "SetTimer", "Emit",
    "Event", "TaskQueued", "TaskStarted", "TaskProgress", "TaskDone", "TaskFailed",
    "TaskCancelled", "WorkerStateChanged", "BreakerTripped", "BatchFinished",
    "TERMINAL_EVENTS", "BatchStats",
    # tasks and slots
    "Task", "TaskState", "TaskEvent", "TASK_TRANSITIONS", "TaskTransitionError",
    "FailureReason", "TaskResult",
    "Slot", "SlotState", "SlotEvent", "SLOT_TRANSITIONS", "SlotTransitionError",
    "slot_diagram",
    # inputs and costs
    "Estimate", "estimate", "DeadlineModel",
    "MemoryCalibration",
    # queue policies
    "Policy", "FifoPolicy", "SmartPolicy", "make_policy",
]
