"""imgpool: the Python that runs inside Pyodide (page and workers), also importable in CPython.

Layout, by where the code runs:
- `config`, `options`, `protocol`: plain data shared by page, worker and host.
- `core/`: the sans-IO scheduler (tasks, probe, estimate, slots, policy, scheduler).
  Standard library only; never awaits, sleeps, reads a clock or touches `js`.
- `testing/`: shipped test doubles (fake clock, scripted fake workers, harness).
- `page/`: the adapter in the browser's main thread (the only code that touches `js` there).
- `worker/`: the pipeline plan (pure) and the worker adapter that drives wasm-vips.

Host-only code (dev server, CLI, Playwright runner) lives in `imgpool_host` and is never
in the browser wheel; `imgpool.run_batch` is forwarded to it lazily under CPython.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "run_batch"]


def __getattr__(name: str):
    # Host convenience: `imgpool.run_batch(...)`. Imported lazily so that the browser
    # wheel (which has no imgpool_host) never tries to import host code.
    if name in ("run_batch", "Report"):
        from imgpool_host import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'imgpool' has no attribute {name!r}")
