"""imgpool_host: the host-side (CPython only) half of imgpool. Never put in the browser wheel.

Layout:
- `devserver`: the static server with cross-origin isolation headers, loopback only.
- `cli`: the `imgpool` command (`serve`, `optimize`, `bench`).
- `runner`: `run_batch`, the API under `imgpool optimize`; it is built from
  `batchplan` (inputs -> outputs), `batchsettings` (options and pool settings),
  `resultsink` + `atomicfile` (the result route and atomic writes), `pagedriver` (the page
  in Chromium through Playwright), `batchledger` (events -> one record per file),
  `report` and `progress` (what the person sees).
- `browser`: finding the system Chromium; `corpus`: deterministic test images.
- `bench/`: the benchmark (`scripts/bench`).
"""
