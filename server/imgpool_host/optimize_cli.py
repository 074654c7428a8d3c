"""`imgpool optimize IN [IN ...] -o OUT [options]`: a thin layer over `run_batch`.

Every option flag maps to one `Options` field (or one pool setting) and is validated by
`Options.from_dict` / `PoolConfig`, the one home of defaults and limits, so the messages
are the same as the page's. `--preset FILE` (JSON or TOML; keys are the field names, e.g.
`quality`, `max_size`, `pool_size`, `memory_budget_bytes`) gives the starting values;
flags given on the command line win.

Exit status:
  0    every file done, up to date, or skipped (found in a folder and not an
       image; named on stderr)
  1    some files failed (each listed on stderr with its reason and message)
  2    usage: bad option, missing input, OUT inside an input or not writable,
       a --report path that is a folder, an input, an output or any existing
       file that is not an earlier report, no browser, no runtimes, or the page
       could not start; nothing was processed (one line says what to do)
  130  interrupted (Ctrl-C / SIGTERM): finished outputs are kept; run again to
       resume
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from imgpool.shared.config import MAX_POOL_OVERRIDE, settable_fields
from imgpool.shared.options import (ColourHandling, Fit, MetadataPolicy, Options, OptionsError,
                             OutputFormat)

__all__ = ["add_parser", "run", "load_preset", "settings_from_args", "EXIT_OK", "EXIT_FAILED",
           "EXIT_USAGE", "EXIT_INTERRUPTED"]

NAME = "optimize"
PROG = "imgpool optimize"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: Files skipped as not images named in the closing line (the report lists them all).
SKIPPED_LISTED = 10
#: Notes (renames, kept originals, missed targets) listed after a run shown as a bar.
NOTES_LISTED = 10
#: Set to anything to copy the page's console to stderr (debugging a page problem).
PAGE_LOG_ENV = "IMGPOOL_PAGE_LOG"

_D = Options()


def _choices(enum) -> str:
    return ", ".join(m.value for m in enum)


#: (flag, Options field, argparse kwargs). Values stay strings: Options.from_dict coerces
#: and validates them, so a flag and a preset key are checked by the same code.
_OPTION_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    ("--format", "format", dict(metavar="FMT", help=f"output format: {_choices(OutputFormat)} "
                                f"(default {_D.format.value}; same: keep the input's)")),
    ("--quality", "quality", dict(metavar="1-100", help=f"encoder quality (default {_D.quality})")),
    ("--effort", "effort", dict(metavar="0-9", help=f"encoder effort, 9 smallest and slowest "
                                f"(default {_D.effort})")),
    ("--lossless", "lossless", dict(action="store_const", const="true",
                                    help="lossless encoding (webp, avif, jxl)")),
    ("--max-size", "max_size", dict(metavar="PX", help=f"longest side at most PX pixels; 0 or "
                                    f"none keeps the size (default {_D.max_size})")),
    ("--width", "width", dict(metavar="PX", help="fit within this width (without --max-size, "
                                                  "the default longest side does not apply)")),
    ("--height", "height", dict(metavar="PX", help="fit within this height")),
    ("--fit", "fit", dict(metavar="MODE", help=f"{_choices(Fit)}: cover crops to fill "
                          f"--width x --height (default {_D.fit.value})")),
    ("--enlarge", "enlarge", dict(action="store_const", const="true",
                                  help="allow upscaling small images to the box")),
    ("--no-auto-rotate", "auto_rotate", dict(action="store_const", const="false",
                                             help="do not apply the EXIF orientation")),
    ("--colour", "colour", dict(metavar="MODE", help=f"{_choices(ColourHandling)} "
                                f"(default {_D.colour.value})")),
    ("--metadata", "metadata", dict(metavar="POLICY", help=f"{_choices(MetadataPolicy)} "
                                    f"(default {_D.metadata.value})")),
    ("--background", "background", dict(metavar="#RRGGBB", help="colour behind transparency "
                                        f"for formats without alpha (default {_D.background})")),
    ("--palette", "palette", dict(action="store_const", const="true",
                                  help="png: quantise to at most 256 colours")),
    ("--no-animated", "animated", dict(action="store_const", const="false",
                                       help="keep only the first frame of animations")),
    ("--no-keep-original", "keep_original_if_larger",
     dict(action="store_const", const="false",
          help="write the result even when it is larger than the input (by default the "
               "input is written unchanged then)")),
    ("--no-dedupe", "dedupe", dict(action="store_const", const="false",
                                   help="process every file, even one with the same content "
                                        "as another (by default it is processed once and "
                                        "the result written for each)")),
    ("--timeout", "timeout_s", dict(metavar="S", help="per-image time limit in seconds "
                                    "(default: scaled by image size)")),
    ("--target-size", "target_size", dict(metavar="SIZE", help="largest output wanted, e.g. "
                                          "200KB, 1.5MB or 50%% of the input (a bare number "
                                          "is bytes; KB is 1000, KiB 1024): the quality is "
                                          "lowered (from --quality) until it fits")),
    ("--strict-size", "strict_size", dict(action="store_const", const="true",
                                          help="fail a file (too_big) that does not fit "
                                               "--target-size even at the lowest quality")),
    ("--min-ssim", "min_ssim", dict(metavar="X", help="lowest quality score (SSIM, 0-1, e.g. "
                                    "0.95): the quality is raised from --quality until it "
                                    "holds, never lowered; for the smallest file that keeps "
                                    "the score start low, e.g. --quality 30")),
    ("--widths", "widths", dict(metavar="PX,PX", help="responsive set: one output per "
                                "width, e.g. 480,960,1920, named photo-960.webp (replaces "
                                "--max-size; a width above the image is skipped); "
                                "srcset.json beside the outputs lists every set")),
    ("--formats", "formats", dict(metavar="FMT,FMT", help="responsive set: one output per "
                                  "format (per width), e.g. avif,webp,jpeg")),
    ("--measure-quality", "measure_quality",
     dict(action="store_const", const="true",
          help="score each output (SSIM against the resized original) in the report")),
]

#: Keys a preset may hold besides the Options fields: the pool settings a run can pass,
#: each also a flag (`PoolConfig`'s settable fields; their `Setting` says how).
POOL_KEYS = tuple(f.name for f, _s in settable_fields())


def add_parser(subparsers) -> argparse.ArgumentParser:
    from .cli import SUBCOMMANDS

    parser = subparsers.add_parser(
        NAME, help=SUBCOMMANDS[NAME].help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # Raw text: lines broken by hand to stay within 80 columns.
        description="Optimize images headlessly through the app (Chromium + wasm-vips).\n"
                    "Folders are walked recursively (hidden files skipped, and files that "
                    "are not\nimages by their content; a file named here is always "
                    "tried); OUT mirrors their\nstructure. Outputs already up to date "
                    "(recorded in OUT's journal as made from\nthe same input with the "
                    "same options, and still intact) "
                    "are skipped, so an\ninterrupted run resumes.",
        epilog=__doc__[__doc__.index("Exit status:"):])
    parser.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    parser.add_argument("-o", "--out", required=True, metavar="OUT", help="output folder")
    opts = parser.add_argument_group("image options")
    for flag, field, kwargs in _OPTION_FLAGS:
        opts.add_argument(flag, dest=f"opt_{field}", default=None, **kwargs)
    pool = parser.add_argument_group("pool")
    for f, setting in settable_fields():
        pool.add_argument(setting.flag, dest=f"pool_{f.name}", metavar=setting.metavar,
                          help=_pool_help(f, setting))
    run_g = parser.add_argument_group("run")
    run_g.add_argument("--preset", metavar="FILE",
                       help="JSON or TOML file of option/pool field names; flags override it")
    run_g.add_argument("--report", metavar="FILE",
                       help="write a JSON report here (a new file or an earlier report; "
                            "never onto an image, an output or any other file)")
    run_g.add_argument("--force", action="store_true", help="redo outputs that are up to date")
    run_g.add_argument("--quiet", action="store_true", help="no progress output")
    run_g.add_argument("--json", action="store_true",
                       help="progress as JSON lines on stdout (planned, file, summary)")
    run_g.add_argument("--browser", metavar="PATH",
                       help="Chromium/Chrome to use (default: found on this machine)")
    farm = parser.add_argument_group("browsers elsewhere")
    farm.add_argument("--connect", metavar="WS_URL", action="append", default=[],
                      help="also run on the browser server at this ws:// URL (`imgpool "
                           "browser-server` prints one); repeatable; files go to whichever "
                           "browser is free, the pool flags apply to each")
    farm.add_argument("--connect-file", metavar="FILE",
                      help="a file of --connect URLs, one a line (# comments)")
    farm.add_argument("--local", metavar="N",
                      help="local browsers in the mix (default 1, or 0 with --connect)")
    return parser


class UsageError(ValueError):
    """A bad argument: the message is one line saying what to do."""


def load_preset(path: str | os.PathLike) -> dict[str, Any]:
    """Read a preset: TOML if the name ends in .toml, else JSON; a flat table of fields."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read preset {path}: {exc.strerror or exc}") from None
    try:
        if p.suffix.lower() == ".toml":
            data = tomllib.loads(text.decode("utf-8"))
        else:
            data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "TOML" if p.suffix.lower() == ".toml" else "JSON"
        raise UsageError(f"preset {path} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"preset {path} must be a table of option names to values")
    known = {f for _, f, _ in _OPTION_FLAGS} | set(Options().to_dict()) | set(POOL_KEYS)
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(f"preset {path}: unknown key(s) {', '.join(unknown)}; "
                         f"use option fields ({', '.join(Options().to_dict())}) "
                         f"or pool fields ({', '.join(POOL_KEYS)})")
    return data


def settings_from_args(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(option values, pool values): the preset, overridden by the flags given."""
    if args.opt_format is not None and args.opt_formats is not None:
        # --formats makes a set in every format it lists: --format would be ignored.
        raise UsageError("give --format or --formats, not both (--formats lists every "
                         "format a responsive set is made in)")
    preset = load_preset(args.preset) if args.preset else {}
    options = {k: v for k, v in preset.items() if k not in POOL_KEYS}
    pool = {k: v for k, v in preset.items() if k in POOL_KEYS}
    for _flag, field, _kw in _OPTION_FLAGS:
        value = getattr(args, f"opt_{field}")
        if value is not None:
            options[field] = value
    for f, setting in settable_fields():
        value = getattr(args, f"pool_{f.name}")
        if value is not None:
            pool[f.name] = _pool_value(setting, value)
    try:
        Options.from_dict(options)
    except OptionsError as exc:
        raise UsageError(f"bad option: {_in_flag_words(str(exc), args)}") from None
    return options, pool


#: What a flag's error adds for a person (the help's own words).
_FLAG_HINTS = {"--max-size": " (0 or none keeps the size)"}


def _in_flag_words(text: str, args: argparse.Namespace) -> str:
    """An options error about a field, told by the flag that set it (`--timeout`, not
    `timeout_s`), or as the preset's when the preset set it."""
    named = re.match(r"\w+", text)              # the option the message is about
    field = named[0] if named else ""
    flag = next((f for f, name, _ in _OPTION_FLAGS if name == field), None)
    if flag is None:
        return text
    if getattr(args, f"opt_{field}") is None:     # the preset's value, by the preset's name
        return f"{text} (fix {field} in the preset)"
    return flag + text[len(field):] + _FLAG_HINTS.get(flag, "")


def _pool_help(f, setting) -> str:
    """A pool flag's help: what it sets, its choices and its default."""
    if setting.lo is None:                       # an enum: its members
        return f"{setting.help}: {_choices(type(f.default))} (default {f.default.value})"
    if setting.derived:
        return f"{setting.help} (default: {setting.derived})"
    value = f.default / setting.scale
    shown = f"{value:g}" if isinstance(value, float) and not value.is_integer() else \
        f"{int(value)}"
    unit = f" {setting.unit}" if setting.unit else ""
    return f"{setting.help} (default {shown}{unit})"


def _pool_value(setting, text: str) -> Any:
    """A pool flag's value in the field's unit, checked against the field's bounds (the
    policy is left to PoolConfig, which names its choices)."""
    if setting.lo is None:
        return text.strip().lower()
    scale, unit = setting.scale, f" {setting.unit}" if setting.unit else ""
    whole = setting.whole and scale == 1
    value = _number(setting.flag, text, setting.lo / scale, setting.hi / scale, whole=whole,
                    unit=unit, above_lo=setting.above_lo) * scale
    return int(value) if setting.whole else value


def endpoints_from_args(args: argparse.Namespace) -> tuple[list[str], int | None]:
    """(--connect URLs, from the flags and --connect-file; --local as a number or None)."""
    urls = list(args.connect)
    if args.connect_file:
        try:
            text = Path(args.connect_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --connect-file {args.connect_file}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
        urls += [line.strip() for line in text.splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
        if not urls:
            raise UsageError(f"--connect-file {args.connect_file} lists no URL")
    local = None
    if args.local is not None:
        local = int(_number("--local", args.local, 0, MAX_POOL_OVERRIDE, whole=True))
    return urls, local


def _number(flag: str, text: str, lo: float, hi: float, whole: bool = False,
            unit: str = "", above_lo: bool = False) -> float:
    """`text` as a finite number from `lo` to `hi` (above `lo` if `above_lo`; a whole one
    if `whole`: "2.0" is fine, "2.5" is not); UsageError naming the flag, the range and
    its unit otherwise."""
    kind = "a whole number" if whole else "a number"
    span = f"above {lo:g} and at most {hi:g}" if above_lo else f"from {lo:g} to {hi:g}"
    wanted = f"{flag} must be {kind} {span}{unit}; got {text!r}"
    try:
        value = float(text)
    except ValueError:
        raise UsageError(wanted) from None
    low_ok = value > lo if above_lo else value >= lo
    if not math.isfinite(value) or not (low_ok and value <= hi) or \
            (whole and not value.is_integer()):
        raise UsageError(wanted)
    return value


def run(args: argparse.Namespace) -> int:
    from .browser import BrowserNotFound
    from .batch.progress import Mode, Progress, first_few, one_line, printable
    from .batch.errors import BatchError, BatchUsageError
    from .batch.runner import run_batch

    try:
        options, pool = settings_from_args(args)
    except UsageError as exc:
        return _usage(str(exc))
    progress = Progress.choose(quiet=args.quiet, json_lines=args.json)
    page_log = None
    if os.environ.get(PAGE_LOG_ENV):
        page_log = lambda line: print(f"page: {line}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        connect, local = endpoints_from_args(args)
    except UsageError as exc:
        return _usage(str(exc))
    try:
        report = run_batch(args.inputs, args.out, options, pool=pool, browser=args.browser,
                           force=args.force, on_event=progress, report_path=args.report,
                           page_log=page_log, connect=connect, local=local)
    except OSError as exc:                  # e.g. the report (checked first) at the very end
        where = f" ({printable(os.fsdecode(exc.filename))})" if exc.filename else ""
        print(f"{PROG}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:                   # before the run had started the browser
        print(f"{PROG}: interrupted before anything was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrowserNotFound as exc:
        hint = ": give --browser the path of a Chromium or Chrome executable" if args.browser else ""
        return _usage(f"{exc}{hint}")
    except BatchUsageError as exc:
        return _usage(str(exc))
    except BatchError as exc:
        return _usage(f"{exc} (run scripts/setup; set {PAGE_LOG_ENV}=1 to see the page's "
                      "console)")
    failed = report.failed
    skipped = report.not_images
    if skipped:
        names = first_few([printable(r.name) for r in skipped], SKIPPED_LISTED)
        print(f"{PROG}: {len(skipped)} of {len(report.files)} files skipped, not images: "
              f"{names}", file=sys.stderr)
    if progress.mode is Mode.BAR:               # the lines mode printed them file by file
        _list_notes(report)
    if failed:
        print(f"{PROG}: {len(failed)} of {len(report.files)} files failed:", file=sys.stderr)
        for r in failed:
            print(f"  {printable(r.input)}: {r.reason}: {printable(one_line(r.message))}",
                  file=sys.stderr)
    for ep in report.endpoints:                 # a run across browsers: one line each
        why = f": {printable(one_line(ep['error']))}" if ep["error"] else ""
        print(f"{PROG}: browser {ep['endpoint']}: {ep['done']} done, {ep['failed']} failed, "
              f"{ep['images_per_s']} img/s, {ep['state']}{why}", file=sys.stderr)
    if report.error:
        print(f"{PROG}: the run stopped early: {printable(one_line(report.error))}",
              file=sys.stderr)
    if report.interrupted:
        print(f"{PROG}: interrupted; finished outputs are kept; run the same command again "
              "to do the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if (failed or report.error) else EXIT_OK


def _usage(message: str) -> int:
    from .batch.progress import printable

    print(f"{PROG}: error: {printable(message)}", file=sys.stderr)
    return EXIT_USAGE


def _list_notes(report) -> None:
    """The files made this run that carry a note, which the bar had no room for."""
    from .batch.progress import one_line, printable
    from .batch.report import FileStatus

    noted = [r for r in report.files if r.status is FileStatus.DONE and r.note]
    if not noted:
        return
    verb = "has" if len(noted) == 1 else "have"
    print(f"{PROG}: {len(noted)} of {len(report.files)} files {verb} a note:", file=sys.stderr)
    for r in noted[:NOTES_LISTED]:
        print(f"  {printable(r.name)}: {printable(one_line(r.note))}", file=sys.stderr)
    if len(noted) > NOTES_LISTED:
        print(f"  and {len(noted) - NOTES_LISTED} more (every note is in the --report file, "
              "or run with --json)", file=sys.stderr)
