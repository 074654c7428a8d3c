"""Showing a batch run as it goes: a live bar, plain lines, JSON lines, or nothing.

A `Progress` is an `on_event` callback for `run_batch`: it takes the RunEvents and
writes. Which mode, chosen by `Progress.choose` from the CLI flags and the terminal:

- BAR (stderr is a TTY): one status line, redrawn in place at most every 0.1 s:
  bar, finished/total, done, failed, images per second, bytes saved, ETA.
- LINES (not a TTY: logs, CI): one line per settled file on stdout, and a summary.
- JSON (`--json`): one JSON object per line on stdout: "planned", each "file" (the
  report's record), "summary" (the report's totals). For machines.
- QUIET (`--quiet`): nothing. (The CLI still lists failures on stderr.)

The numbers come from a `Tally` and the text from pure functions (`render_bar`,
`format_bytes`, `format_duration`), so both are tested without a terminal. Rates count
from the first file a worker started, so browser start-up does not dilute images/s.

File names are whatever is on disk: ESC, BEL, CR or a newline in a name would move the
cursor, recolour or rewrite the terminal, and a byte that is not UTF-8 cannot even be
encoded. Every name, path and message shown as text goes through `printable`, which
writes such characters as escapes (`\x1b`, `\n`, `\xff`). JSON lines use `jsontext`.
"""

from __future__ import annotations

import enum
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import TextIO

from .. import jsontext
from ..termtext import printable
from .report import (BrowserRestarted, FileFinished, FileRecord, FileStarted, FileStatus,
                     RunEvent, RunFinished, RunPlanned)

__all__ = ["Mode", "Progress", "Tally", "render_bar", "format_bytes", "format_duration",
           "format_record", "format_summary", "one_line", "printable", "first_few"]

#: Shortest time between two redraws of the bar (s).
REDRAW_S = 0.1
#: Width of the bar itself, in characters.
BAR_CELLS = 24
#: Longest failure message shown on a terminal line (the report keeps it whole).
MESSAGE_CHARS = 300


class Mode(enum.Enum):
    """How progress is shown."""

    BAR = "bar"      #: live line on a terminal
    LINES = "lines"  #: a line per file
    JSON = "json"    #: JSON lines for machines
    QUIET = "quiet"  #: nothing


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    """`text` with all whitespace runs (newlines too) as one space, cut to `limit`."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def first_few(names: list[str], limit: int) -> str:
    """The first `limit` of `names`, comma-separated, then "and N more" for the rest."""
    extra = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {extra} more" if extra > 0 else "")


def format_bytes(n: float) -> str:
    """999 B, 1.0 KB, 12.3 MB, 1.50 GB; sign kept. 1000-based, like the page's sizes and
    --target-size's KB and MB, so one line never shows two sizes of one file."""
    sign, n = ("-" if n < 0 else ""), abs(n)
    if n < 1000:
        return f"{sign}{int(n)} B"
    for unit, scale in (("KB", 1000), ("MB", 1000 ** 2), ("GB", 1000 ** 3)):
        if n < scale * 1000 or unit == "GB":
            value = n / scale
            return f"{sign}{value:.2f} {unit}" if unit == "GB" else f"{sign}{value:.1f} {unit}"
    raise AssertionError("unreachable")


