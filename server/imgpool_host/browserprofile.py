"""A browser profile kept between runs, so `imgpool optimize` boots the app warm.

Theory of operation
-------------------
Each run drives a page of the app in its own Chromium. With an empty profile every run
booted cold: no HTTP cache, no compiled code, no Python memory snapshot (the page and
every worker boot Pyodide from scratch and import imgpool). Measured here, launch to
the pool idle: 3.0-3.4 s with an empty profile, 1.7 s with the profile an earlier run
left. Browsers key their caches by origin, so the profile is used only when the app is
served at the same origin every time: `PROFILE_PORT` on loopback.

Rules:
- The profile lives in `<cache>/browser-profile`, where `<cache>` is
  `$IMGPOOL_CACHE_DIR`, else `$XDG_CACHE_HOME/imgpool`, else `~/.cache/imgpool`.
  `IMGPOOL_CACHE_DIR=""` (set, empty) turns it off.
- It is used only when this run could listen on `PROFILE_PORT` (or
  `$IMGPOOL_PROFILE_PORT`, where that port is another program's): a second run at the
  same time (or another program on that port) gets a port of its own and an empty
  profile, as before, so runs never share a profile and the profile never fills with
  copies of the app for other origins.
- If the browser will not start with it (a profile left locked or broken by a browser
  that was killed), the run starts with an empty profile instead (`PageLauncher`).
- The profile holds the app's files, caches and Python snapshots, nothing of the
  images: an automation page keeps no file, result or setting in the browser's storage.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from . import devserver

__all__ = ["PROFILE_PORT", "cache_dir", "profile_dir", "profile_port", "serving_app"]

#: The loopback port a run with a kept profile serves the app on (its origin).
PROFILE_PORT = 47213


def cache_dir(env: Mapping[str, str] = os.environ) -> Path | None:
    """imgpool's cache folder, or None when `IMGPOOL_CACHE_DIR` is set empty."""
    if "IMGPOOL_CACHE_DIR" in env:
        given = env["IMGPOOL_CACHE_DIR"]
        return Path(given).expanduser() if given else None
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "imgpool"


def profile_dir(env: Mapping[str, str] = os.environ) -> Path | None:
    """Where the kept browser profile lives, or None (turned off)."""
    cache = cache_dir(env)
    return None if cache is None else cache / "browser-profile"


def profile_port(env: Mapping[str, str] = os.environ) -> int:
    """The port a run with the kept profile serves on."""
    given = env.get("IMGPOOL_PROFILE_PORT", "")
    return int(given) if given.isdigit() and 0 < int(given) < 65536 else PROFILE_PORT


@contextlib.contextmanager
def serving_app(mounts, extra_routes,
                keep_profile: bool) -> Iterator[tuple[str, Path | None, str]]:
    """Serve the app for one run: (base URL, the profile to use or None, why the kept
    profile is not used or ""). With `keep_profile`, on `profile_port()` when it is free
    (then with the profile); else, or when it is taken, on a port of its own and with no
    profile."""
    profile = profile_dir() if keep_profile else None
    note = ""
    with contextlib.ExitStack() as stack:
        base = None
        if profile is not None:
            try:
                base = stack.enter_context(devserver.running_server(
                    port=profile_port(), mounts=mounts, extra_routes=extra_routes))
            except OSError:                  # taken: another run, or another program
                note = (f"port {profile_port()} was in use (another imgpool run?), so this "
                        "run started without the kept browser profile: a slower start")
                profile = None
        if base is None:
            base = stack.enter_context(devserver.running_server(
                mounts=mounts, extra_routes=extra_routes))
        yield base, profile, note
