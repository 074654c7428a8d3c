"""A run's settings, checked once on the host: the image options and the few pool
settings the page can be told.

Theory of operation
-------------------
The page is the one that runs the pool, and it reads its pool settings from its URL
(imgpool.shared.config.URL_PARAMS); the image options it is given with `setOptions` after
boot. Both are validated here, with the same `Options` and `PoolConfig` the page uses,
before a browser starts, so a bad value is a usage error on the command line instead of
a page that refuses to start.

Rules:
- Only the pool settings in POOL_URL_PARAMS can reach the page; any other key is a
  usage error (not silently dropped). Settings not given keep the page's defaults,
  which it derives from the hardware.
- `pool_query` is the one place that knows the URL's units: the memory budget goes as
  MiB (bytes / MIB, exact in binary floating point); everything else as `str(value)`.
- Every failure raises BatchUsageError with the field and what is wrong.
- An explicit pool size is capped to what this machine can boot (`cap_workers`): each
  worker's start is CPU-bound (a few seconds of a core) and holds ~WORKER_RESIDENT_BYTES,
  so 64 workers on 2 cores never all come up within `start_timeout_s` and the breaker
  fails every file. More workers than cores adds no speed (libvips runs one thread per
  image in the browser), so the cap costs nothing. The caller is told (a note).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from imgpool.shared.config import MIB, URL_PARAMS, ConfigError, PoolConfig, query_from_settings
from imgpool.shared.options import Options, OptionsError

from .errors import BatchUsageError

__all__ = ["POOL_URL_PARAMS", "make_options", "pool_settings", "pool_query",
           "machine_worker_limit", "cap_workers"]

#: PoolConfig field -> URL parameter the page reads (imgpool.shared.config.URL_PARAMS, the one
#: home). Only these pool settings can reach the page; the rest keep the page's defaults.
POOL_URL_PARAMS: Mapping[str, str] = {name: key for key, name in URL_PARAMS.items()}
#: At most this many workers per CPU core: their boots share the cores, and the last of
#: more than this must still be up within PoolConfig.start_timeout_s (60 s; a boot takes
#: ~2-5 s of a core here).
WORKERS_PER_CORE = 4
#: What one idle worker (Pyodide + wasm-vips and its threads) keeps resident (bytes):
#: ~300 MB measured, plus headroom for its first image.
WORKER_RESIDENT_BYTES = 400 * MIB


def make_options(options: Options | Mapping[str, Any] | None) -> Options:
    """Options from an instance, plain values (a preset) or None (the defaults)."""
    if isinstance(options, Options):
        return options
    try:
        return Options.from_dict(dict(options or {}))
    except OptionsError as exc:
        raise BatchUsageError(f"bad option: {exc}") from None


def pool_settings(pool: PoolConfig | Mapping[str, Any] | None) -> dict[str, Any]:
    """The pool settings to pass to the page, validated; only POOL_URL_PARAMS fields.

    A PoolConfig passes all of them; a mapping passes the keys it has (the page derives
    the others from the hardware)."""
    if pool is None:
        return {}
    if isinstance(pool, PoolConfig):
        values = {k: getattr(pool, k) for k in POOL_URL_PARAMS}
    else:
        values = {k: v for k, v in dict(pool).items() if v is not None}
        other = sorted(set(values) - set(POOL_URL_PARAMS))
        if other:
            raise BatchUsageError(
                f"pool setting(s) {', '.join(other)} cannot be set for a run; "
                f"use {', '.join(POOL_URL_PARAMS)}")
    if isinstance(values.get("policy"), str):
        values["policy"] = values["policy"].strip().lower()
    try:
        cfg = PoolConfig.from_dict(values)
    except ConfigError as exc:
        raise BatchUsageError(f"bad pool setting: {exc}") from None
    out = {k: getattr(cfg, k) for k in values}
    if "policy" in out:
        out["policy"] = cfg.policy.value
    return out


def pool_query(settings: Mapping[str, Any]) -> dict[str, str]:
    """URL parameters for `settings` (budget in MiB; bytes/MiB is exact in binary)."""
    return query_from_settings(dict(settings))


def machine_worker_limit(cpu_count: int | None = None,
                         available_bytes: int | None = None) -> tuple[int, str]:
    """(most workers this machine can boot, what limits it in words). Measured from the
    machine unless given."""
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    free = available_bytes if available_bytes is not None else _available_memory()
    limit = max(1, cores * WORKERS_PER_CORE)
    why = f"{cores} CPU core{'s' if cores != 1 else ''}"
    if free is not None and free // WORKER_RESIDENT_BYTES < limit:
        limit = max(1, free // WORKER_RESIDENT_BYTES)
        why = f"{free / (1024 * MIB):.1f} GiB of free memory"
    return limit, why


def cap_workers(settings: Mapping[str, Any], cpu_count: int | None = None,
                available_bytes: int | None = None,
                local_browsers: int = 1) -> tuple[dict[str, Any], str]:
    """`settings` with pool_size capped to `machine_worker_limit` shared by the
    `local_browsers` pages this machine runs, and a note saying so ("" when nothing
    changed). Settings without an explicit pool_size are left alone: the page derives it
    from the hardware, within the limit. With no local browser (only browser servers
    elsewhere) nothing is capped: each remote page runs the pool asked for, on its own
    machine's cores."""
    out = dict(settings)
    asked = out.get("pool_size")
    if asked is None or local_browsers < 1:
        return out, ""
    limit, why = machine_worker_limit(cpu_count, available_bytes)
    if local_browsers > 1:
        limit = max(1, limit // local_browsers)
        why += f", shared by {local_browsers} local browsers"
    if asked <= limit:
        return out, ""
    out["pool_size"] = limit
    return out, (f"{asked} workers are more than this machine can start ({why}): "
                 f"using {limit}")


def _available_memory() -> int | None:
    """MemAvailable from /proc/meminfo (bytes), or None where there is none."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
