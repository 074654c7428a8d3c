"""Reading a request target before anything touches the disk: the path's safe segments,
and the conditional-request checks (ETag, If-Modified-Since). Pure functions."""

from __future__ import annotations

import email.utils
import os
from http import HTTPStatus
from urllib.parse import unquote

__all__ = ["Refused", "split_target", "segments", "etag", "etag_matches", "not_modified_since"]


class Refused(Exception):
    """A request target that is answered with `status` before touching the disk."""

    def __init__(self, status: HTTPStatus):
        super().__init__(status)
        self.status = status


def split_target(target: str) -> tuple[str, str]:
    """Return (path, query) of an origin-form target; raise Refused for anything else."""
    if not target.startswith("/") or any(not ("!" <= ch <= "~") for ch in target):
        raise Refused(HTTPStatus.BAD_REQUEST)
    path, _, query = target.partition("?")
    return path.partition("#")[0], query


def segments(path: str) -> list[str]:
    """Decode a path into safe segments. The last one is "" when the path ends in "/"."""
    raw = path[1:].split("/")
    out = []
    for i, seg in enumerate(raw):
        if "\\" in seg:
            raise Refused(HTTPStatus.FORBIDDEN)
        try:
            name = unquote(seg, errors="strict")
        except UnicodeDecodeError:
            raise Refused(HTTPStatus.BAD_REQUEST) from None
        if name == "":
            if i != len(raw) - 1:                  # "//" anywhere: never a real path
                raise Refused(HTTPStatus.FORBIDDEN)
        elif (name in (".", "..") or "%" in name   # "%" left after one decode: double-encoding
              or any(ch in name for ch in "/\\:") or any(ord(ch) < 32 or ord(ch) == 127
                                                         for ch in name)):
            raise Refused(HTTPStatus.FORBIDDEN)
        elif name.startswith("."):                 # hidden: .stamp files, .git, ...
            raise Refused(HTTPStatus.NOT_FOUND)
        out.append(name)
    return out


def etag(st: os.stat_result) -> str:
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match asks (RFC 9110 §13.1.2)."""
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def not_modified_since(header: str, st: os.stat_result) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    return since is not None and since.tzinfo is not None and int(st.st_mtime) <= since.timestamp()
