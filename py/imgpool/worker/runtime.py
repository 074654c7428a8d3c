"""The worker adapter: the only module in a worker that touches `js` and wasm-vips.

`Worker` receives each message from the JS bootstrap (metadata as JSON text, the image as
an opaque ArrayBuffer or File), executes a `Plan` from `plan.py` with wasm-vips, and posts
the result back with the output buffer in the transfer list. Python never copies image
bytes: they go from the ArrayBuffer into the wasm-vips heap and out again as a new buffer.

Lifetime rules (proved by the leak test: after 200 images `vips.Stats.allocations()` and
the live proxy count are back at their baseline):
- every vips object a task makes is recorded in a `_Scope` and `delete()`d in `finally`;
- every Python callable handed to JS (progress callback) is a tracked proxy, destroyed in
  the same scope.

Progress and cancellation go through the status board (an Int32Array over a
SharedArrayBuffer): the worker stores progress there; the page stores the id of a task to
cancel, which the progress callback reads to set `image.kill` (cooperative cancel; the
worker stays alive). A running task blocks this thread, so a `stop` message could not be
read until the task ends: the board is how a cancel reaches it.
"""

from __future__ import annotations

import json
import sys

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, create_proxy, to_js  # type: ignore[import-not-found]

from .. import protocol as P
from ..core.imageinfo import ImageFormat, ImageInfo
from ..options import MetadataPolicy, Options, OptionsError
from .errors import ImageError, classify
from .plan import COPYRIGHT_FIELDS, Plan, make_plan

__all__ = ["Worker"]

_CELL = {name: i for i, name in enumerate(P.BOARD_FIELDS)}


def _js_obj(d: dict):
    return to_js(d, dict_converter=js.Object.fromEntries)


class _Scope:
    """Owns the vips objects and proxies made while processing one image."""

    def __init__(self, ledger: "_ProxyLedger") -> None:
        self.ledger = ledger
        self.images: list = []
        self.proxies: list = []

    def keep(self, image):
        self.images.append(image)
        return image

    def proxy(self, fn):
        p = create_proxy(fn)
        self.proxies.append(p)
        self.ledger.live += 1
        return p

    def close(self) -> None:
        for image in reversed(self.images):
            try:
                if not image.isDeleted():
                    image.delete()
            except Exception:  # a handle that is already gone is fine
                pass
        self.images.clear()
        for p in self.proxies:
            p.destroy()
            self.ledger.live -= 1
        self.proxies.clear()


class _ProxyLedger:
    live = 0


class _Cancelled(Exception):
    pass


