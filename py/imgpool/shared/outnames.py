"""Output names that never collide: the rule the command line and the page share.

Theory of operation
-------------------
An output is named after its input with the extension swapped (`a.jpg` -> `a.webp`), so
two inputs can ask for the same output (`a.jpg` and `a.png` both -> `a.webp`). Instead of
failing the second, each input in turn (walk order) takes the first *stem* whose outputs
are all free, from:

    a           the input's name without its extension (the usual case)
    a.png       the whole input name (`a.png.webp`): says where it came from
    a.png (2)   then numbered, for the rare case both of the above are taken

An input claims an output for every extension it may end up with (the planned format,
plus its own when a larger result may be replaced by the original), so no later input
can take one of them.

Rules:
- Deterministic: the same names in the same order always get the same stems, so a
  resumed run finds its outputs where the last run put them.
- Unique: no two inputs share an output, compared without case (a zip opened on
  Windows or macOS, or an OUT on such a disk, would merge `A.webp` and `a.webp`).
- Never an input: an output never equals a `reserved` path (inputs that live where the
  outputs go), so an input is never replaced.
- Pure and stdlib-only: names are relative POSIX paths; nothing touches a disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import count
from pathlib import PurePosixPath

__all__ = ["OutputStem", "OutputNamer", "natural_stem", "candidate_stems", "assign_stems"]


@dataclass(frozen=True)
class OutputStem:
    """Where one input's outputs go: `stem` + an extension (relative POSIX path)."""

    stem: str
    renamed_from: str = ""   #: the stem it would have had, when that was taken; else ""

    def output(self, suffix: str) -> str:
        return self.stem + suffix


def natural_stem(name: str) -> str:
    """`name` without its extension: `photos/a.jpg` -> `photos/a`."""
    path = PurePosixPath(name)
    return str(path.with_suffix("")) if path.suffix else name


def candidate_stems(name: str) -> Iterator[str]:
    """The stems `name` may take, in order of preference (see the module rules)."""
    first = natural_stem(name)
    yield first
    if name != first:
        yield name
    for n in count(2):
        yield f"{name} ({n})"


def _key(path: str) -> str:
    return path.casefold()


class OutputNamer:
    """Hands out stems one input at a time; remembers every output claimed."""

    def __init__(self, reserved: Iterable[str] = ()):
        self._taken: dict[str, str] = {}             # output key -> the input that has it
        self._reserved = {_key(r) for r in reserved}

    def owner(self, output: str) -> str | None:
        """The input that claimed `output`, if any."""
        return self._taken.get(_key(output))

    def free(self, output: str) -> None:
        """Un-reserve `output` (the host found it belongs to the input about to claim it)."""
        self._reserved.discard(_key(output))

    def take(self, name: str, output: str) -> bool:
        """Claim exactly `output` for `name`: True if it is now (or was already) `name`'s,
        False if another input or an input file has it."""
        key = _key(output)
        if key in self._reserved or self._taken.get(key, name) != name:
            return False
        self._taken[key] = name
        return True

    def claim(self, name: str, suffixes: Sequence[str]) -> OutputStem:
        """The first free stem for `name` whose outputs (stem + each suffix) are all free;
        they are claimed for `name`."""
        natural = natural_stem(name)
        for stem in candidate_stems(name):
            keys = [_key(stem + s) for s in suffixes] or [_key(stem)]
            if any(k in self._taken or k in self._reserved for k in keys):
                continue
            for k in keys:
                self._taken[k] = name
            return OutputStem(stem, "" if stem == natural else natural)
        raise AssertionError("unreachable: candidate_stems never ends")


def assign_stems(items: Iterable[tuple[str, Sequence[str]]],
                 reserved: Iterable[str] = ()) -> list[OutputStem]:
    """One stem per (input name, output suffixes), in order: see `OutputNamer.claim`."""
    namer = OutputNamer(reserved)
    return [namer.claim(name, suffixes) for name, suffixes in items]
