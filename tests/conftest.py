"""Shared test set-up: make `py/` and `server/` importable without an install step."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("py", "server", "tests/e2e"):
    path = str(ROOT / sub)
    if path not in sys.path:
        sys.path.insert(0, path)
