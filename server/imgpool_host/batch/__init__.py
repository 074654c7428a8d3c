"""imgpool_host.batch: one folder run of `imgpool optimize`, one module per job.

`runner.run_batch` orchestrates; each step is its own module (see its docstring for the
theory of operation): `settings`, `plan`, `paths`, `sink`, `atomicfile`, `journal`,
`ledger`, `report`, `progress`, `errors`, `hostmessages`. Driving the page itself is
`imgpool_host.pagedriver`.
"""
