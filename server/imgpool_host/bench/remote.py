"""Benchmark section 7 (opt-in): `imgpool optimize` through browser servers.

Theory of operation
-------------------
What does carrying a batch over Playwright's browser-server protocol cost? On one
machine, with the same total workers, three runs of the same batch in rounds (so load
from elsewhere falls on all alike):

- local: one local browser with W workers (the automation section's run);
- one server: one `imgpool browser-server` on loopback, `--connect` it, W workers;
- two servers: two of them, W/2 workers each (work stealing across both).

Same machine and cores, so the ratios to local show the protocol's overhead (the app,
every input and every result travel through the connection), not more hardware: the
target is at least 0.9x. Throughput is files done over `process_s` (first file started
to last settled), so boots, which a long batch amortises, do not count; boots are
reported apart.

Not part of `imgpool bench`'s default run (it boots four more pages, minutes on a small
machine): `imgpool bench --remote` adds it as section 8 on the throughput batch
(`remote_row` / `remote_markdown` word it in the report), or on its own
`python -m imgpool_host.bench.remote [--corpus DIR] [--workers W]`. Uses
`measure._automation` for each run.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from .measure import _automation
from .stats import dist, ratio

__all__ = ["browser_servers", "measure_remote", "remote_section", "remote_row",
           "remote_markdown"]

#: How long a browser server may take to print its endpoint (s).
SERVER_START_S = 60


@contextmanager
def browser_servers(count: int, browser: str | None = None):
    """`count` `imgpool browser-server`s on loopback; yields their ws:// endpoints."""
    procs, urls = [], []
    cmd = [sys.executable, "-m", "imgpool_host.cli", "browser-server"]
    cmd += ["--browser", browser] if browser else []
    try:
        for _ in range(count):
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                    start_new_session=True)
            procs.append(proc)
            ready, _, _ = select.select([proc.stdout], [], [], SERVER_START_S)
            line = proc.stdout.readline() if ready else ""
            if "ws://" not in line:
                raise RuntimeError(f"browser-server did not start: {line!r}")
            urls.append(line.split()[2])
        yield urls
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)


def measure_remote(paths: list[Path], options: dict, workers: int,
                   browser: str | None = None, rounds: int = 2) -> dict:
    """Raw runs: {"local": [...], "one_server": [...], "two_servers": [...]}."""
    half = max(1, workers // 2)
    raw: dict = {"workers": workers, "local": [], "one_server": [], "two_servers": []}
    with browser_servers(2, browser) as (a, b):
        for _ in range(rounds):
            raw["local"].append(_automation(paths, options, workers, browser))
            raw["one_server"].append(_automation(paths, options, workers, browser,
                                                 connect=[a]))
            raw["two_servers"].append(_automation(paths, options, half, browser,
                                                  connect=[a, b]))
    return raw


def remote_section(raw: dict | None, n: int) -> dict:
    """Images/s per configuration (spread over rounds), boots, and ratios to local."""
    if not raw:
        return {"status": "not measured: run with --remote"}
    if "error" in raw:
        return {"status": f"not measured: {raw['error']}"}
    def rates(runs: list[dict]) -> dict:
        ok = [r for r in runs if r.get("status") == "measured" and r["process_s"] > 0]
        return {"images_per_s": dist(n / r["process_s"] for r in ok),
                "boot_s": dist(r["boot_s"] for r in ok),
                "failed": sum(r.get("failed", 0) for r in runs)}

    out = {k: rates(raw[k]) for k in ("local", "one_server", "two_servers")}
    local = out["local"]["images_per_s"]
    return {"status": "measured", "workers_total": raw["workers"], **out,
            "ratios": {f"{k}_vs_local": ratio(out[k]["images_per_s"], local)
                       for k in ("one_server", "two_servers")}}


def remote_row(section: dict) -> dict | None:
    """The headline table's row (None when it did not run)."""
    if section.get("status") != "measured":
        return None
    two, local = section["two_servers"]["images_per_s"], section["local"]["images_per_s"]
    return {"section": "8 browser servers", "metric": "images/s, 2 browser servers",
            "value": two.get("median"), "baseline": f"local browser: {local.get('median')}",
            "ratio": f"{section['ratios']['two_servers_vs_local']}x", "spread": ""}


def remote_markdown(section: dict) -> list[str]:
    L = ["### 8 Browser servers", ""]
    if section.get("status") != "measured":
        return L + [section.get("status", "not measured"), ""]
    L += ["| run | images/s | boot s | failed |", "| --- | --- | --- | --- |"]
    for key, label in (("local", "local browser"), ("one_server", "1 browser server"),
                       ("two_servers", "2 browser servers (half the workers each)")):
        r = section[key]
        L.append(f"| {label} | {r['images_per_s'].get('median')} | "
                 f"{r['boot_s'].get('median')} | {r['failed']} |")
    L += ["", f"Same machine, {section['workers_total']} workers in all, so the ratios to "
          f"the local browser are the protocol's cost (target ≥ 0.9x): "
          + ", ".join(f"{k} {v}x" for k, v in section["ratios"].items()) + ".", ""]
    return L


def main(argv: list[str] | None = None) -> int:
    from imgpool_host.corpus import write_jpeg

    parser = argparse.ArgumentParser(prog="python -m imgpool_host.bench.remote")
    parser.add_argument("--corpus", type=Path, help="folder of images (default: 24 made)")
    parser.add_argument("--workers", type=int, default=2, help="total workers (default 2)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--browser")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="imgpool-bench-remote-") as tmp:
        if args.corpus:
            paths = sorted(p for p in args.corpus.iterdir() if p.is_file())
        else:
            paths = [Path(tmp, f"p{i:02d}.jpg") for i in range(24)]
            for i, p in enumerate(paths):
                write_jpeg(p, 2400, 1600, seed=i)
        raw = measure_remote(paths, {}, args.workers, args.browser, args.rounds)
    print(json.dumps(remote_section(raw, len(paths)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