class Worker:
    def __init__(self, vips, host) -> None:
        self.vips = vips
        self.host = host
        self.slot = -1
        self.gen = -1
        self.board = None
        self.tasks_done = 0
        self.debug_hang: set[str] = set()
        self.debug_crash: set[str] = set()
        self.ledger = _ProxyLedger()

    # ---- message entry point ---------------------------------------------------------

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
        self.debug_hang = set(msg.debug_hang)
        self.debug_crash = set(msg.debug_crash)
        counters = json.loads(self.host.counters())
        self._board_set("state", P.BoardState.IDLE)
        self._post(P.Ready(
            slot=self.slot, gen=self.gen, init_ms=round(self.host.bootMs(), 1),
            vips_version=str(self.vips.version()), python_version=sys.version.split()[0],
            vips_inits=counters["vipsInits"], pyodide_inits=counters["pyodideInits"]))

    # ---- one image ---------------------------------------------------------------------

    async def _run(self, msg: P.RunTask, payload) -> None:
        started = self.host.now()
        self._board_set("task_id", msg.task_id)
        self._board_set("progress_permille", 0)
        self._board_set("state", P.BoardState.BUSY)
        if msg.name in self.debug_hang:
            return  # test-only: never answer; the scheduler's deadline must catch this
        if msg.name in self.debug_crash:
            js.eval("setTimeout(() => { throw new Error('debug crash requested'); }, 0)")
            return
        scope = _Scope(self.ledger)
        try:
            options = Options.from_dict(msg.options)
            info = ImageInfo.from_dict(msg.info)
            plan = make_plan(options, info)
            data = self._input_buffer(msg, payload)
            in_bytes = int(data.byteLength)
            decoded = await self._decode_heic(data) if info.format is ImageFormat.HEIC else None
            out, image, frames = self._process(plan, data, decoded, msg.task_id, scope)
            width, height = int(image.width), int(image.height)
            note = "; ".join(plan.notes)
            kept = False
            if plan.keep_original_if_larger and int(out.byteLength) >= in_bytes:
                out, kept = data, True
                note = "; ".join(filter(None, [note, "kept the original (result was larger)"]))
            buffer = out if kept else out.buffer
            self.tasks_done += 1
            heap = self._heap()
            self._post(P.TaskDoneMsg(
                slot=self.slot, gen=self.gen, task_id=msg.task_id, width=width,
                height=height, format=info.format.value if kept else plan.output.value,
                in_bytes=in_bytes, out_bytes=int(buffer.byteLength),
                elapsed_ms=round(self.host.now() - started, 1), heap_bytes=heap,
                mem_highwater_bytes=int(self.vips.Stats.memHighwater()), frames=frames,
                note=note, kept_original=kept), transfer=buffer)
        except _Cancelled:
            self._post(P.TaskCancelledMsg(slot=self.slot, gen=self.gen, task_id=msg.task_id))
        except OptionsError as exc:
            self._fail(msg.task_id, "bad_input", f"invalid options: {exc}")
        except ImageError as exc:
            self._fail(msg.task_id, exc.reason, exc.message)
        except JsException as exc:
            if self._cancel_requested(msg.task_id):
                self._post(P.TaskCancelledMsg(slot=self.slot, gen=self.gen,
                                              task_id=msg.task_id))
            else:
                c = classify(str(exc))
                self._fail(msg.task_id, c.reason, c.message)
        finally:
            scope.close()
            self._board_set("state", P.BoardState.IDLE)
            self._board_set("tasks_done", self.tasks_done)
            self._board_set("heap_mib", self._heap() // (1024 * 1024))

    def _input_buffer(self, msg: P.RunTask, payload):
        if payload is None:
            raise ImageError("bad_input", "no image data reached the worker")
        if msg.source == "file":
            size = int(payload.size)
            return self.host.readSlice(payload, 0, size)
        if int(payload.byteLength) == 0:
            raise ImageError("bad_input", "file is empty")
        return payload

    async def _decode_heic(self, data):
        """HEVC-in-HEIF: wasm-vips has no HEVC decoder, so the optional libheif decoder
        (loaded on first use) gives RGBA pixels that enter the same pipeline."""
        try:
            return await self.host.decodeHeic(data)
        except JsException as exc:
            raise ImageError("bad_input", f"the HEIC photo could not be decoded ({exc})") from None

    def _process(self, plan: Plan, data, decoded, task_id: int, scope: _Scope):
        vips = self.vips
        if decoded is not None:
            pixels = scope.keep(vips.Image.newFromMemory(
                decoded.rgba, int(decoded.width), int(decoded.height), 4, "uchar"))
            opts = {k: v for k, v in plan.thumb_options.items()
                    if k not in ("option_string", "fail_on")}
            image = scope.keep(pixels.thumbnailImage(plan.thumb_width, _js_obj(opts)))
        else:
            image = scope.keep(vips.Image.thumbnailBuffer(
                data, plan.thumb_width, _js_obj(plan.thumb_options)))
        frames = 1
        if plan.keep_frames:
            page_h = int(image.pageHeight or image.height)
            frames = max(1, int(image.height) // max(1, page_h))
        if plan.flatten_rgb is not None and image.hasAlpha():
            image = scope.keep(image.flatten(_js_obj({"background": list(plan.flatten_rgb)})))
        if plan.metadata is MetadataPolicy.COPYRIGHT:
            image = scope.keep(image.copy())
            fields = image.getFields()
            for i in range(int(fields.size())):
                name = str(fields.get(i))
                if name.startswith(("exif-", "xmp-", "iptc-")) and name not in COPYRIGHT_FIELDS \
                        and name != "exif-data":
                    image.remove(name)
            fields.delete()
        image.onProgress = scope.proxy(lambda percent: self._on_progress(image, task_id,
                                                                          percent))
        out = image.writeToBuffer(plan.suffix, _js_obj(plan.save_options))
        if self._cancel_requested(task_id):
            raise _Cancelled()
        if plan.keep_frames:
            frames = max(frames, 1)
        return out, _Size(image, frames), frames

    def _on_progress(self, image, task_id: int, percent) -> None:
        self._board_set("progress_permille", int(percent) * 10)
        self._board_beat()
        if self._cancel_requested(task_id):
            image.kill = True

    # ---- status board, heap and stats ---------------------------------------------------

    def _cancel_requested(self, task_id: int) -> bool:
        if self.board is None:
            return False
        base = self.slot * P.BOARD_STRIDE
        return int(js.Atomics.load(self.board, base + _CELL["cancel_task_id"])) == task_id

    def _board_set(self, name: str, value: int) -> None:
        if self.board is not None and self.slot >= 0:
            js.Atomics.store(self.board, self.slot * P.BOARD_STRIDE + _CELL[name], int(value))

    def _board_beat(self) -> None:
        if self.board is not None and self.slot >= 0:
            js.Atomics.add(self.board, self.slot * P.BOARD_STRIDE + _CELL["beat"], 1)

    def _heap(self) -> int:
        return int(self.host.heapBytes())

    def _stats(self) -> P.StatsReply:
        counters = json.loads(self.host.counters())
        s = self.vips.Stats
        return P.StatsReply(
            slot=self.slot, gen=self.gen, vips_allocations=int(s.allocations()),
            vips_mem=int(s.mem()), vips_mem_highwater=int(s.memHighwater()),
            vips_files=int(s.files()), heap_bytes=self._heap(),
            live_proxies=self.ledger.live, tasks_done=self.tasks_done,
            vips_inits=counters["vipsInits"], pyodide_inits=counters["pyodideInits"],
            transfers=counters["transfers"], detached_after_post=counters["detachedAfterPost"])

    def _fail(self, task_id: int, reason: str, message: str) -> None:
        self._post(P.TaskFailedMsg(slot=self.slot, gen=self.gen, task_id=task_id,
                                   reason=reason, message=message, heap_bytes=self._heap()))

    def _post(self, msg: P.Message, transfer=None) -> None:
        self.host.post(json.dumps(msg.to_message()), transfer)


class _Size:
    """Width and height of the saved image, per frame for animations."""

    def __init__(self, image, frames: int) -> None:
        self.width = int(image.width)
        self.height = int(image.height) // max(1, frames)
