"""The page adapter with a responsive set (CPython, a fake port): a worker's set becomes
one done event whose files carry their output names and `<picture>` markup, colliding
inputs get distinct sets, and a dropped copy gets the set under its own names."""

from __future__ import annotations

import json

from imgpool.page.app import App
from imgpool.shared import protocol as P

try:
    from .test_page_intake_chunks import _File, _jpeg, _Port, _run
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from test_page_intake_chunks import _File, _jpeg, _Port, _run

OPTIONS = json.dumps({"widths": "800,400", "formats": "webp,jpeg", "dedupe": True})
SUFFIXES = ["-800.webp", "-800.jpg", "-400.webp", "-400.jpg"]


class _Buffers(list):
    """Stands for the JS array of a set's ArrayBuffers (never read by Python)."""


def _done(task_id: int, buffers) -> tuple[str, object, object]:
    """A worker's message for a 4-file set: (meta JSON, first buffer, every buffer)."""
    outs = [P.SetOutput(suffix=s, width=800 if "800" in s else 400,
                        height=600 if "800" in s else 300, format=s.rsplit(".")[-1]
                        .replace("jpg", "jpeg"), out_bytes=1000 + i, quality=80)
            for i, s in enumerate(SUFFIXES)]
    msg = P.TaskDoneMsg(slot=0, gen=1, task_id=task_id, width=800, height=600,
                        format="webp", in_bytes=5000, out_bytes=4006, elapsed_ms=5.0,
                        heap_bytes=0, mem_highwater_bytes=0, encodes=4, outputs=outs)
    return json.dumps(msg.to_message()), buffers[0], buffers


def test_a_set_is_one_done_event_with_named_files_and_markup_for_each_copy():
    jpeg = _jpeg(1200, 900)
    files = [_File("a.jpg", jpeg), _File("a.png", jpeg[:-1] + b"x"), _File("b/copy.jpg", jpeg)]
    for f in files:
        f.imgpoolSha256 = "same" if f.data == jpeg else "other"
    port = _Port()
    emitted: list[tuple[dict, object]] = []
    port.emit = lambda event, output, file=None, variants=None: emitted.append(
        (json.loads(event), variants))
    app = App(port, "?workers=1", 1, 8)
    app.start()
    app.on_message(0, 1, json.dumps(P.Ready(slot=0, gen=1, init_ms=1.0).to_message()), None)
    assert _run(lambda: app.add_files(files, OPTIONS)) == ""
    buffers = _Buffers(["b1", "b2", "b3", "b4"])
    app.on_message(0, 1, *_done(1, buffers))
    done = {e["name"]: (e, v) for e, v in emitted if e["type"] == "task_done"}
    original, copy = done["a.jpg"][0], done["b/copy.jpg"][0]
    assert [f["output_name"] for f in original["variants"]] == [f"a{s}" for s in SUFFIXES]
    assert [f["output_name"] for f in copy["variants"]] == [f"b/copy{s}" for s in SUFFIXES]
    assert done["a.jpg"][1] is buffers and done["b/copy.jpg"][1] is buffers
    assert original["output_name"] == "a-800.webp"
    assert 'srcset="a-800.webp 800w, a-400.webp 400w"' in original["snippet"]
    assert 'src="b/copy-400.jpg"' in copy["snippet"]
    app.on_message(0, 1, *_done(2, _Buffers(["c1", "c2", "c3", "c4"])))
    png = next(e for e, _ in emitted if e["type"] == "task_done" and e["name"] == "a.png")
    assert png["variants"][0]["output_name"] == "a.png-800.webp"     # a-800.webp is a.jpg's
