"""The worker adapter: with `runtime_load` (open, load, prepare), `runtime_quality`
(encoding for a goal) and `runtime_task` (what one task holds), the only modules in a
worker that touch `js` and wasm-vips.

`Worker` receives each message from the JS bootstrap (metadata as JSON text, the image as
an opaque ArrayBuffer or File), executes a `Plan` from `plan.py` with wasm-vips, and posts
the result back with the output buffer in the transfer list. Python never copies image
bytes: they go from the ArrayBuffer (or, streamed, from the File) into the wasm-vips heap
and out again as a new buffer.

One image, in stages: open the input, load it shrunk (`thumbnailBuffer`/`thumbnailSource`,
or libheif's pixels for HEIC), prepare it (flatten alpha, trim metadata), save it while
the progress hook watches, post. Every stage may raise `ImageError` (already classified)
or a `JsException` (classified by `errors.classify`); either way the task is answered
exactly once and the worker stays usable, unless the error says the wasm instance is gone
(oom, an abort), which the scheduler answers by replacing the worker.

Lifetime rules (proved by the leak test: after 200 images `vips.Stats.allocations()`,
vips' tracked memory, the live PyProxy count, the JS references Python holds, vips'
function table and the heap are back at their baseline):
- every embind handle a task makes (images, a SourceCustom) goes into the task's `Scope`
  and is `delete()`d in `finally`, newest first;
- the pipeline hands no Python callable to JS: progress is a JS function in the bootstrap
  (worker.js), set on the image being saved; the File reader is JS too;
- JsProxies are only ever held in locals of one task, never in a cycle, so refcounting
  releases them when the task ends (Pyodide has no destroy() for a JsProxy).

Input modes: `source="buffer"` is an ArrayBuffer moved here by the page; `source="file"`
is a File handle (the page sends those above its own threshold). Either way a large input
is never copied whole into the wasm heap: it reaches vips through a `SourceCustom` whose
reads (made by vips' threads, run on this one by wasm-vips) are served in worker.js, from
the ArrayBuffer or by synchronous slice reads of the File (FileReaderSync). Small
ArrayBuffers go in whole (`thumbnailBuffer`: no per-read hops). HEIC is the exception:
libheif needs the whole file, and its pixels enter vips as one array.

Progress and cancellation go through the status board (an Int32Array over a
SharedArrayBuffer): the progress hook stores progress there; the page stores the id of a
task to cancel, which the hook reads to set `image.kill` (cooperative cancel; the worker
stays alive). A running task blocks this thread, so a `stop` message could not be read
until the task ends: the board is how a cancel reaches it.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException  # type: ignore[import-not-found]

from ..shared import protocol as P
from ..shared.config import STREAM_BUFFER_ABOVE_BYTES
from ..shared.imageinfo import ImageInfo
from ..shared.options import MetadataPolicy, Options, OptionsError
from ..shared.plan import make_plan, resolve_format, same_size
from ..shared.variants import prepare_options
from ..shared.reasons import FailureReason
from .errors import (Classified, ImageError, classify, looks_truncated,
                     refine_damage, sniff)
from . import eager
from .faults import Abandoned, Faults, Stage, fire
from .runtime_quality import encode_for_goals, size_note
from .runtime_load import Loader
from .runtime_task import Input, Scope, has_metadata, js_global, js_obj
from .runtime_thumb import Thumbnailer
from .runtime_variants import SetResult, encode_set

__all__ = ["Worker"]

_CELL = {name: i for i, name in enumerate(P.BOARD_FIELDS)}


class _Cancelled(Exception):
    """The page cancelled the running task (seen on the board)."""


#: The JS globals a task calls (runtime_task.js_global), looked up once at Init.
PER_TASK_GLOBALS = ("Atomics.store", "Atomics.load", "Object.fromEntries")


class Worker:
    def __init__(self, vips, host) -> None:
        self.vips = vips
        self.host = host
        self.slot = -1
        self.gen = -1
        self.board = None
        self.tasks_done = 0
        self.faults = Faults()  # test-only (faults.py): empty unless the page's debug flag
        self.loader = Loader(vips, host)
        self.thumbnails = True   # the page's Init may turn them off (automation)
        self.thumbnailer = Thumbnailer(vips)

    # ---- message entry point ---------------------------------------------------------

    def handle_now(self, meta_json: str, payload, board):
        """`handle`, started in this call (not on the loop's next turn, ~1 ms later); the
        Task that finishes it when it waits on the browser, else None (eager.py)."""
        return eager.start(self.handle(meta_json, payload, board))

    async def handle(self, meta_json: str, payload, board) -> None:
        msg = P.decode(json.loads(meta_json))
        if isinstance(msg, P.Init):
            self._init(msg, board)
        elif isinstance(msg, P.RunTask):
            await self._run(msg, payload)
        elif isinstance(msg, P.StatsRequest):
            self._post(self._stats())
        # StopTask arriving while idle: the task already ended; nothing to do.

    def _init(self, msg: P.Init, board) -> None:
        self.slot, self.gen = msg.slot, msg.gen
        self.board = board
        if board is not None:
            self.host.setBoard(board, self.slot, self.gen, P.BOARD_STRIDE, json.dumps(_CELL))
        self.faults = Faults.from_init(msg.debug_faults, msg.debug_hang, msg.debug_crash)
        self.loader.stream_above = msg.stream_buffer_above or STREAM_BUFFER_ABOVE_BYTES
        self.thumbnails = msg.thumbnails
        for name in PER_TASK_GLOBALS:   # held from now on: no task adds a JS reference
            js_global(name)
        counters = json.loads(self.host.counters())
        self._board_set("state", P.BoardState.IDLE)
        self._post(P.Ready(
            slot=self.slot, gen=self.gen, init_ms=round(self.host.bootMs(), 1),
            vips_version=str(self.vips.version()), python_version=sys.version.split()[0],
            vips_inits=counters["vipsInits"], pyodide_inits=counters["pyodideInits"],
            boot_path=counters.get("bootPath", ""), boot_note=counters.get("bootNote", ""),
            precompiled=counters.get("precompiled", [])))

    # ---- one image ---------------------------------------------------------------------

    async def _run(self, msg: P.RunTask, payload) -> None:
        started = self.host.now()
        self._board_set("task_id", msg.task_id)
        self._board_set("progress_permille", 0)
        self._board_set("state", P.BoardState.BUSY)
        scope = Scope(self.host)
        inp: Input | None = None
        info: ImageInfo | None = None
        highwater_before = int(self.vips.Stats.memHighwater())
        self.host.resetMemPeak()
        try:
            self._fault(Stage.START, msg)
            options = Options.from_dict(msg.options)
            info = ImageInfo.from_dict(msg.info)
            plan = make_plan(prepare_options(options, resolve_format(options, info))
                             if options.responsive else options, info)
            self._fault(Stage.DECODE, msg)
            inp = self.loader.open(msg, payload, info, scope)
            loaded = await self.loader.load(plan, info, inp, msg, scope, self._check_cancel)
            self._check_cancel(msg.task_id)
            self._fault(Stage.RESIZE, msg)
            image = self.loader.prepare(plan, loaded.image, scope)
            self._fault(Stage.ENCODE, msg)
            made, encoded = self._encode(options, plan, info, inp, loaded, image,
                                         msg.task_id, scope)
            # From the encoded bytes (they move to the page with the result): now.
            thumbnail = self.thumbnails and msg.thumbnail   # its row is in view (page's call)
            thumb = (self.thumbnailer.make(encoded, None, scope)
                     if thumbnail and made.pixels is None else None)
            problem = inp.read_error(self.host)
            if problem:
                raise ImageError(FailureReason.BAD_INPUT, f"the file could not be read "
                                 f"({problem}); was it moved, deleted or changed?")
            if isinstance(made, SetResult):
                done, buffer, variants = self._set_result(msg, plan, inp, loaded, made)
            else:
                done, buffer = self._result(msg, options, plan, info, inp, loaded, image, made,
                                            scope)
                variants = None
            self._fault(Stage.TRANSFER, msg)
            self.tasks_done += 1
            self._post(dataclasses.replace(
                done, elapsed_ms=round(self.host.now() - started, 1), heap_bytes=self._heap(),
                mem_highwater_bytes=self._task_peak(highwater_before)),
                transfer=buffer, variants=variants)
            # After the result: the page hands this worker its next image while the
            # thumbnail is made (nothing below awaits, so that message waits its turn).
            if thumbnail and made.pixels is not None:
                thumb = self.thumbnailer.make(None, made.pixels, scope)
            if thumb is not None:
                self._post(P.Thumbnail(slot=self.slot, gen=self.gen, task_id=msg.task_id,
                                       thumb_bytes=int(thumb.byteLength)), thumb=thumb)
        except Abandoned:
            return  # a test-only fault: this worker is going away and answers nothing
        except _Cancelled:
            self._post(P.TaskCancelledMsg(slot=self.slot, gen=self.gen, task_id=msg.task_id))
        except OptionsError as exc:
            self._fail(msg.task_id, FailureReason.BAD_INPUT, f"invalid options: {exc}")
        except ImageError as exc:
            c = self._explain(Classified(exc.reason, exc.message, exc.message), "", inp, info)
            self._fail(msg.task_id, c.reason, c.message)
        except JsException as exc:
            if self._cancel_requested(msg.task_id):
                self._post(P.TaskCancelledMsg(slot=self.slot, gen=self.gen,
                                              task_id=msg.task_id))
            else:
                text = str(exc)
                c = self._explain(classify(text), text, inp, info)
                self._fail(msg.task_id, c.reason, c.message)
        finally:
            scope.close()
            self._board_set("state", P.BoardState.IDLE)
            self._board_set("tasks_done", self.tasks_done)
            self._board_set("heap_mib", self._heap() // (1024 * 1024))

    def _result(self, msg: P.RunTask, options: Options, plan, info: ImageInfo, inp: Input,
                loaded, image, goal, scope: Scope) -> tuple[P.TaskDoneMsg, object]:
        """The result to post and its bytes: the encoded output, or the original when it
        is smaller, the same size and carries nothing the policy strips."""
        width, height = int(image.width), int(image.height) // loaded.frames
        notes = list(plan.notes) + ([loaded.note] if loaded.note else []) + goal.notes
        buffer, fmt, kept = goal.out.buffer, plan.output.value, False
        if (plan.keep_original_if_larger and int(goal.out.byteLength) >= inp.size
                and same_size(info, options, width, height)):
            if plan.metadata is not MetadataPolicy.ALL and has_metadata(
                    self.loader.original_header(loaded, inp, scope)):
                # The original would bring back what the user asked to strip (GPS...).
                notes.append("the original is smaller but carries metadata the "
                             "policy removes, so it was not kept")
            else:
                buffer, fmt, kept = inp.whole(self.host), info.format.value, True
                notes.append("kept the original (result was larger)")
        elif plan.keep_original_if_larger and int(goal.out.byteLength) >= inp.size:
            # A resized (or reshaped) image cannot be swapped for its original: say why
            # a bigger file came out.
            notes.append("larger than the original, which was not kept: it is not the "
                         "size asked for")
        notes += filter(None, [size_note(options, inp.size, int(buffer.byteLength),
                                         goal.quality)])
        done = P.TaskDoneMsg(
            slot=self.slot, gen=self.gen, task_id=msg.task_id, width=width, height=height,
            format=fmt, in_bytes=inp.size, out_bytes=int(buffer.byteLength), elapsed_ms=0.0,
            heap_bytes=0, mem_highwater_bytes=0, frames=loaded.frames,
            note="; ".join(notes), kept_original=kept, streamed=inp.source is not None,
            quality=0 if kept else goal.quality, ssim=None if kept else goal.score,
            encodes=goal.encodes, decoder=loaded.decoder.value)
        return done, buffer

    def _encode(self, options: Options, plan, info: ImageInfo, inp: Input, loaded, image,
                task_id: int, scope: Scope):
        """Encode as the options ask: one output (maybe searched for a goal) or a
        responsive set. Returns the GoalResult or SetResult and the bytes to thumbnail."""
        watched = lambda im, action: self._watched(im, task_id, action)  # noqa: E731
        if options.responsive:
            made = encode_set(self.vips, self.loader, options, info, image, inp.size,
                              watched, scope)
            return made, None          # its thumbnail comes from made.pixels, after the post
        goal = encode_for_goals(self.vips, options, plan, image, loaded.frames, inp.size,
                                watched, scope)
        return goal, goal.out

    def _set_result(self, msg: P.RunTask, plan, inp: Input, loaded,
                    made: SetResult) -> tuple[P.TaskDoneMsg, object, list]:
        """A responsive set's result, its first file's bytes and every file's: the files
        in `outputs`, the first one's facts on top (protocol.TaskDoneMsg). A set never
        falls back to the original."""
        first = made.outputs[0]
        notes = list(plan.notes) + ([loaded.note] if loaded.note else []) + made.notes
        buffers = [b.buffer for b in made.buffers]
        return P.TaskDoneMsg(
            slot=self.slot, gen=self.gen, task_id=msg.task_id, width=first.width,
            height=first.height, format=first.format, in_bytes=inp.size,
            out_bytes=made.total_bytes, elapsed_ms=0.0, heap_bytes=0, mem_highwater_bytes=0,
            note="; ".join(notes), streamed=inp.source is not None, quality=first.quality,
            ssim=first.ssim, encodes=made.encodes, decoder=loaded.decoder.value,
            outputs=made.outputs), buffers[0], buffers

    def _fault(self, stage: Stage, msg: P.RunTask) -> None:
        """Test-only: inject the fault the page's debug flag asked for here, if any."""
        kind = self.faults.at(stage, msg.name) if self.faults else None
        if kind is not None:
            fire(kind, js, self.vips)

    def _watched(self, image, task_id: int, action):
        """`action()` (which computes `image`: a save, a copy) with the progress hook on
        the image: progress and a cancel reach it. `image` None: nothing to compute (an
        encode of pixels in memory); only the cancel check after it."""
        if image is not None:
            self.host.watch(image, task_id)
        try:
            out = action()
        finally:
            self.host.unwatch()
        if image is not None:
            # Every pixel is computed. vips' last progress call can stop short of 100 %
            # (seen at 42 % after a copyMemory), and a task resting below the heartbeat's
            # mark while its encoder runs would look hung.
            self._board_set("progress_permille", 1000)
        self._check_cancel(task_id)
        return out

    def _explain(self, c: Classified, text: str, inp: Input | None,
                 info: ImageInfo | None) -> Classified:
        """Make a classified error specific to this file: unrecognised data is named
        from its first bytes, damage is told apart as truncated or corrupt from the
        file's own structure."""
        problem = inp.read_error(self.host) if inp is not None else ""
        if problem:
            return Classified(FailureReason.BAD_INPUT, f"the file could not be read ({problem}); was it "
                                           f"moved, deleted or changed?")
        if inp is None:
            return c
        try:
            if c.reason == FailureReason.UNSUPPORTED and "known format" in text:
                return sniff(inp.head(self.host)) or c
            if c.reason == FailureReason.BAD_INPUT and info is not None:
                return refine_damage(c, looks_truncated(info.format.value, inp.size,
                                                        lambda a, b: inp.read(self.host, a, b)))
        except ImageError:
            pass  # the file cannot be read again: keep what vips said
        return c

    # ---- status board, heap and stats ---------------------------------------------------

    def _check_cancel(self, task_id: int) -> None:
        if self._cancel_requested(task_id):
            raise _Cancelled()

    def _cancel_requested(self, task_id: int) -> bool:
        if self.board is None:
            return False
        base = self.slot * P.BOARD_STRIDE
        return int(js_global("Atomics.load")(self.board, base + _CELL["cancel_task_id"])) \
            == task_id

    def _board_set(self, name: str, value: int) -> None:
        if self.board is not None and self.slot >= 0:
            js_global("Atomics.store")(self.board, self.slot * P.BOARD_STRIDE + _CELL[name],
                                       int(value))

    def _heap(self) -> int:
        return int(self.host.heapBytes())

    def _task_peak(self, highwater_before: int) -> int:
        """Peak vips-tracked memory of this task: exact when it raised the worker's
        all-time high-water mark, else the highest sample the progress hook took."""
        highwater = int(self.vips.Stats.memHighwater())
        if highwater > highwater_before:
            return highwater
        return int(self.host.memPeak())

    def _stats(self) -> P.StatsReply:
        counters = json.loads(self.host.counters())
        proxies = json.loads(self.host.proxyCounts())
        s = self.vips.Stats
        return P.StatsReply(
            slot=self.slot, gen=self.gen, vips_allocations=int(s.allocations()),
            vips_mem=int(s.mem()), vips_mem_highwater=int(s.memHighwater()),
            vips_files=int(s.files()), heap_bytes=self._heap(),
            live_proxies=proxies["py_proxies"], tasks_done=self.tasks_done,
            vips_inits=counters["vipsInits"], pyodide_inits=counters["pyodideInits"],
            transfers=counters["transfers"], detached_after_post=counters["detachedAfterPost"],
            js_refs=proxies["js_refs"], heif_inits=counters["heifInits"],
            streamed_reads=counters["streamedReads"], source_calls=counters["sourceCalls"],
            table_size=counters["tableSize"], browser_decodes=counters["browserDecodes"],
            browser_refusals=counters["browserRefusals"])

    def _fail(self, task_id: int, reason: FailureReason, message: str) -> None:
        self._post(P.TaskFailedMsg(slot=self.slot, gen=self.gen, task_id=task_id,
                                   reason=reason, message=message, heap_bytes=self._heap()))

    def _post(self, msg: P.Message, transfer=None, thumb=None, variants=None) -> None:
        self.host.post(json.dumps(msg.to_message()), transfer, thumb,
                       js_obj(variants) if variants else None)
