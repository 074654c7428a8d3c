"""imgpool: the Python that runs inside Pyodide (page and workers), also importable in CPython.

Folders by where the code runs (each may import only what is listed):
- `shared/`: what page, worker and host all use: options, config, protocol messages,
  image info, the header probe, the pipeline plan, failure reasons. Standard library only.
- `core/`: the page's sans-IO scheduler (tasks, slots, policy, deadlines, scheduler).
  Imports `shared/`; never awaits, sleeps, reads a clock or touches `js`.
- `page/`: the adapter in the browser's main thread (the only code that touches `js`
  there). Imports `core/` and `shared/`.
- `worker/`: the worker adapter that drives wasm-vips. Imports `shared/` only.
- `testing/`: shipped test doubles (fake clock, scripted fake workers, harness).

Host-only code (dev server, CLI, Playwright runner) is the separate package `imgpool_host`,
never in the browser wheel; nothing here imports it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