def format_duration(seconds: float | None) -> str:
    """m:ss, or h:mm:ss from an hour; "--:--" when unknown."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "--:--"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class Tally:
    """Counts for the display. `to_run` files go to the page; `skipped` (up to date)
    and `not_images` do not."""

    total: int = 0
    to_run: int = 0
    skipped: int = 0
    not_images: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    saved_bytes: int = 0
    first_start: float | None = None   #: clock time the first worker started a file

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cancelled

    def rate(self, now: float) -> float | None:
        """Files settled per second since the first start; None before there is one."""
        if self.first_start is None or self.finished == 0:
            return None
        elapsed = now - self.first_start
        return self.finished / elapsed if elapsed > 0 else None

    def eta(self, now: float) -> float | None:
        rate = self.rate(now)
        if not rate:
            return None
        return max(0, self.to_run - self.finished) / rate

    def add(self, record: FileRecord) -> None:
        if record.status is FileStatus.DONE:
            self.done += 1
            self.saved_bytes += record.saved_bytes
        elif record.status is FileStatus.FAILED:
            self.failed += 1
        elif record.status is FileStatus.CANCELLED:
            self.cancelled += 1


def render_bar(t: Tally, now: float, width: int = 80) -> str:
    """The live line: `[#####-----] 12/100 done 11 failed 1 | 3.4 img/s | saved 1.2 MB |
    ETA 0:26`, cut to `width` characters."""
    frac = t.finished / t.to_run if t.to_run else 1.0
    filled = min(BAR_CELLS, int(frac * BAR_CELLS))
    bar = "[" + "#" * filled + "-" * (BAR_CELLS - filled) + "]"
    rate = t.rate(now)
    parts = [f"{bar} {t.finished}/{t.to_run} done {t.done} failed {t.failed}",
             f"{rate:.1f} img/s" if rate else
             ("starting the browser" if t.first_start is None else "-- img/s"),
             f"saved {format_bytes(t.saved_bytes)}",
             f"ETA {format_duration(t.eta(now))}"]
    if t.skipped:
        parts.append(f"{t.skipped} up to date")
    if t.not_images:
        parts.append(f"{t.not_images} not images")
    line = " | ".join(parts)
    return line if len(line) <= width else line[: max(0, width - 3)] + "..."


def format_record(r: FileRecord) -> str:
    """One line for a settled file."""
    if r.status is FileStatus.DONE:
        size = f"{format_bytes(r.input_bytes)} -> {format_bytes(r.output_bytes or 0)}"
        when = f"  {r.time_s:.2f} s" if r.time_s is not None else ""
        who = f"  worker {r.worker}" if r.worker is not None else ""
        who += f" on {r.endpoint}" if r.endpoint else ""
        note = f"  ({r.note})" if r.note else ""
        score = "".join([f"  quality {r.quality}" if r.quality and (r.encodes or 1) > 1 else "",
                         f"  SSIM {r.ssim:.4f}" if r.ssim is not None else ""])
        if r.variants:                 # a responsive set: one indented line per file
            files = "".join(f"\n          {printable(PurePath(v['output']).name)}  "
                            f"{v.get('width')}x{v.get('height')}  "
                            f"{format_bytes(v.get('output_bytes') or 0)}"
                            for v in r.variants)
            return (f"done      {printable(r.name)} -> {len(r.variants)} files  "
                    f"{size}{when}{who}{note}{files}")
        return (f"done      {printable(r.name)} -> {printable(r.output or '')}  "
                f"{size}{when}{who}{score}{note}")
    if r.status is FileStatus.FAILED:
        return f"failed    {printable(r.name)}: {r.reason}: {printable(one_line(r.message))}"
    if r.status is FileStatus.CANCELLED:
        return f"cancelled {printable(r.name)}"
    return f"skipped   {printable(r.name)} ({r.message or 'up to date'})"


def format_summary(report) -> str:
    t = report.totals
    # A speed only when images were made: failures alone say nothing of it.
    rate = f" ({t['images_per_s']:.2f} img/s)" if t["images_per_s"] and t["done"] else ""
    text = (f"{t['done']} done, {t['failed']} failed, {t['not_images']} skipped (not images), "
            f"{t['up_to_date']} up to date, {t['cancelled']} cancelled "
            f"in {report.wall_s:.1f} s{rate}; "
            f"saved {format_bytes(t['saved_bytes'])}")
    if report.restarts:
        text += (f"; the page was restarted {report.restarts} time"
                 f"{'s' if report.restarts != 1 else ''}")
    return ("interrupted: " + text) if report.interrupted else text


class Progress:
    """An `on_event` callback that shows the run in one of the `Mode`s."""

    def __init__(self, mode: Mode, out: TextIO | None = None, err: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, width: int | None = None):
        self.mode = mode
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.clock = clock
        self.width = width
        self.tally = Tally()
        self._drawn_at: float | None = None
        self._bar_visible = False

    @classmethod
    def choose(cls, quiet: bool = False, json_lines: bool = False,
               out: TextIO | None = None, err: TextIO | None = None) -> "Progress":
        """JSON if asked, else QUIET if asked, else BAR on a TTY, else LINES."""
        err = err if err is not None else sys.stderr
        if json_lines:
            mode = Mode.JSON
        elif quiet:
            mode = Mode.QUIET
        else:
            mode = Mode.BAR if _isatty(err) else Mode.LINES
        return cls(mode, out, err)

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, RunPlanned):
            self.tally.total, self.tally.to_run = event.total, event.to_run + event.failed
            self.tally.skipped, self.tally.not_images = event.skipped, event.not_images
            self._planned(event)
        elif isinstance(event, FileStarted):
            if self.tally.first_start is None:
                self.tally.first_start = self.clock()
            self._draw()
        elif isinstance(event, FileFinished):
            self.tally.add(event.record)
            self._file(event.record)
        elif isinstance(event, BrowserRestarted):
            self._restarted(event)
        elif isinstance(event, RunFinished):
            self._finished(event.report)

    # ---- per mode -----------------------------------------------------------------------

    def _planned(self, e: RunPlanned) -> None:
        if self.mode is Mode.JSON:
            self._json({"event": "planned", "total": e.total, "to_run": e.to_run,
                        "skipped": e.skipped, "failed": e.failed, "not_images": e.not_images,
                        "notes": list(e.notes)})
            return
        for note in e.notes if self.mode is not Mode.QUIET else ():
            self.err.write(f"imgpool: note: {printable(note)}\n")
        if self.mode is Mode.LINES:
            self._line(f"imgpool: {e.total} files: {e.to_run} to optimize, "
                       f"{e.skipped} up to date" + (f", {e.failed} failed" if e.failed else "")
                       + (f", {e.not_images} not images (skipped)" if e.not_images else ""))
        elif self.mode is Mode.BAR:
            self._draw(force=True)

    def _file(self, r: FileRecord) -> None:
        if self.mode is Mode.JSON:
            self._json({"event": "file", **r.to_dict()})
        elif self.mode is Mode.LINES:
            self._line(format_record(r))
        elif self.mode is Mode.BAR:
            self._draw(force=self.tally.finished == self.tally.to_run)

    def _restarted(self, e: BrowserRestarted) -> None:
        if self.mode is Mode.JSON:
            self._json({"event": "restart", "why": e.why, "restart": e.restart,
                        "requeued": e.requeued})
        elif self.mode is not Mode.QUIET:
            if self._bar_visible:
                self.err.write("\n")
                self._bar_visible = False
            self.err.write(f"imgpool: {printable(one_line(e.why))}; starting the page again to "
                           f"carry on ({e.requeued} unfinished file"
                           f"{'s' if e.requeued != 1 else ''} go again)\n")
            self.err.flush()

    def _finished(self, report) -> None:
        if self.mode is Mode.JSON:
            self._json({"event": "summary", **report.totals, "interrupted": report.interrupted,
                        "wall_s": round(report.wall_s, 3), "error": report.error,
                        "restarts": report.restarts})
        elif self.mode is Mode.LINES:
            self._line("imgpool: " + format_summary(report))
        elif self.mode is Mode.BAR:
            self._draw(force=True)
            self.err.write("\n" + "imgpool: " + format_summary(report) + "\n")
            self.err.flush()
            self._bar_visible = False

    # ---- output -------------------------------------------------------------------------

    def _draw(self, force: bool = False) -> None:
        if self.mode is not Mode.BAR:
            return
        now = self.clock()
        if not force and self._drawn_at is not None and now - self._drawn_at < REDRAW_S:
            return
        self._drawn_at = now
        width = self.width or shutil.get_terminal_size((100, 20)).columns
        self.err.write("\r" + render_bar(self.tally, now, width - 1) + "\x1b[K")
        self.err.flush()
        self._bar_visible = True

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _json(self, obj: dict) -> None:
        self.out.write(jsontext.dumps(obj) + "\n")
        self.out.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
