"""Native libvips (pyvips + pyvips-binary): the practical upper bound on this CPU.

The operation is the app's own: `plan_for` runs the header probe and `make_plan` from
`imgpool.shared.plan` (pure Python, the code the workers run), so the thumbnail and saver
arguments here are exactly the ones the browser's wasm-vips gets. Each image runs on one
libvips thread (`concurrency_set(1)`, as on the web, where `vips.concurrency()` is 1) and
images run in N Python threads at once (pyvips releases the GIL in libvips calls): the
same parallelism as a pool of N workers. The operation cache is off (`cache_set_max(0)`),
as in the workers.

`psnr` compares two encoded images at the reference's size (RGB, alpha flattened onto
white), the quality figure beside each pipeline's speed.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from imgpool.shared.probe import HEAD_BYTES, probe
from imgpool.shared.options import Options
from imgpool.shared.plan import make_plan

__all__ = ["plan_for", "reference_psnrs", "run_native", "native_stages", "psnr",
           "libvips_version", "quality_bar"]

#: How far below native libvips' own encoder (same settings, same reference) a
#: pipeline's output may fall, in dB of PSNR against the reference, on every photo.
QUALITY_BAR_DB = 0.5


def plan_for(path: Path, options: Options) -> dict:
    """The app's plan for this file, as plain values (for JS and for pyvips)."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    plan = make_plan(options, probe(head, path.stat().st_size, path.name))
    return {"thumb_width": plan.thumb_width, "thumb_options": dict(plan.thumb_options),
            "suffix": plan.suffix, "save_options": dict(plan.save_options),
            "flatten_rgb": list(plan.flatten_rgb) if plan.flatten_rgb else None,
            "load_shrink": plan.load_shrink, "load_option_string": plan.load_option_string,
            "shrunk_resize": plan.shrunk_resize()}


def _vips():
    import pyvips

    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)
    return pyvips


def libvips_version() -> str:
    pyvips = _vips()
    return ".".join(str(pyvips.version(i)) for i in range(3))


def _thumb(pyvips, data: bytes, plan: dict, colour: bool = True, whole: bool = False):
    """The plan's decode and resize. `whole`: decoded as `thumbnail` alone would (never
    the plan's extra JPEG shrink-on-load): what the quality bar compares against."""
    shrunk = plan["load_shrink"] > 1 and not whole   # as the worker's loader (runtime_load.py)
    width, options = plan["shrunk_resize"] if shrunk else (plan["thumb_width"],
                                                            plan["thumb_options"])
    if not colour:
        options = {k: v for k, v in options.items() if k not in ("output_profile", "intent")}
    if shrunk:
        loaded = pyvips.Image.new_from_buffer(data, plan["load_option_string"],
                                              access="sequential")
        image = loaded.thumbnail_image(width, **options)
    else:
        image = pyvips.Image.thumbnail_buffer(data, width, **options)
    if plan["flatten_rgb"] and image.hasalpha():
        image = image.flatten(background=plan["flatten_rgb"])
    return image


def _one(pyvips, path: Path, plan: dict) -> tuple[bytes | None, float | None, str]:
    """(output, ms, error): a file native libvips cannot read (a HEIC without an HEVC
    decoder, say) is counted as failed, not fatal."""
    t = time.perf_counter()
    try:
        data = path.read_bytes()
        out = _thumb(pyvips, data, plan).write_to_buffer(plan["suffix"], **plan["save_options"])
    except (pyvips.Error, OSError) as exc:
        return None, None, f"{path.name}: {str(exc).strip().splitlines()[0][:200]}"
    return out, (time.perf_counter() - t) * 1000, ""


def run_native(paths: list[Path], plans: list[dict], threads: int) -> dict:
    """Process every file with `threads` at once; wall time, per-image ms, outputs."""
    pyvips = _vips()
    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(lambda pp: _one(pyvips, *pp), zip(paths, plans)))
    wall = time.perf_counter() - t
    return {"wall_s": wall, "elapsed_ms": [ms for _, ms, _ in results],
            "outputs": [out for out, _, _ in results],
            "errors": [err for _, _, err in results if err]}


def native_stages(paths: list[Path], plans: list[dict]) -> list[dict]:
    """One at a time: decode+resize (to memory) apart from encode, then fused, then fused
    without colour management (no output_profile/intent)."""
    pyvips = _vips()
    out = []
    for path, plan in zip(paths, plans):
        data = path.read_bytes()
        try:
            _thumb(pyvips, data, plan)
        except pyvips.Error:
            continue                    # run_native has reported it
        t = time.perf_counter()
        mem = _thumb(pyvips, data, plan).copy_memory()
        t1 = time.perf_counter()
        mem.write_to_buffer(plan["suffix"], **plan["save_options"])
        t2 = time.perf_counter()
        _thumb(pyvips, data, plan).write_to_buffer(plan["suffix"], **plan["save_options"])
        t3 = time.perf_counter()
        _thumb(pyvips, data, plan, colour=False).write_to_buffer(plan["suffix"],
                                                                 **plan["save_options"])
        t4 = time.perf_counter()
        out.append({"name": path.name, "decode_resize_ms": (t1 - t) * 1000,
                    "encode_ms": (t2 - t1) * 1000, "fused_ms": (t3 - t2) * 1000,
                    "no_colour_ms": (t4 - t3) * 1000})
    return out


