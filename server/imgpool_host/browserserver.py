"""`imgpool browser-server [--port P] [--host H]`: Playwright's own browser server with
this machine's Chromium, for `imgpool optimize --connect ws://…` on another machine.

Theory of operation
-------------------
Not a server of ours: Playwright's `launch-server` command (the Node driver bundled in
the Python package, `playwright._impl._driver`) runs `chromium.launchServer` with a
config file we write: the local Chromium (`browser.find_browser`), our launch flags,
headless, the port and host asked for, and a random path, so only someone told the
endpoint can use the browser. Nothing is downloaded.

The endpoint is printed as one line, `imgpool browser-server: ws://HOST:PORT/PATH`, the
moment the server listens (tests and scripts read it). The server runs until Ctrl-C or
SIGTERM, which stop the Node process and with it the browser.

Rules:
- Binds to 127.0.0.1 unless `--host` says otherwise, with a warning then: whoever
  reaches the endpoint drives a browser on this machine.
- The client must run the same Playwright version (the protocol is not stable across
  versions): the version is printed beside the endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile

from .browser import BrowserNotFound, find_browser, launch_args

__all__ = ["add_parser", "run", "server_command", "ENDPOINT_PREFIX"]

NAME = "browser-server"
PROG = "imgpool browser-server"
#: The line that announces the endpoint starts with this.
ENDPOINT_PREFIX = f"{PROG}: "
_WS = re.compile(r"ws://\S+")


def add_parser(subparsers) -> argparse.ArgumentParser:
    from .cli import SUBCOMMANDS

    parser = subparsers.add_parser(
        NAME, help=SUBCOMMANDS[NAME].help,
        description="Start Playwright's browser server with this machine's Chromium, so "
                    "`imgpool optimize --connect ws://...` elsewhere can use it. Prints the "
                    "endpoint, then runs until Ctrl-C.")
    parser.add_argument("--port", type=int, default=0,
                        help="port (default 0: a free one, printed)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; anything else lets the "
                             "network drive this browser)")
    parser.add_argument("--browser", metavar="PATH",
                        help="Chromium/Chrome to use (default: found on this machine)")
    return parser


def server_command(config_path: str) -> list[str]:
    """The Node driver's `launch-server` command line for a config file."""
    from playwright._impl._driver import compute_driver_executable

    node, cli = compute_driver_executable()
    return [str(node), str(cli), "launch-server", "--browser", "chromium",
            "--config", config_path]


def _config(exe: str, host: str, port: int) -> dict:
    return {"executablePath": exe, "args": launch_args(), "headless": True,
            "host": host, "port": port, "wsPath": "/" + secrets.token_urlsafe(18),
            "handleSIGINT": True, "handleSIGTERM": True}


def run(args: argparse.Namespace) -> int:
    from importlib.metadata import version

    from .cli import EXIT_UNAVAILABLE, _is_loopback

    try:
        exe = find_browser(args.browser)
    except BrowserNotFound as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if not _is_loopback(args.host):
        print(f"{PROG}: warning: binding to {args.host}: anyone who can reach it and knows "
              "the endpoint can drive a browser on this machine", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="imgpool-bs-") as folder:
        config = os.path.join(folder, "config.json")
        with open(config, "w") as f:
            json.dump(_config(exe, args.host, args.port), f)
        proc = subprocess.Popen(server_command(config), stdout=subprocess.PIPE, text=True)
        restore = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
        try:
            return _relay(proc, version("playwright"))
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            return 0
        finally:
            signal.signal(signal.SIGTERM, restore)


def _relay(proc: subprocess.Popen, pw_version: str) -> int:
    """Print the endpoint when Node announces it; wait for the server to end."""
    assert proc.stdout is not None
    for line in proc.stdout:
        found = _WS.search(line)
        if found:
            print(f"{ENDPOINT_PREFIX}{found.group(0)}  (Playwright {pw_version})", flush=True)
        else:
            print(line.rstrip(), file=sys.stderr, flush=True)
    code = proc.wait()
    return 0 if code in (0, -signal.SIGTERM, 128 + signal.SIGTERM) else 1
