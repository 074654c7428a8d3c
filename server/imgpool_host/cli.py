"""The `imgpool` command: one parser, subcommands registered in SUBCOMMANDS.

Each subcommand is an object (usually a module) exposing

    add_parser(subparsers) -> argparse.ArgumentParser   # subparsers.add_parser(NAME, ...)
    run(args: argparse.Namespace) -> int                 # the exit status

and is loaded lazily: `main` imports only the subcommand named on the command line, so
`imgpool serve` never imports Playwright. The others appear in `imgpool --help` from their
registry help text alone. A registered module that is not there yet is reported in one
line and exit status 2. To add one: write the module, add a `Subcommand` line below.

The top-level parser takes no options with values, so the first argument not starting
with "-" names the subcommand.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import ipaddress
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Subcommand", "SUBCOMMANDS", "ServeCommand", "main"]

PROG = "imgpool"
DEFAULT_PORT = 8000
#: Exit status for "cannot do that here" (missing runtimes, missing module, bad address).
EXIT_UNAVAILABLE = 2


class SubcommandMissing(Exception):
    """The module that implements a registered subcommand is not installed."""


@dataclass(frozen=True)
class Subcommand:
    """A registry entry: the help line for `imgpool --help`, and how to load the code."""

    help: str
    load: Callable[[], Any]


def lazy_module(name: str) -> Callable[[], Any]:
    """A loader that imports `name` when called; SubcommandMissing if the module is absent."""
    def load() -> Any:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only the module itself (or its package) missing counts; a missing dependency
            # inside a present module is a real error and keeps its traceback.
            if exc.name == name or name.startswith(f"{exc.name}."):
                raise SubcommandMissing(name) from None
            raise
    return load


class ServeCommand:
    """`imgpool serve`: the dev server on loopback until Ctrl-C."""

    @staticmethod
    def add_parser(subparsers) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(
            "serve", help=SUBCOMMANDS["serve"].help,
            description="Serve the app with the cross-origin-isolation headers it needs. "
                        "Runs until Ctrl-C.")
        parser.add_argument("--host", default="127.0.0.1",
                            help="address to bind (default 127.0.0.1; anything else makes "
                                 "the app reachable from the network)")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                            help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
        parser.add_argument("--verbose", action="store_true",
                            help="print one line per request to stderr")
        return parser

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from imgpool_host import appfiles, devserver

        served = appfiles.server_kwargs()      # this checkout's files, or the wheel's copy
        missing = devserver.missing_runtimes(served["mounts"])
        if missing:
            print(f"{PROG} serve: runtimes not installed: run scripts/setup "
                  f"(missing {', '.join(missing)})", file=sys.stderr)
            return EXIT_UNAVAILABLE
        if not _is_loopback(args.host):
            print(f"{PROG} serve: warning: binding to {args.host} makes the app reachable "
                  "from the network (and plain http from another machine is not a secure "
                  "context, so SharedArrayBuffer will not be available there)",
                  file=sys.stderr, flush=True)
        try:
            server = devserver.make_server(args.host, args.port, verbose=args.verbose,
                                           **served)
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            print(f"{PROG} serve: cannot listen on {args.host}:{args.port}: {reason}",
                  file=sys.stderr)
            return EXIT_UNAVAILABLE
        # Ctrl-C may arrive as soon as the URL is printed, so the whole block is covered.
        try:
            with server:
                print(f"{PROG} serving on {server.url}", flush=True)
                server.serve_forever()
        except KeyboardInterrupt:
            pass
        return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: name → subcommand, in `--help` order.
SUBCOMMANDS: dict[str, Subcommand] = {
    "serve": Subcommand("serve the app on http://127.0.0.1 (static files, COOP/COEP)",
                        lambda: ServeCommand),
    "optimize": Subcommand("optimize a folder of images headlessly (Playwright + Chromium)",
                           lazy_module("imgpool_host.optimize_cli")),
    "build": Subcommand("write the app as static files for any host (offline-capable, "
                        "no special headers needed)", lazy_module("imgpool_host.staticbuild")),
    "browser-server": Subcommand("start Playwright's browser server with this machine's "
                                 "Chromium, for `optimize --connect` elsewhere",
                                 lazy_module("imgpool_host.browserserver")),
    "bench": Subcommand("measure throughput, memory, latency, responsiveness and start-up "
                        "against baselines", lazy_module("imgpool_host.bench")),
}


def build_parser(loaded: dict[str, Any]
                 ) -> tuple[argparse.ArgumentParser, Mapping[str, argparse.ArgumentParser]]:
    """The parser: full sub-parsers for `loaded` commands, help-only ones for the rest;
    and each command's own parser, by name."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Offline batch image optimizer: wasm-vips in browser workers.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, spec in SUBCOMMANDS.items():
        if name in loaded:
            loaded[name].add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=spec.help)
    return parser, subparsers.choices


def _unrecognized(sub: argparse.ArgumentParser, unknown: Sequence[str]) -> str:
    """The usage error for flags `sub` does not know, with the nearest it does."""
    known = [o for a in sub._actions for o in a.option_strings if o.startswith("--")]
    hints = []
    for token in unknown:
        if token.startswith("--"):
            near = difflib.get_close_matches(token.split("=", 1)[0], known, n=1)
            hints += [f"{token} (did you mean {near[0]}?)"] if near else [token]
        else:
            hints.append(token)
    return "unrecognized arguments: " + " ".join(hints)


def _chosen(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = _chosen(argv)
    loaded: dict[str, Any] = {}
    if name in SUBCOMMANDS:
        try:
            loaded[name] = SUBCOMMANDS[name].load()
        except SubcommandMissing as exc:
            print(f"{PROG} {name}: not available in this build (module {exc} is missing)",
                  file=sys.stderr)
            return EXIT_UNAVAILABLE
    parser, commands = build_parser(loaded)
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            # Told by the command's own parser (its usage, a near flag), not the top one's.
            sub = commands.get(args.command, parser)
            sub.error(_unrecognized(sub, unknown))
    except SystemExit as exc:            # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_UNAVAILABLE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_UNAVAILABLE
    return int(loaded[args.command].run(args))


if __name__ == "__main__":
    sys.exit(main())
