"""Getting one image into vips: the input opened (buffer, File, or a stream of either),
loaded shrunk (`thumbnailBuffer`/`thumbnailSource`, or a JPEG loaded at half size first
where `plan.load_shrink` says so; libheif's pixels for HEIC; the
browser's pixels where `plan.decoder` says so, falling back to vips for a file the browser
refuses), and prepared for the encoder (alpha flattened, metadata trimmed to the policy).

Part of the worker adapter (`runtime.py` runs the task around it); only the `runtime*`
modules of a worker touch wasm-vips. Every handle made here goes into the task's `Scope`.
"""

from __future__ import annotations

from typing import Callable

from ..shared import protocol as P
from ..shared.config import STREAM_BUFFER_ABOVE_BYTES, PoolConfig
from ..shared.decodepath import MIME_TYPES, Decoder
from ..shared.imageinfo import ImageFormat, ImageInfo
from ..shared.options import MetadataPolicy
from ..shared.plan import COPYRIGHT_FIELDS, Plan, first_frame_note
from ..shared.reasons import FailureReason
from .errors import ImageError, looks_truncated
from .runtime_task import Input, Loaded, Scope, js_obj, page_count, read_file

__all__ = ["Loader", "STREAMED_FORMATS"]

#: Formats vips reads from a `SourceCustom` (everything but HEIC, which libheif decodes
#: from one buffer). UNKNOWN too: vips sniffs the source itself.
STREAMED_FORMATS = frozenset(f for f in ImageFormat if f is not ImageFormat.HEIC)
#: Pixel limit for images whose size the probe could not read (the page's own check
#: needs the header); the same default as the pool's.
DEFAULT_MAX_PIXELS = PoolConfig.max_pixels



