#!/usr/bin/env python3
"""Render the web app manifest's PNG icons from web/icon.svg (ours) with pyvips.

Run by scripts/setup; the PNGs land in wasm/dist/icons/ (served as runtime/wheels/icons/,
copied by `imgpool build`). Skipped when they are newer than the SVG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyvips

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "web" / "icon.svg"
OUT = ROOT / "wasm" / "dist" / "icons"
#: Sizes Chromium asks for to offer "Install" (192) and for the splash screen (512).
SIZES = (192, 512)
#: A maskable icon keeps its picture inside the central 80 % circle (the safe zone).
MASKABLE_SIZE = 512
MASKABLE_SAFE = 0.8
#: The SVG's background colour, to fill a maskable icon's bleed area.
BACKGROUND = (0x1D, 0x4E, 0x89, 255)


def outputs(out: Path) -> list[Path]:
    return [out / f"icon-{n}.png" for n in SIZES] + [out / f"icon-maskable-{MASKABLE_SIZE}.png"]


def render(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    for size, path in zip(SIZES, outputs(out)):
        pyvips.Image.thumbnail(str(SVG), size, height=size).pngsave(str(path), strip=True)
    inner = round(MASKABLE_SIZE * MASKABLE_SAFE)
    picture = pyvips.Image.thumbnail(str(SVG), inner, height=inner)
    canvas = (pyvips.Image.black(MASKABLE_SIZE, MASKABLE_SIZE).new_from_image(list(BACKGROUND))
              .copy(interpretation="srgb"))
    offset = (MASKABLE_SIZE - inner) // 2
    canvas.composite2(picture, "over", x=offset, y=offset).cast("uchar").pngsave(
        str(outputs(out)[-1]), strip=True)
    return outputs(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    targets = outputs(args.out)
    if all(p.exists() and p.stat().st_mtime >= SVG.stat().st_mtime for p in targets):
        return
    for path in render(args.out):
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
