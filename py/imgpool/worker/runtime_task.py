"""What one task holds in a worker: the embind handles it made (`Scope`, freed newest
first when the task ends), its input bytes (`Input`: an ArrayBuffer, or a File streamed
through a SourceCustom), and what loading learnt (`Loaded`). The lifetime rules are in
`runtime.py`'s docstring."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, to_js  # type: ignore[import-not-found]

from ..shared.decodepath import Decoder
from ..shared.reasons import FailureReason
from .errors import SNIFF_BYTES, ImageError

__all__ = ["js_obj", "js_global", "Scope", "Input", "Loaded", "read_file", "has_metadata",
           "page_count"]


@functools.cache
def js_global(path: str):
    """A JS global ("Atomics.store"), looked up once per worker. Reading a global through
    the `js` module costs ~0.45 ms in a worker (a kept reference: 0.008 ms a call, both
    measured in Chromium), and a task made a dozen such reads: its status-board writes and
    every options object. Never looked up at import: a memory snapshot is made after the
    imports and cannot carry a JS reference."""
    obj = js
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


def js_obj(d: dict[str, Any]):
    return to_js(d, dict_converter=js_global("Object.fromEntries"))


class Scope:
    """Owns the embind handles made while processing one image; `close` frees them."""

    def __init__(self, host) -> None:
        self.host = host
        self.handles: list = []
        self.sources: list = []

    def keep(self, handle):
        self.handles.append(handle)
        return handle

    def keep_source(self, source):
        self.sources.append(source)
        return self.keep(source)

    def close(self) -> None:
        self.host.unwatch()
        for handle in reversed(self.handles):
            try:
                if not handle.isDeleted():
                    handle.delete()
            except Exception:  # a handle that is already gone is fine
                pass
        self.handles.clear()
        for source in self.sources:
            self.host.closeFileSource(source)
        self.sources.clear()


@dataclass
class Input:
    """The image bytes: in a JS ArrayBuffer, or a File streamed through a SourceCustom."""

    size: int
    buffer: Any = None  # ArrayBuffer
    file: Any = None    # File (source="file")
    source: Any = None  # SourceCustom over `file`, when streamed

    def whole(self, host):
        """The input as one ArrayBuffer (HEIC, keep-original); reads the File if needed."""
        if self.buffer is None:
            self.buffer = read_file(host, self.file, 0, self.size)
        return self.buffer

    def read(self, host, start: int, end: int) -> bytes:
        """Bytes [start, end) of the input (a small range: error reports only)."""
        if self.buffer is not None:
            return self.buffer.slice(start, end).to_bytes()
        return read_file(host, self.file, start, end).to_bytes()

    def head(self, host) -> bytes:
        return self.read(host, 0, min(self.size, SNIFF_BYTES))

    def read_error(self, host) -> str:
        return str(host.fileSourceError(self.source)) if self.source is not None else ""


def read_file(host, file, start: int, end: int):
    try:
        return host.readSlice(file, start, end)
    except JsException as exc:
        raise ImageError(FailureReason.BAD_INPUT, f"the file could not be read ({exc}); was it moved, "
                                      f"deleted or changed?") from None


@dataclass
class Loaded:
    image: Any
    frames: int = 1
    note: str = ""  # learnt while loading (e.g. an animation the probe did not see)
    decoder: Decoder = Decoder.VIPS  # who decoded the pixels


def has_metadata(image) -> bool:
    """Whether the loaded image carries EXIF, XMP or IPTC from its file."""
    fields = image.getFields()
    try:
        names = [str(fields.get(i)) for i in range(int(fields.size()))]
    finally:
        fields.delete()
    return any(n in ("exif-data", "xmp-data", "iptc-data") for n in names)


def page_count(image) -> int:
    """Pages/frames in the file the image was loaded from (vips' n-pages), at least 1."""
    try:
        if int(image.getTypeof("n-pages")) != 0:
            return max(1, int(image.getInt("n-pages")))
    except JsException:
        pass
    return 1
