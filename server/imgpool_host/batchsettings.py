"""A run's settings, checked once on the host: the image options and the few pool
settings the page can be told.

Theory of operation
-------------------
The page is the one that runs the pool, and it reads its pool settings from its URL
(imgpool.config.URL_PARAMS); the image options it is given with `setOptions` after
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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imgpool.config import URL_PARAMS, ConfigError, PoolConfig, query_from_settings
from imgpool.options import Options, OptionsError

from .batcherrors import BatchUsageError

__all__ = ["POOL_URL_PARAMS", "make_options", "pool_settings", "pool_query"]

#: PoolConfig field -> URL parameter the page reads (imgpool.config.URL_PARAMS, the one
#: home). Only these pool settings can reach the page; the rest keep the page's defaults.
POOL_URL_PARAMS: Mapping[str, str] = {name: key for key, name in URL_PARAMS.items()}


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
