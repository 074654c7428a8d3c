"""What the dev server serves and how: the mount table, cache policy, security headers and
content types. One table each, read by the server, the static build and the service
worker's precache (`appfiles.py`)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT", "Cache", "Mount", "MOUNTS", "REQUIRED_RUNTIME_FILES", "CSP",
           "SECURITY_HEADERS", "MIME_TYPES", "DEFAULT_MIME"]

#: The repository root: server/imgpool_host/servepolicy.py → ../../..
ROOT = Path(__file__).resolve().parents[2]


class Cache(enum.Enum):
    """How long a browser may reuse a file from one mount without asking again."""

    #: Pinned runtimes: not content-hashed, so a day rather than `immutable`.
    PINNED = "public, max-age=86400"
    #: App files and wheels: always revalidate (cheap 304), so a rebuild shows up at once.
    REVALIDATE = "no-cache"


@dataclass(frozen=True)
class Mount:
    """A directory served under a URL prefix."""

    directory: Path
    cache: Cache = Cache.REVALIDATE


#: URL prefix → what it serves. The longest matching prefix wins. Prefixes start and end
#: with "/". `make_server(mounts=...)` replaces the whole table (tests use a tmp one).
MOUNTS: Mapping[str, Mount] = {
    "/": Mount(ROOT / "web"),
    "/runtime/pyodide/": Mount(ROOT / "wasm" / "node_modules" / "pyodide", Cache.PINNED),
    "/runtime/vips/": Mount(ROOT / "wasm" / "node_modules" / "wasm-vips" / "lib", Cache.PINNED),
    "/runtime/wheels/": Mount(ROOT / "wasm" / "dist"),
    "/runtime/libheif/": Mount(ROOT / "wasm" / "node_modules" / "libheif-js" / "libheif-wasm",
                               Cache.PINNED),
    # Streaming zip writer for "Download all" (the page's web/page/output.js).
    "/runtime/client-zip/": Mount(ROOT / "wasm" / "node_modules" / "client-zip", Cache.PINNED),
}

#: URL paths that must resolve for the page to boot at all (checked by `imgpool serve`).
REQUIRED_RUNTIME_FILES = (
    "/runtime/pyodide/pyodide.mjs",
    "/runtime/pyodide/pyodide.asm.wasm",
    "/runtime/pyodide/python_stdlib.zip",
    "/runtime/vips/vips-es6.js",
    "/runtime/vips/vips.wasm",
)

#: One policy for every response. Only this origin, nothing inline but styles.
#: 'wasm-unsafe-eval' compiles Pyodide's and libvips's wasm; 'unsafe-eval' is for the
#: emscripten loaders, which `eval` the EM_ASM snippets of dynamically loaded side modules
#: (Pyodide packages, vips-heif/jxl/resvg.wasm) and back `pyodide.code.run_js`. A worker
#: loads wasm-vips from a blob: URL of its script, its pool resized (worker.js), and the
#: pthreads start from that URL. blob: URLs are made only by code already running here,
#: which 'unsafe-eval' lets run anything anyway: allowing them opens nothing new.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self' blob: 'wasm-unsafe-eval' 'unsafe-eval'",
    "worker-src 'self' blob:",
    "img-src 'self' blob: data:",
    "connect-src 'self' blob: data:",
    "style-src 'self' 'unsafe-inline'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])

#: Sent on every response, whatever its status.
SECURITY_HEADERS: Mapping[str, str] = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
}

#: File suffix → Content-Type. Explicit, so the host's /etc/mime.types cannot change it.
MIME_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".map": "application/json",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".tar": "application/x-tar",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
DEFAULT_MIME = "application/octet-stream"
