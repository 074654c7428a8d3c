"""JPEG XL, bare codestream or ISO BMFF container: size, orientation-applied dimensions,
animation, bit depth, extra channels (alpha) and grey from the codestream header.

libjxl applies the codestream orientation before libvips sees the pixels, so width and
height are the displayed size and no orientation is reported.  The header is read with an
LSB-first bit reader from at most :data:`_MAX_HEADER` bytes; the container's ``jxlc`` or
``jxlp`` boxes are joined up to that much first.
"""

from __future__ import annotations

from .bmff import MAX_BOXES, boxes
from .facts import Facts, depth

__all__ = ["CODESTREAM_MAGIC", "CONTAINER_MAGIC", "parse_codestream", "parse_container"]

CODESTREAM_MAGIC = b"\xff\x0a"
CONTAINER_MAGIC = b"\x00\x00\x00\x0cJXL \r\n\x87\n"

#: Codestream bytes handed to the header reader at most.
_MAX_HEADER = 16 * 1024
_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}
_SIZE = ((9, 1), (13, 1), (18, 1), (30, 1))


class _Bits:
    """LSB-first bit reader."""

    __slots__ = ("d", "pos", "end")

    def __init__(self, d: bytes, start_byte: int = 0) -> None:
        self.d = d
        self.pos = start_byte * 8
        self.end = len(d) * 8

    def u(self, n: int) -> int:
        if self.pos + n > self.end:
            raise EOFError("short JPEG XL header")
        v = 0
        p = self.pos
        for i in range(n):
            v |= ((self.d[(p + i) >> 3] >> ((p + i) & 7)) & 1) << i
        self.pos = p + n
        return v

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise EOFError("short JPEG XL header")
        self.pos += n

    def bool(self) -> bool:
        return self.u(1) == 1

    def u32(self, *dists) -> int:
        """U32 with four distributions, each an int (Val) or (bits, offset)."""
        dist = dists[self.u(2)]
        if isinstance(dist, int):
            return dist
        bits, offset = dist
        return self.u(bits) + offset

    def enum(self) -> int:
        return self.u32(0, 1, (4, 2), (6, 18))


def _size(br: _Bits) -> tuple[int, int]:
    small = br.bool()
    if small:
        ysize = 8 * (br.u(5) + 1)
    else:
        ysize = br.u32(*_SIZE)
    ratio = br.u(3)
    if ratio == 0:
        xsize = 8 * (br.u(5) + 1) if small else br.u32(*_SIZE)
    else:
        num, den = _RATIOS[ratio]
        xsize = ysize * num // den
    return xsize, ysize


def _bit_depth(br: _Bits) -> tuple[int, int]:
    if br.bool():                                    # float samples
        bits = br.u32(32, 16, 24, (6, 1))
        exp = br.u(4) + 1
    else:
        bits = br.u32(8, 10, 12, (6, 1))
        exp = 0
    return bits, exp


def parse_codestream(d: bytes, complete: bool, f: Facts) -> None:
    if d[:2] != CODESTREAM_MAGIC:
        return
    br = _Bits(d[:_MAX_HEADER], 2)
    xsize, ysize = _size(br)
    # ImageMetadata
    orientation = 1
    animated = False
    all_default = br.bool()
    if not all_default and br.bool():                # extra_fields
        orientation = br.u(3) + 1
        if br.bool():                                # have_intrinsic_size
            _size(br)
        if br.bool():                                # have_preview
            div8 = br.bool()
            pdist = (16, 32, (5, 1), (9, 33)) if div8 else ((6, 1), (8, 65), (10, 321), (12, 1345))
            br.u32(*pdist)
            if br.u(3) == 0:
                br.u32(*pdist)
        animated = br.bool()                         # have_animation
    # libjxl applies the orientation before libvips sees the pixels.
    if orientation > 4:
        xsize, ysize = ysize, xsize
    f.width, f.height = xsize, ysize
    f.frames = None if animated else 1
    bits, extra, alpha, grey = 8, 0, False, False
    if not all_default:
        bits, extra, alpha, grey = _samples(br, animated)
    f.bit_depth = depth(bits)
    f.bands = (1 if grey else 3) + extra
    f.has_alpha = alpha


def _samples(br: _Bits, animated: bool) -> tuple[int, int, bool, bool]:
    """The rest of ImageMetadata: (bits, extra channels, alpha, grey)."""
    if animated:
        br.u32(100, 1000, (10, 1), (30, 1))         # tps_numerator
        br.u32(1, 1001, (8, 1), (10, 1))            # tps_denominator
        br.u32(0, (3, 0), (16, 0), (32, 0))         # num_loops
        br.bool()                                   # have_timecodes
    bits, _exp = _bit_depth(br)
    br.bool()                                        # modular_16_bit_buffer_sufficient
    extra = br.u32(0, 1, (4, 2), (12, 1))
    if extra > 256:
        raise ValueError("implausible extra channel count")
    alpha = False
    for _ in range(extra):
        if br.bool():                                # d_alpha: default alpha channel
            alpha = True
            continue
        ctype = br.enum()
        _bit_depth(br)
        br.u32(0, 3, 4, (3, 1))                      # dim_shift
        name_len = br.u32(0, (4, 0), (5, 16), (10, 48))
        br.skip(8 * name_len)                        # name (UTF-8)
        if ctype == 0:
            alpha = True
            br.bool()                                # alpha_associated
        elif ctype == 2:
            br.skip(64)                              # spot colour: 4 x F16
        elif ctype == 5:
            br.u32(1, (2, 0), (4, 3), (8, 19))       # cfa_channel
    br.bool()                                        # xyb_encoded
    grey = False
    if not br.bool():                                # colour_encoding.all_default
        br.bool()                                    # want_icc
        grey = br.enum() == 1                        # colour_space: 0 RGB, 1 grey
    return bits, extra, alpha, grey


def parse_container(d: bytes, complete: bool, f: Facts) -> None:
    budget = [MAX_BOXES]
    parts: list[bytes] = []
    have = 0
    for btype, body, end in boxes(d, 0, len(d), budget):
        if btype == b"jxlc":
            parts.append(d[body:min(end, body + _MAX_HEADER)])
            break
        if btype == b"jxlp":
            chunk = d[body + 4:min(end, len(d))]
            parts.append(chunk)
            have += len(chunk)
            if have >= _MAX_HEADER or end > len(d):
                break
    cs = b"".join(parts)
    if cs[:2] == CODESTREAM_MAGIC:
        parse_codestream(cs, complete, f)