def psnr(reference: bytes, candidate: bytes) -> float | None:
    """PSNR (dB) of `candidate` against `reference`, at the reference's size; None when
    identical; NaN when either cannot be decoded."""
    pyvips = _vips()
    try:
        ref = _rgb(pyvips, pyvips.Image.new_from_buffer(reference, ""))
        cand = _rgb(pyvips, pyvips.Image.new_from_buffer(candidate, ""))
    except pyvips.Error:
        return math.nan
    return _psnr_images(pyvips, ref, cand)


def _reference(pyvips, path: Path, plan: dict):
    """The quality bar's reference: native libvips' resize to sRGB, never encoded."""
    image = pyvips.Image.thumbnail(str(path), plan["thumb_width"],
                                   height=plan["thumb_options"]["height"], size="down",
                                   export_profile="srgb", intent="perceptual")
    return _rgb(pyvips, image).copy_memory()


def quality_bar(paths: list[Path], plans: list[dict], native: dict[str, bytes],
                pipelines: dict[str, dict[str, bytes]]) -> dict:
    """Per photo: each pipeline's PSNR against the reference, and how far it falls below
    native libvips' own encoder at the same settings (`margin_db`, positive = worse).
    A pipeline holds the bar when every photo's margin is at most QUALITY_BAR_DB."""
    pyvips = _vips()
    rows, worst = [], {name: None for name in pipelines}
    for path, plan in zip(paths, plans):
        if path.name not in native:
            continue
        try:
            ref = _reference(pyvips, path, plan)
            # Native libvips' own encoder on its own whole decode: a plan that decodes a
            # JPEG at half size is held to what a whole decode reaches.
            own = _thumb(pyvips, path.read_bytes(), plan, whole=True).write_to_buffer(
                plan["suffix"], **plan["save_options"])
            base = _psnr_of(pyvips, ref, own)
        except pyvips.Error:
            continue
        row = {"name": path.name, "native_db": _db(base)}
        for name, outputs in pipelines.items():
            data = outputs.get(path.name)
            if data is None:
                continue
            got = _psnr_of(pyvips, ref, data)
            margin = round((base or 99.0) - (got or 99.0), 2)
            row[f"{name}_db"], row[f"{name}_margin_db"] = _db(got), margin
            worst[name] = margin if worst[name] is None else max(worst[name], margin)
        rows.append(row)
    return {"bar_db": QUALITY_BAR_DB, "per_image": rows, "worst_margin_db": worst,
            "holds": {k: (v is not None and v <= QUALITY_BAR_DB) for k, v in worst.items()}}


def reference_psnrs(path: Path, plan: dict, outputs: dict[str, bytes]) -> dict:
    """PSNR (dB; None when identical) of each output of `path` against the quality bar's
    reference (`_reference`), by the outputs' keys."""
    pyvips = _vips()
    ref = _reference(pyvips, path, plan)
    return {key: _psnr_of(pyvips, ref, data) for key, data in outputs.items()}


def _psnr_of(pyvips, ref, encoded: bytes) -> float | None:
    """PSNR of encoded bytes, decoded to RGB, against the decoded reference."""
    return _psnr_images(pyvips, ref, _rgb(pyvips, pyvips.Image.new_from_buffer(encoded, "")))


def _db(x: float | None):
    return "identical" if x is None else round(x, 2)


def _psnr_images(pyvips, ref, cand) -> float | None:
    """PSNR (dB) of two decoded RGB images, at `ref`'s size; None when identical."""
    if (cand.width, cand.height) != (ref.width, ref.height):
        cand = cand.resize(ref.width / cand.width, vscale=ref.height / cand.height,
                           kernel="lanczos3")
        cand = cand.crop(0, 0, min(cand.width, ref.width), min(cand.height, ref.height))
        ref = ref.crop(0, 0, cand.width, cand.height)
    diff = ref.cast("float") - cand.cast("float")
    mse = (diff * diff).avg()
    if mse <= 0:
        return None
    return 10 * math.log10(255 * 255 / mse)


def _rgb(pyvips, image):
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.bands == 1:
        image = image.bandjoin([image, image])
    return image.colourspace("srgb") if image.interpretation != "srgb" else image
