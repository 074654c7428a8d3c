"""`imgpool bench`: measure what the architecture claims, beside its baselines, in one run.

Layout (each module one concept):
    settings   the modes (tiny, quick, full): counts, sizes, repetitions
    corpus     the images: generated and cached under OUT/corpus, or --corpus DIR
    chrome     Chromium: launch, RSS sampler, per-thread CPU, the app page driver
    native     pyvips baseline (the app's own plan), stage timings, PSNR
    measure    the run: every page, baseline and repetition, in order
    sections   raw measurements -> the six report sections
    profile    where the time goes: stage timings, pool busy share, CPU by thread
    machine    what it ran on
    render     the terminal table and docs/benchmarks.md, from the JSON only

The CLI contract (imgpool_host.cli): `add_parser(subparsers)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["add_parser", "run", "TINY_ENV"]

NAME = "bench"
#: Set to 1 to make every run tiny (the smoke test's size).
TINY_ENV = "IMGPOOL_BENCH_TINY"
JSON_VERSION = 1
#: Images in the soak when `--soak` is given without a number.
SOAK_DEFAULT = 2000


def add_parser(subparsers) -> argparse.ArgumentParser:
    from imgpool.shared.options import OutputFormat

    from ..cli import SUBCOMMANDS
    from ..devserver import ROOT

    p = subparsers.add_parser(
        NAME, help=SUBCOMMANDS[NAME].help,
        description="Throughput, memory, time to first result, responsiveness, start-up and "
                    "automation overhead of the app, each against baselines measured in the "
                    "same run (pool of 1, naive pool, native libvips, canvas). Writes a JSON "
                    "file, prints a table and regenerates docs/benchmarks.md.")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="one repetition, small batches (~2-3 min)")
    size.add_argument("--tiny", action="store_true",
                      help=f"minimal sizes, for the smoke test (~1 min; also {TINY_ENV}=1)")
    p.add_argument("--corpus", metavar="DIR", type=Path,
                   help="use the images in DIR (real photos) for the throughput, memory and "
                        "automation batches instead of generated ones")
    p.add_argument("--op", default="webp",
                   choices=[f.value for f in OutputFormat if f is not OutputFormat.SAME],
                   help="output format of the operation (default webp; long edge 2048, "
                        "auto-rotate, the app's default quality)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="the pool size under test (default: the page's own, from the CPU count)")
    p.add_argument("--out", type=Path, default=ROOT / "bench-out", metavar="DIR",
                   help="where the JSON (and the generated corpus) go (default bench-out/)")
    p.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md", metavar="FILE",
                   help="the Markdown report to regenerate (default docs/benchmarks.md)")
    p.add_argument("--no-docs", action="store_true", help="do not write the Markdown report")
    p.add_argument("--render", type=Path, metavar="JSON",
                   help="do not measure: print the table and rewrite --docs from a saved JSON")
    p.add_argument("--browser", metavar="PATH", help="Chromium/Chrome to use")
    p.add_argument("--soak", type=int, nargs="?", const=SOAK_DEFAULT, default=0, metavar="N",
                   help=f"also run the soak: N small photos (default {SOAK_DEFAULT}, 1.2 MP, "
                        "every 25th damaged) through one page with recycled workers, memory "
                        "sampled (about 1 s per image on 2 cores)")
    p.add_argument("--remote", action="store_true",
                   help="also run the throughput batch through 1 and 2 loopback browser "
                        "servers (imgpool browser-server) against a local browser")
    return p


def run(args: argparse.Namespace) -> int:
    if args.render:
        doc = json.loads(args.render.read_text())
        print(_render_table(doc))
        if not args.no_docs:
            _write_docs(doc, args.docs, args.render)
        return 0
    from .. import devserver

    missing = devserver.missing_runtimes()
    if missing:
        print(f"imgpool bench: runtimes not installed: run scripts/setup "
              f"(missing {', '.join(missing)})", file=sys.stderr)
        return 2
    tiny = args.tiny or os.environ.get(TINY_ENV) == "1"
    mode_name = "tiny" if tiny else "quick" if args.quick else "full"
    workers = args.workers or (1 if tiny else None)
    try:
        doc = _measure(args, mode_name, workers)
    except KeyboardInterrupt:
        print("imgpool bench: interrupted", file=sys.stderr)
        return 130
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = doc["started_at"].replace(":", "").replace("-", "")
    path = args.out / f"bench-{mode_name}-{doc['op']}-{stamp}.json"
    path.write_text(json.dumps(doc, indent=1))
    shutil.copyfile(path, args.out / "latest.json")
    print()
    print(_render_table(doc))
    print(f"\nJSON: {path}")
    if not (args.no_docs or tiny):
        _write_docs(doc, args.docs, path)
        print(f"Report: {args.docs}")
    return 0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _measure(args, mode_name: str, workers: int | None) -> dict:
    from imgpool.shared.options import Options

    from ..devserver import running_server
    from .corpus import build_corpus
    from .machine import describe_machine
    from .measure import measure
    from .native import libvips_version
    from .profile import build_profile
    from .sections import build_sections
    from .settings import MODES

    mode = MODES[mode_name]
    # Repeated files are the point of the memory and soak batches: process every one.
    options = Options.from_dict({"format": args.op, "dedupe": False})
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    load_before = [round(x, 2) for x in os.getloadavg()]
    t = time.monotonic()
    _log(f"imgpool bench ({mode_name}, {args.op}): corpus ...")
    corpus = build_corpus(mode, args.out / "corpus", args.corpus)
    _log(f"  corpus ready in {corpus.generate_s:.1f} s ({corpus.source})")
    with running_server() as url:
        raw = measure(url, mode, corpus, options, workers, _log, args.browser,
                      soak=(args.soak, args.out / "corpus") if args.soak else None,
                      remote=args.remote, inputs_dir=args.out / "corpus" / "inputs")
    sections = build_sections(raw, corpus)
    boot = raw.startup["cold"][0] if raw.startup["cold"] else {}
    machine = describe_machine(raw.browser_version, boot, libvips_version())
    machine["load_average_before"] = load_before
    return {
        "version": JSON_VERSION, "mode": mode_name, "op": args.op, "started_at": started,
        "duration_s": round(time.monotonic() - t, 1), "workers": raw.workers,
        "options": options.to_dict(), "options_summary": _describe(options),
        "repetitions": f"{mode.reps} per page batch, {mode.baseline_reps} per native/canvas "
                       f"baseline, {mode.startup_reps} cold + {mode.startup_reps} warm start-ups",
        "machine": machine, "corpus": corpus.describe(),
        "sections": sections, "profile": build_profile(raw),
        "notes": raw.notes, "step_s": raw.timings_s,
    }


def _describe(o) -> str:
    box = f"long edge at most {o.max_size} px" if o.max_size else "original size"
    return (f"thumbnail to {box} ({'auto-rotated' if o.auto_rotate else 'not rotated'}, "
            f"never enlarged), {o.format.value} quality {o.quality}, effort {o.effort} of 9, "
            f"metadata {o.metadata.value}")


def _render_table(doc: dict) -> str:
    from .render import terminal_table

    return terminal_table(doc)


def _write_docs(doc: dict, target: Path, json_path: Path) -> None:
    from ..devserver import ROOT
    from .render import markdown

    try:
        name = json_path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        name = json_path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(markdown(doc, name))
