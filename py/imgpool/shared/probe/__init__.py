"""Header probe: format, size, bands, frames and orientation from the first bytes of a file.

Pure Python, standard library only (it runs inside Pyodide), Python 3.11+.

The page reads a slice of at most :data:`HEAD_BYTES` from each dropped file and calls
:func:`probe` on it, so that the scheduler knows roughly what an image costs before the
file is read whole.  The typical case needs far less than the slice: a few hundred bytes
for PNG, GIF, WebP, JPEG XL and SVG, the EXIF segment plus a few bytes for JPEG, the
``meta`` box for HEIF/AVIF, the first IFD for TIFF.

Layout: ``registry.py`` picks a parser by magic bytes; one module per container format
(``jpeg``, ``png``, ``gif``, ``webp``, ``tiff``, ``isobmff`` + ``heifmeta`` for HEIF/AVIF,
``jxl``, ``svg``) fills a typed :class:`~.facts.Facts`; ``exif.py`` (TIFF IFDs) and
``bmff.py`` (ISO BMFF boxes) are the structures several formats share.

Rules the parsers keep:

* Detection is by magic bytes only.  The file name is used for one thing: an ``.svg`` /
  ``.svgz`` name lets an XML-looking head whose root element lies beyond the head count
  as SVG (with unknown size).
* A field is set only when the header says so; anything the head does not reach, or that
  is corrupt, stays ``None`` (never a guess).  A truncated head gives the fields that were
  complete before the cut.
* Values describe what libvips decodes (``bands``: a palette PNG is 3 bands, 4 with
  ``tRNS``; a GIF is 3 or 4; HEIF/AVIF are always RGB(A); ...).  ``bit_depth`` is the
  coded bits per sample, with sub-byte depths (1, 2, 4) reported as 8 because every
  decoder expands them; a consumer estimating memory should round up to whole bytes
  (10 or 12 bits take 2 bytes).
* HEIF/AVIF (``irot``/``imir``/``clap``) and JPEG XL (codestream orientation) are
  transformed by their decoders (libheif, libjxl) before libvips sees the pixels, so for
  them ``width``/``height`` are the *displayed* size and ``orientation`` is ``None``.  For
  JPEG/PNG/WebP/TIFF, ``width``/``height`` are the stored size and ``orientation`` is the
  EXIF/TIFF tag that an auto-rotate step still has to apply.
* ``icc`` is True when the file embeds an ICC profile, False only when every place one
  could be has been read, None otherwise.
* :func:`probe` never raises: any exception inside a parser keeps what was learned until
  then.  Every loop has a hard bound, so hostile input cannot spin.
"""

from __future__ import annotations

from ..imageinfo import ImageFormat, ImageInfo, UNKNOWN
from . import svg
from .facts import Facts
from .registry import sniff

__all__ = ["HEAD_BYTES", "probe", "sniff_format"]

#: How many leading bytes callers should pass to :func:`probe` (the page slices this much).
HEAD_BYTES = 256 * 1024


def probe(head: bytes, file_size: int | None = None, name: str | None = None) -> ImageInfo:
    """What the first bytes of an image file say about it.

    :param head: the first bytes of the file (pass ``file[:HEAD_BYTES]``); a whole small
        file is fine.  ``bytes``, ``bytearray`` and ``memoryview`` are accepted.
    :param file_size: the size of the whole file, if known.  When the head holds the whole
        file, counts that need the end of the file (GIF frames) become final.
    :param name: the file name; only a last hint for SVG (see module doc).
    :returns: an :class:`ImageInfo`; :data:`UNKNOWN` when the format is not recognised.
        Never raises.
    """
    try:
        data = bytes(memoryview(head))      # any bytes-like object; not an int or a str
    except Exception:
        return UNKNOWN
    try:
        complete = file_size is not None and 0 <= int(file_size) <= len(data)
    except Exception:
        complete = False
    try:
        found = sniff(data)
    except Exception:
        return UNKNOWN
    if found is None:
        return svg.name_hint(data, name)
    fmt, parser = found
    facts = Facts(format=fmt)
    try:
        parser(data, complete, facts)
    except Exception:
        pass  # keep whatever was final before the failure
    return facts.to_info()


def sniff_format(head: bytes) -> ImageFormat:
    """The format from magic bytes alone (cheap); ``UNKNOWN`` when not recognised."""
    try:
        found = sniff(bytes(memoryview(head)))
    except Exception:
        return ImageFormat.UNKNOWN
    return found[0] if found is not None else ImageFormat.UNKNOWN
