"""What the numbers were measured on: CPU, memory, OS, browser and runtime versions."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import psutil

from imgpool_host.devserver import ROOT

__all__ = ["describe_machine"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _npm_version(name: str) -> str | None:
    try:
        return json.loads((ROOT / "wasm" / "node_modules" / name / "package.json")
                          .read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def _commit() -> str | None:
    """The commit measured (with "+changes" if the tree differs from it)."""
    import subprocess

    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return os.environ.get("IMGPOOL_BENCH_COMMIT")
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return head.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("IMGPOOL_BENCH_COMMIT")


def describe_machine(browser_version: str = "", boot: dict | None = None,
                     libvips: str | None = None) -> dict:
    boot = boot or {}
    return {
        "commit": _commit(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "chromium": browser_version,
        "wasm_vips": _npm_version("wasm-vips"),
        "libvips_in_wasm": boot.get("vips_version"),
        "pyodide": _npm_version("pyodide"),
        "python_in_pyodide": boot.get("python_version"),
        "native_libvips": libvips,
        "host_python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
