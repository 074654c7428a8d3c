"""The page's dedupe and output names (imgpool.page.sameas), in plain CPython."""

from __future__ import annotations

from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.shared.options import Options
from imgpool.page.sameas import DropPlacer, Twins, copy_event

JPEG, PNG = ImageInfo(format=ImageFormat.JPEG), ImageInfo(format=ImageFormat.PNG)


def test_a_copy_waits_on_its_original_and_takes_its_own_name():
    twins = Twins()
    drop = DropPlacer(twins)
    assert drop.place(1, "a.jpg", 10, "h1", JPEG, Options()) is None
    copy = drop.place(2, "b/a.jpg", 10, "h1", JPEG, Options())
    assert (copy.same_as, copy.same_as_task_id, copy.to_dict()["type"]) == (
        "a.jpg", 1, "task_duplicate")
    assert drop.place(3, "c.jpg", 10, "h2", JPEG, Options()) is None      # other content
    assert twins.output_name(2, "b/a.jpg", "webp", False) == "b/a.webp"
    assert twins.settle(1) == [2] and twins.settle(1) == []


def test_same_content_with_other_options_is_not_a_copy():
    drop = DropPlacer(Twins())
    assert drop.place(1, "a.jpg", 10, "h1", JPEG, Options()) is None
    assert drop.place(2, "b.jpg", 10, "h1", JPEG, Options(quality=50)) is None


def test_a_copy_of_an_original_that_already_settled_runs_on_its_own():
    twins = Twins()
    drop = DropPlacer(twins)
    drop.place(1, "a.jpg", 10, "h1", JPEG, Options())
    twins.settle(1)
    assert drop.place(2, "b.jpg", 10, "h1", JPEG, Options()) is None


def test_colliding_outputs_in_a_drop_get_the_shared_rule_the_same_every_time():
    for _ in range(2):
        twins = Twins()
        drop = DropPlacer(twins)
        drop.place(1, "a.jpg", 10, None, JPEG, Options())
        drop.place(2, "a.png", 10, None, PNG, Options())
        assert twins.output_name(1, "a.jpg", "webp", False) == "a.webp"
        assert twins.output_name(2, "a.png", "webp", False) == "a.png.webp"
        assert twins.output_name(2, "a.png", "png", True) == "a.png.png"   # kept original


def test_copy_events_mirror_the_original():
    done = {"type": "task_done", "task_id": 1, "name": "a.jpg", "size_bytes": 10,
            "result": {"format": "webp"}, "output_name": "a.webp"}
    ev = copy_event(done, 2, "b.jpg", 10, "b.webp")
    assert (ev["task_id"], ev["name"], ev["output_name"], ev["duplicate_of"],
            ev["same_as_task_id"]) == (2, "b.jpg", "b.webp", "a.jpg", 1)
    failed = {"type": "task_failed", "task_id": 1, "name": "a.jpg", "reason": "bad_input",
              "message": "truncated", "plain": "The file is damaged."}
    ev = copy_event(failed, 2, "b.jpg", 10, "")
    assert ev["reason"] == "bad_input" and ev["plain"].startswith("Same content as a.jpg")


def test_a_copy_cancelled_on_its_own_waits_no_more():
    twins = Twins()
    drop = DropPlacer(twins)
    drop.place(1, "a.jpg", 10, "h1", JPEG, Options())
    drop.place(2, "b.jpg", 10, "h1", JPEG, Options())
    assert twins.forget_copy(2) and not twins.forget_copy(2)
    assert twins.settle(1) == []
