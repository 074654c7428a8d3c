"""JSON text that is always valid UTF-8, whatever the file names in it.

A file name that is not valid UTF-8 reaches Python as a str with lone surrogates
(`os.fsdecode`'s surrogateescape: byte 0xff becomes U+DCFF). `json.dumps(...,
ensure_ascii=False)` would hand those on raw, and the text then cannot be encoded
(UnicodeEncodeError) or is written as invalid UTF-8. `dumps` writes each lone surrogate
as a `\\udcXX` escape instead: valid JSON text, readable names everywhere else, and
lossless: `json.loads` gives back the same str, and `os.fsencode` of it the original
bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["dumps"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(obj: Any, indent: int | None = None) -> str:
    """`json.dumps(obj, ensure_ascii=False)` with lone surrogates as `\\uXXXX` escapes."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    # A surrogate can only occur inside a JSON string, where its escape means the same.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