class Loader:
    """Opens, loads and prepares one image at a time for the worker's task."""

    def __init__(self, vips, host) -> None:
        self.vips = vips
        self.host = host
        self.stream_above = STREAM_BUFFER_ABOVE_BYTES  # the page may set its own (Init)
        self._sequential = js_obj({"access": "sequential"})   # made once: used per task

    def open(self, msg: P.RunTask, payload, info: ImageInfo, scope: Scope) -> Input:
        if payload is None:
            raise ImageError(FailureReason.BAD_INPUT, "no image data reached the worker")
        if msg.source == "file":
            size = int(payload.size)
            if size == 0:
                # The page never sends an empty file: this one changed since it was
                # picked (a File for a deleted file arrives here with size 0).
                raise ImageError(FailureReason.BAD_INPUT, "the file could not be read: it is empty now; "
                                              "was it moved, deleted or changed after it "
                                              "was added?")
            if info.format in STREAMED_FORMATS:
                source = scope.keep_source(self.host.openFileSource(payload))
                return Input(size=size, file=payload, source=source)
            return Input(size=size, file=payload, buffer=read_file(self.host, payload, 0, size))
        size = int(payload.byteLength)
        if size == 0:
            raise ImageError(FailureReason.BAD_INPUT, "the file is empty")
        if size >= self.stream_above and info.format in STREAMED_FORMATS:
            source = scope.keep_source(self.host.openFileSource(payload))
            return Input(size=size, buffer=payload, source=source)
        return Input(size=size, buffer=payload)

    async def load(self, plan: Plan, info: ImageInfo, inp: Input, msg: P.RunTask,
                   scope: Scope, check_cancel: Callable[[int], None]) -> Loaded:
        vips = self.vips
        if info.format is ImageFormat.HEIC:
            pixels = await self._decode_heic(inp.whole(self.host))
            check_cancel(msg.task_id)
            return Loaded(self._from_pixels(plan, pixels, scope))
        if plan.decoder is Decoder.BROWSER:
            loaded = await self._load_in_browser(plan, info, inp, scope)
            check_cancel(msg.task_id)
            if loaded is not None:
                return loaded
        if info.pixels is None:
            self._check_pixels(inp, msg, scope)
        if plan.load_shrink > 1:
            image = self._load_shrunk(plan, inp, scope)
        elif inp.source is not None:
            image = scope.keep(vips.Image.thumbnailSource(inp.source, plan.thumb_width,
                                                          js_obj(plan.thumb_options)))
        else:
            image = scope.keep(vips.Image.thumbnailBuffer(inp.buffer, plan.thumb_width,
                                                          js_obj(plan.thumb_options)))
        frames, pages = 1, page_count(image)
        if plan.keep_frames:
            page_h = int(image.pageHeight or image.height)
            frames = max(1, int(image.height) // max(1, page_h))
        note = ""
        if pages > 1 and frames == 1 and (info.frames or 1) <= 1:
            # The probe saw one frame (or could not count them in the head it read):
            # the loader knows better.
            note = first_frame_note(plan.animated, plan.output, pages)
        return Loaded(image, frames, note)

    def _load_shrunk(self, plan: Plan, inp: Input, scope: Scope):
        """A JPEG decoded at 1/plan.load_shrink of its size, then resized as `thumbnail`
        would (loadshrink.py: thumbnail itself would decode it whole)."""
        Image, options = self.vips.Image, plan.load_option_string
        if inp.source is not None:
            shrunk = scope.keep(Image.newFromSource(inp.source, options, self._sequential))
        else:
            shrunk = scope.keep(Image.newFromBuffer(inp.buffer, options, self._sequential))
        width, resize = plan.shrunk_resize()
        return scope.keep(shrunk.thumbnailImage(width, js_obj(resize)))

    async def _load_in_browser(self, plan: Plan, info: ImageInfo, inp: Input,
                               scope: Scope) -> Loaded | None:
        """The browser's pixels, resized by vips; None when the browser refused the file
        or decoded another size than the header says (the caller then uses vips)."""
        if looks_truncated(info.format.value, inp.size, lambda a, b: inp.read(self.host, a, b)):
            # Browsers show a truncated file's first part; vips reports it as truncated.
            return None
        decoded = await self.host.decodeInBrowser(
            inp.file if inp.file is not None else inp.buffer, MIME_TYPES[info.format])
        if str(decoded.error or ""):
            return None  # vips decodes it, or reports what is wrong with it
        width, height = info.width, info.height
        if info.orientation in (5, 6, 7, 8):
            width, height = height, width
        if (int(decoded.width), int(decoded.height)) != (width, height):
            return None
        return Loaded(self._from_pixels(plan, decoded, scope), decoder=Decoder.BROWSER)

    def original_header(self, loaded: Loaded, inp: Input, scope: Scope):
        """An image whose fields are the original file's (EXIF, XMP, ICC): the loaded
        image itself, or, for browser-decoded pixels (which carry none), the file's
        header read by vips without decoding pixels."""
        if loaded.decoder is Decoder.VIPS:
            return loaded.image
        return scope.keep(self.vips.Image.newFromBuffer(
            inp.whole(self.host), "", self._sequential))

    def _check_pixels(self, inp: Input, msg: P.RunTask, scope: Scope) -> None:
        """The probe could not read the size: read the header (vips loads lazily) and
        refuse a decompression bomb before any pixel is decoded."""
        if inp.source is not None:
            return  # a header read would consume the stream; the wasm heap limit holds
        header = scope.keep(self.vips.Image.newFromBuffer(inp.buffer, "",
                                                          self._sequential))
        width, height = int(header.width), int(header.height)
        limit = msg.max_pixels or DEFAULT_MAX_PIXELS
        if width * height > limit:
            raise ImageError(FailureReason.TOO_LARGE, f"{width} x {height} pixels is more than the "
                                          f"{limit / 1e6:.0f} MP limit")

    async def _decode_heic(self, data):
        """HEVC-in-HEIF: wasm-vips has no HEVC decoder, so the optional libheif decoder
        (loaded on first use) gives pixels that enter the same pipeline. The bootstrap
        resolves with `{error}` rather than rejecting: a rejected promise awaited here
        leaves an exception/frame cycle holding JS references until the cyclic GC runs."""
        decoded = await self.host.decodeHeic(data)
        error = str(decoded.error or "")
        if not error:
            return decoded
        if "memory" in error.lower() or "allocation" in error.lower():
            raise ImageError(FailureReason.OOM, f"ran out of memory decoding this HEIC photo ({error})")
        raise ImageError(FailureReason.BAD_INPUT, f"the HEIC photo could not be decoded ({error})")

    def _from_pixels(self, plan: Plan, decoded, scope: Scope):
        vips = self.vips
        pixels = scope.keep(vips.Image.newFromMemory(
            decoded.rgba, int(decoded.width), int(decoded.height), 4, "uchar"))
        if not decoded.alpha:
            pixels = scope.keep(pixels.extractBand(0, js_obj({"n": 3})))
        # The pixels are upright (libheif applied irot/imir; the browser path takes only
        # frames it need not turn) and carry no EXIF, so nothing is rotated twice.
        return scope.keep(pixels.thumbnailImage(plan.thumb_width, js_obj(plan.resize_options)))

    def prepare(self, plan: Plan, image, scope: Scope):
        if plan.flatten_rgb is not None and image.hasAlpha():
            rgb = list(plan.flatten_rgb)
            if int(image.bands) <= 2 and len(set(rgb)) > 1:
                # Grey with alpha on a coloured background: flatten in RGB.
                image = scope.keep(image.colourspace(
                    "rgb16" if str(image.format) == "ushort" else "srgb"))
            if int(image.bands) <= 2:
                rgb = rgb[:1]
            if str(image.format) == "ushort":
                rgb = [c * 257 for c in rgb]  # 16-bit samples: scale the 8-bit colour
            image = scope.keep(image.flatten(js_obj({"background": rgb})))
        if plan.metadata is MetadataPolicy.COPYRIGHT:
            image = scope.keep(image.copy())
            fields = image.getFields()
            try:
                for i in range(int(fields.size())):
                    name = str(fields.get(i))
                    if (name.startswith(("exif-", "xmp-", "iptc-"))
                            and name not in COPYRIGHT_FIELDS and name != "exif-data"):
                        image.remove(name)
            finally:
                fields.delete()
        return image
