"""Find the Chromium/Chrome that Playwright drives (never downloaded by Playwright).

Order: $IMGPOOL_BROWSER, then well-known executables on PATH, then well-known paths.
`python -m imgpool_host.browser` prints the path or exits 1 (used by scripts/setup).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["BrowserNotFound", "find_browser", "LAUNCH_ARGS"]

ENV_VAR = "IMGPOOL_BROWSER"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
              "chrome")
PATHS = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium",
         "/opt/google/chrome/chrome")

#: Flags for a quiet, offline, headless run: no background traffic to any other host.
LAUNCH_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-quic",
    "--disable-gpu",
    "--disable-dev-shm-usage",
]


class BrowserNotFound(RuntimeError):
    """No usable browser; the message says what to install or set."""


def find_browser(explicit: str | os.PathLike | None = None) -> str:
    """Return the path of a Chromium-family executable, or raise BrowserNotFound."""
    if explicit:
        path = Path(explicit)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise BrowserNotFound(f"browser {explicit} is not an executable file")
    env = os.environ.get(ENV_VAR)
    if env:
        return find_browser(env)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    for p in PATHS:
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise BrowserNotFound(
        "no Chromium or Chrome found: install one (Debian/Ubuntu: apt-get install chromium) "
        f"or set {ENV_VAR}=/path/to/chrome (or pass --browser PATH)")


def launch_args() -> list[str]:
    """LAUNCH_ARGS, plus --no-sandbox when running as root (Chromium refuses otherwise)."""
    args = list(LAUNCH_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


if __name__ == "__main__":
    try:
        print(find_browser())
    except BrowserNotFound as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
