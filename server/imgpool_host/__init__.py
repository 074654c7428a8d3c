"""imgpool_host: the host-side (CPython only) half of imgpool. Never put in the browser wheel.

The API: `run_batch(inputs, out, ...)` (what `imgpool optimize` runs) and the `Report` it
returns, importable from here; everything else is reached through its module.

Layout:
- `cli`, `optimize_cli`: the `imgpool` command (`serve`, `optimize`, `build`, `bench`).
- `batch/`: one folder run. `runner.run_batch` orchestrates `plan` (inputs -> outputs),
  `settings` (options and pool settings), `paths` (OUT and the report path), `sink` +
  `atomicfile` + `journal` (the result route, atomic writes, what was written), `ledger`
  (page events -> one record per file), `report` and `progress` (what the person sees),
  `errors`, `hostmessages` (the page's advice, worded for the command line).
- `pagedriver`, `pagelauncher`: the page in Chromium through Playwright; `browser`:
  finding the system Chromium.
- `devserver` (+ `servepolicy`, `requesttarget`, `beneath`), `appfiles`, `staticbuild`:
  serving and building the app.
- `corpus`: deterministic test images; `bench/`: the benchmark (`scripts/bench`).
"""

from __future__ import annotations

__all__ = ["run_batch", "Report"]


def __getattr__(name: str):
    # Lazy, so `python -m imgpool_host.browser` (run by set-up) stays light.
    if name == "run_batch":
        from .batch.runner import run_batch
        return run_batch
    if name == "Report":
        from .batch.report import Report
        return Report
    raise AttributeError(f"module 'imgpool_host' has no attribute {name!r}")
