"""The page adapter: runs the sans-IO scheduler in the browser's main thread.

It is the only page module that talks to JavaScript, and it does so through one object,
the *port* (web/page/port.js): events in (`add_files`, `on_message`, `on_worker_error`,
`tick`, `cancel`), commands out (`startWorker`, `dispatch`, `stopTask`,
`terminateWorker`, `setTimer`, `emit`). Everything crossing is a number, a JSON string or
an opaque JS handle (File, ArrayBuffer) that Python holds but never reads: image bytes never
enter Python here, only the small head slice the probe needs.

The clock is read here, once per event, and passed into the core (`now`).
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

from ..core import commands as C
from ..core import events as E
from ..core import inputs as I
from ..core.inputs import Submission
from ..core.scheduler import Scheduler
from ..shared import protocol as P
from ..shared.config import (PROBE_BYTES, STREAM_ABOVE_BYTES, SUBMIT_CHUNK, THUMB_PX,
                             THUMB_QUALITY, PoolConfig, overrides_from_query)
from ..shared.options import Options, OptionsError, field_errors
from ..shared.plain import plain
from ..shared.probe import HEAD_BYTES, probe
from ..shared.reasons import FailureReason
from .form import form_errors, form_schema
from .intake import TaskSkipped, is_skipped
from .messages import to_input
from .picture import picture_snippet
from .sameas import DropPlacer, Twins, copy_event
from .plainwords import SKIPPED_NOT_IMAGE, plain_failure

__all__ = ["App", "config_from_query"]

def config_from_query(search: str, hardware_concurrency, device_memory_gb) -> PoolConfig:
    """PoolConfig from the hardware hints and URL overrides like ?workers=4&policy=fifo."""
    params = {k: v[-1] for k, v in parse_qs(search.lstrip("?")).items()}
    return PoolConfig.from_hardware(int(hardware_concurrency or 1),
                                    float(device_memory_gb or 0) or None,
                                    **overrides_from_query(params))


def _debug_names(params: dict, kind: str) -> list[str]:
    # Test-only fault injection, honoured only with the explicit `debug` flag.
    if "debug" not in params:
        return []
    return [n for v in params.get(kind, []) for n in v.split(",") if n]


class App:
    def __init__(self, port, search: str, hardware_concurrency, device_memory_gb,
                 thumbnails: bool = True) -> None:
        """`thumbnails`: have the workers make each result's list thumbnail (not when a
        runner drives the page: nobody sees the list)."""
        self.port = port
        self.thumbnails = bool(thumbnails)
        params = parse_qs(str(search).lstrip("?"))
        self.config = config_from_query(str(search), hardware_concurrency, device_memory_gb)
        self.debug_hang = _debug_names(params, "hang")
        self.debug_crash = _debug_names(params, "crash")
        self.debug_faults = _debug_names(params, "fault")  # stage:kind:name (worker/faults.py)
        self.scheduler = Scheduler(self.config)
        self.options = Options()
        self.files: dict[int, object] = {}   # task_id -> File (JS handle)
        self.names: dict[int, tuple[str, int]] = {}
        self.outputs: dict[int, object] = {}  # task_id -> result ArrayBuffer (JS handle)
        #: task_id -> a responsive set's files and their ArrayBuffers (a JS array)
        self.sets: dict[int, tuple[list[P.SetOutput], object]] = {}
        self.twins = Twins()                  # copies waiting on originals; output stems
        self.next_task_id = 1
        self._ahead: int | None = None        # the task whose input the port reads ahead
        self._carry_out = {C.StartWorker: self._start_worker, C.Dispatch: self._dispatch,
                           C.StopTask: self._stop_task,
                           C.TerminateWorker: self._terminate_worker,
                           C.SetTimer: self._set_timer,
                           C.Emit: lambda cmd: self._emit(cmd.event)}
        port.makeBoard(self.config.pool_size, json.dumps(
            {"fields": list(P.BOARD_FIELDS), "busy": P.BoardState.BUSY,
             "booting": P.BoardState.BOOTING}))

    # ---- events in ---------------------------------------------------------------------

    def start(self) -> None:
        self._handle(I.Start())

    def set_options(self, options_json: str) -> str:
        """Validate the form's options; returns an error message or ""."""
        try:
            self.options = Options.from_dict(json.loads(options_json))
        except OptionsError as exc:
            return str(exc)
        return ""

    def page_setup_json(self) -> str:
        """What the page's UI needs once at boot: the settings form's fields, defaults,
        choices and limits (imgpool.page.form), how many workers the pool has and the
        list thumbnails' size."""
        return json.dumps({"form": form_schema(), "pool_size": self.config.pool_size,
                           "thumb": {"px": THUMB_PX, "quality": THUMB_QUALITY}})

    def check_options(self, options_json: str) -> str:
        """Every problem with the form's values, as JSON {field: message}; {} when valid."""
        return json.dumps(form_errors(field_errors(json.loads(options_json))))

    async def add_files(self, files, options_json: str | None = None,
                        skip_non_images: bool = True) -> str:
        """Probe each file's header, then queue them in chunks with one `submit_many`
        per chunk, so the policy sees the chunk whole (small first, whatever the order
        of the drop). Only a head slice of each file is read here. Files that are not
        images are skipped (a `task_skipped` event each), not failed, unless
        `skip_non_images` is false (automation: every file it names gets a verdict).

        Returns "" when the files were taken, or why none was: invalid options are
        never replaced by older ones behind the person's back."""
        options = self.options
        if options_json:
            try:
                options = Options.from_dict(json.loads(options_json))
            except OptionsError as exc:
                return f"no files were added: {exc}"
        chunk: list[Submission] = []
        placer = DropPlacer(self.twins)
        for file in files:
            name = str(getattr(file, "imgpoolPath", None) or file.webkitRelativePath or file.name)
            size = int(file.size)
            info = await self._probe(file, name, size)
            task_id = self.next_task_id
            self.next_task_id += 1
            if skip_non_images and is_skipped(name, info):
                self.port.emit(json.dumps(
                    TaskSkipped(task_id, name, size, SKIPPED_NOT_IMAGE).to_dict()), None, file)
                continue
            self.files[task_id] = file
            self.names[task_id] = (name, size)
            digest = getattr(file, "imgpoolSha256", None) if options.dedupe else None
            copy = placer.place(task_id, name, size, str(digest) if digest else None, info,
                                options)
            if copy is not None:                 # runs with its original (page/sameas.py)
                self.port.emit(json.dumps(copy.to_dict()), None, file)
                continue
            chunk.append(Submission(task_id, name, size, info, options))
            if len(chunk) >= SUBMIT_CHUNK:
                self._handle(I.Submit(tuple(chunk)))
                chunk = []
                # Let the browser paint and handle input before the next chunk is probed.
                await asyncio.sleep(0)
        if chunk:
            self._handle(I.Submit(tuple(chunk)))
        return ""

    async def _probe(self, file, name: str, size: int):
        """Probe from a small head; read a larger one only when the header lies deeper
        (a JPEG whose EXIF/maker notes push the frame header past the first slice)."""
        head = b""
        if size:
            head = (await self.port.readHead(file, min(size, PROBE_BYTES))).to_bytes()
        info = probe(head, size, name)
        if info.known and info.width is None and size > len(head):
            head = (await self.port.readHead(file, min(size, HEAD_BYTES))).to_bytes()
            info = probe(head, size, name)
        return info

    def on_message(self, slot: int, gen: int, meta_json: str, output,
                   variants=None) -> None:
        """A worker's message; `output` its result's bytes and `variants` a responsive
        set's (JS handles, never read here)."""
        try:
            msg = P.decode(json.loads(meta_json))
            event = to_input(msg, slot, gen)
        except P.ProtocolError as exc:
            self._handle(I.WorkerCrashed(slot, gen, str(exc)))
            return
        if isinstance(event, I.TaskFinished):
            self.outputs[event.task_id] = output  # handed on with the TaskDone event
            if isinstance(msg, P.TaskDoneMsg) and msg.outputs:
                self.sets[event.task_id] = (msg.outputs, variants)
        elif isinstance(event, I.TaskStopped):
            self.port.clearCancel(slot)
        self._handle(event)
        if isinstance(event, I.TaskFinished):
            self.outputs.pop(event.task_id, None)  # still here: a stale reply, dropped
            self.sets.pop(event.task_id, None)

    def on_progress(self, slot: int, gen: int, task_id: int, fraction: float) -> None:
        self._handle(I.TaskProgressed(slot, gen, int(task_id), float(fraction)))

    def on_worker_error(self, slot: int, gen: int, message: str) -> None:
        self._handle(I.WorkerCrashed(slot, gen, str(message)))

    def on_read_error(self, slot: int, gen: int, task_id: int, message: str) -> None:
        self._handle(I.TaskErrored(
            slot, gen, task_id, FailureReason.BAD_INPUT,
            f"the file could not be read ({message}); was it moved or deleted?"))

    def tick(self) -> None:
        self._handle(I.Tick())

    def cancel(self, task_id: int) -> None:
        if self.twins.forget_copy(int(task_id)):   # a copy: it waits for nothing now
            self._emit_copy({"type": "task_cancelled"}, int(task_id), None)
            return
        self._handle(I.Cancel(int(task_id)))

    def cancel_all(self) -> None:
        self._handle(I.CancelAll())

    def shutdown(self) -> None:
        self._handle(I.Shutdown())

    def summary_json(self) -> str:
        s = self.scheduler
        return json.dumps({
            "config": self.config.to_dict(),
            "queued": s.queued, "running": s.running,
            "stats": s.stats.to_dict(),
            "slots": [{"slot": sl.slot_id, "gen": sl.generation, "state": sl.state.value,
                       "tasks_done": sl.tasks_done} for sl in s.slots],
        })

    # ---- commands out ------------------------------------------------------------------

    def _now(self) -> float:
        return float(self.port.now())

    def _handle(self, event: I.Input) -> None:
        self._run(self.scheduler.handle(self._now(), event))
        self._read_ahead()

    def _read_ahead(self) -> None:
        """Have the port read the input of the task likely dispatched next, so a worker
        that frees up gets its next image at once instead of waiting for the read (5.8 ms
        for a 0.3 MB file, 23-29 ms for 2-6 MB photos, measured in the page)."""
        task_id = self.scheduler.next_up
        if task_id is not None and self._source(task_id) == "file":
            task_id = None    # the worker reads that one itself
        if task_id != self._ahead:
            self._ahead = task_id
            self.port.readAhead(task_id, None if task_id is None else self.files[task_id])

    def _run(self, commands: list) -> None:
        # A worker that finished waits for its next image while the page runs, so the
        # step's dispatches go out first (a result's row update costs ~1-2 ms), then the
        # rest in its order. Only dispatches: a started worker may re-enter Python at once
        # (a spare's held messages), after its own events. Not when this step queued
        # files: a dispatched file's row (made by its task_queued) comes first.
        if not any(isinstance(c, C.Emit) and isinstance(c.event, E.TaskQueued)
                   for c in commands):
            commands = sorted(commands, key=lambda c: not isinstance(c, C.Dispatch))
        for cmd in commands:
            self._carry_out[type(cmd)](cmd)

    def _start_worker(self, cmd: C.StartWorker) -> None:
        init = P.Init(slot=cmd.slot_id, gen=cmd.generation, debug_hang=self.debug_hang,
                      debug_crash=self.debug_crash, debug_faults=self.debug_faults,
                      thumbnails=self.thumbnails)
        self.port.startWorker(cmd.slot_id, cmd.generation, json.dumps(init.to_message()))

    def _stop_task(self, cmd: C.StopTask) -> None:
        stop = P.StopTask(slot=cmd.slot_id, gen=cmd.generation, task_id=cmd.task_id)
        self.port.stopTask(cmd.slot_id, cmd.generation, cmd.task_id,
                           json.dumps(stop.to_message()))

    def _terminate_worker(self, cmd: C.TerminateWorker) -> None:
        self.port.terminateWorker(cmd.slot_id)

    def _set_timer(self, cmd: C.SetTimer) -> None:
        if cmd.at is None:
            self.port.clearTimer()
        else:
            self.port.setTimer(max(0.0, (cmd.at - self._now()) * 1000.0))

    def _dispatch(self, cmd) -> None:
        task = self.scheduler.tasks[cmd.task_id]
        name = self.names[cmd.task_id][0]
        source = self._source(cmd.task_id)
        run = P.RunTask(slot=cmd.slot_id, gen=cmd.generation, task_id=cmd.task_id, name=name,
                        options=task.options.to_dict(), info=task.info.to_dict(), source=source,
                        thumbnail=self.thumbnails and bool(self.port.wantsThumb(cmd.task_id)))
        self.port.dispatch(cmd.slot_id, cmd.generation, json.dumps(run.to_message()),
                           self.files[cmd.task_id], source)

    def _source(self, task_id: int) -> str:
        """How a task's input goes to its worker: read here into a moved ArrayBuffer
        ("buffer"), or above STREAM_ABOVE_BYTES as the File handle ("file")."""
        return "file" if self.names[task_id][1] > STREAM_ABOVE_BYTES else "buffer"

    def _emit(self, event) -> None:
        data = event.to_dict()
        task_id = data.get("task_id")
        output = file = buffers = None
        if task_id is not None and task_id in self.names:
            data["name"], data["size_bytes"] = self.names[task_id]
        if isinstance(event, E.TaskDone):
            output = self.outputs.pop(task_id, None)
            described, buffers = self.sets.pop(task_id, ([], None))
            data["output_name"] = self.twins.output_name(
                task_id, data.get("name", ""), event.result.format,
                _kept(event.result.note))
            if described:
                self._set_event(data, task_id, [plain(o) for o in described])
        elif isinstance(event, E.TaskFailed):
            data["plain"] = plain_failure(event.reason, event.message)
        if isinstance(event, (E.TaskQueued, E.TaskFailed)):
            file = self.files.get(task_id)  # the page keeps it for re-runs and comparing
        if isinstance(event, (E.TaskDone, E.TaskFailed, E.TaskCancelled)):
            self.files.pop(task_id, None)  # release the File handle
        self.port.emit(json.dumps(data), output, file, buffers)
        if isinstance(event, (E.TaskDone, E.TaskFailed, E.TaskCancelled)):
            for copy in self.twins.settle(task_id):
                self._emit_copy(data, copy, output, buffers)

    def _set_files(self, task_id: int, name: str, files: list[dict]) -> list[dict]:
        """A set's files, each with its output name (the task's stem + its suffix)."""
        names = self.twins.set_names(task_id, name, [f["suffix"] for f in files])
        return [{**f, "output_name": n} for f, n in zip(files, names)]

    def _set_event(self, data: dict, task_id: int, files: list[dict]) -> None:
        """Give a done event its set: the files, named, and the `<picture>` markup."""
        data["variants"] = self._set_files(task_id, data.get("name", ""), files)
        data["output_name"] = data["variants"][0]["output_name"]
        data["snippet"] = picture_snippet(data.get("name", ""), data["variants"])

    def _emit_copy(self, original: dict, copy: int, output, buffers=None) -> None:
        """Settle a copy as its original settled (the same result bytes, its own name)."""
        name, size = self.names.get(copy, ("", 0))
        result = original.get("result") or {}
        out_name = self.twins.output_name(copy, name, str(result.get("format", "")),
                                          _kept(str(result.get("note", ""))))
        event = copy_event(original, copy, name, size, out_name)
        if original.get("variants"):
            self._set_event(event, copy, original["variants"])
        self.twins.stems.pop(copy, None)
        self.files.pop(copy, None)       # the row got the File with its first event
        self.port.emit(json.dumps(event), output, None, buffers)


def _kept(note: str) -> bool:
    """The worker kept the original (its note says so; the UI reads the same words)."""
    return "kept the original" in note

