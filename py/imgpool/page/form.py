"""The page's settings form, described from `Options` so no default lives in HTML or JS.

The page asks for `form_schema()` once at boot and builds its inputs from it: each
field's name, label, kind, choices, default and limits come from `imgpool.shared.options`
(the defaults and `LIMITS`), and only the words a person reads are written here. The
form sends its values back as strings; `imgpool.shared.options.field_errors` says what is wrong
with each, so every error can stand beside its own field.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from enum import Enum
from typing import Any

from ..shared.options import (LIMITS, ColourHandling, Fit, MetadataPolicy, Options, OutputFormat)

__all__ = ["FORM_FIELDS", "form_schema", "form_errors"]

#: The fields the page shows, in order, with their label and a one-line hint.
FORM_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("format", "Format", "The file type of the results."),
    ("quality", "Quality", "Higher looks better and makes larger files."),
    ("max_size", "Longest side (px)", "Larger images are scaled down to fit; empty keeps the size."),
    ("metadata", "Metadata", "Which camera details and location the results keep."),
    ("effort", "Effort", "Higher makes smaller files but takes longer."),
    ("lossless", "Lossless", "Keep every pixel exactly (larger files)."),
    ("keep_original_if_larger", "Keep the original if the result is larger",
     "A result is never bigger than the file you gave."),
    ("target_size", "Target size", "Largest file wanted, like 200KB or 50%; the quality "
                                   "is lowered until it fits. Empty: no target."),
    ("strict_size", "Fail files that cannot fit",
     "Without this, a file that does not fit even at low quality is kept with a note."),
    ("min_ssim", "Lowest quality score", "Like 0.95 (SSIM, 0 to 1): the quality is raised "
                                         "from Quality until the score holds. Empty: none."),
    ("measure_quality", "Measure quality",
     "Score every result against the original (SSIM); takes a little longer."),
    ("dedupe", "Process identical files once",
     "A file with the same content as another gets a copy of its result."),
    ("widths", "Responsive widths (px)", "Like 480,960,1920: one file per width, from one "
                                         "decode (replaces the longest side). Empty: one."),
    ("formats", "Responsive formats", "Like avif,webp,jpeg: one file per format (per "
                                      "width). Empty: just the format above."),
)

#: Free-text fields (checked by Python like the others) and the example they show.
TEXT_FIELDS: dict[str, str] = {"target_size": "200KB", "min_ssim": "0.95",
                               "widths": "480,960,1920", "formats": "avif,webp,jpeg"}

#: Words for the choices of the enum fields the form shows.
CHOICE_LABELS: dict[type[Enum], dict[str, str]] = {
    OutputFormat: {"webp": "WebP", "avif": "AVIF", "jpeg": "JPEG", "png": "PNG",
                   "jxl": "JPEG XL", "gif": "GIF", "same": "Same as input"},
    MetadataPolicy: {"strip": "Remove all", "copyright": "Keep copyright only",
                     "all": "Keep all"},
    Fit: {"inside": "Fit inside", "cover": "Fill and crop"},
    ColourHandling: {"srgb": "Convert to sRGB", "keep": "Keep the profile"},
}


def form_schema() -> list[dict[str, Any]]:
    """One dict per shown field: name, label, hint, kind ("choice", "number", "bool"),
    default, and choices or min/max/optional."""
    defaults = Options()
    types = {f.name: f.type for f in dataclasses.fields(Options)}
    out = []
    for name, label, hint in FORM_FIELDS:
        default = getattr(defaults, name)
        field: dict[str, Any] = {"name": name, "label": label, "hint": hint}
        if isinstance(default, Enum):
            words = CHOICE_LABELS[type(default)]
            field.update(kind="choice", default=default.value,
                         choices=[[m.value, words.get(m.value, m.value)]
                                  for m in type(default)])
        elif isinstance(default, bool):
            field.update(kind="bool", default=default)
        elif name in TEXT_FIELDS:
            if isinstance(default, tuple):  # a list option: comma-separated
                default = ",".join(str(getattr(v, "value", v)) for v in default)
            field.update(kind="text", default="" if default is None else str(default),
                         placeholder=TEXT_FIELDS[name])
        elif name in LIMITS:
            lo, hi = LIMITS[name]
            field.update(kind="number", default=default, min=lo, max=hi,
                         optional="None" in str(types[name]))
        else:  # a field added to FORM_FIELDS without a kind here: fail loudly at boot
            raise TypeError(f"the form cannot show option {name!r}")
        out.append(field)
    return out


_GOT = re.compile(r"^(?P<rule>.*); got (?P<value>.*)$", re.S)
_LABELS = {name: label for name, label, _ in FORM_FIELDS}
_OPTION_NAMES = re.compile(r"\b(" + "|".join(sorted(_LABELS, key=len, reverse=True)) + r")\b")
_CHOICES = {name: CHOICE_LABELS[type(getattr(Options(), name))]
            for name, _, _ in FORM_FIELDS if isinstance(getattr(Options(), name), Enum)}


def form_errors(errors: dict[str, str]) -> dict[str, str]:
    """The option errors (`field_errors`, worded for the CLI and presets: option names,
    Python reprs) in the form's words: each field's label, and what was typed."""
    return {name: _form_error(name, text) for name, text in errors.items()}


def _form_error(name: str, text: str) -> str:
    if name in _CHOICES:                # a list to pick from: only a link can give another
        words = ", ".join(_CHOICES[name].values())
        return f"{_LABELS[name]}: choose one of {words}."
    match = _GOT.match(text)
    rule, value = (match["rule"], match["value"]) if match else (text, None)
    # One pass, so a label is never renamed again; mid-sentence, a label in lower case.
    rule = _OPTION_NAMES.sub(
        lambda m: _LABELS[m[0]] if m.start() == 0 else _LABELS[m[0]].lower(), rule)
    rule = rule[:1].upper() + rule[1:]
    rule = re.sub(r"'([^']*)'", r"“\1”", rule).rstrip(".")    # the form's quotes
    if value is None:
        return rule + "."
    try:
        given = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        given = value
    if given in ("", None):
        return f"{rule}: the box is empty."
    return f"{rule}, not “{given}”."
