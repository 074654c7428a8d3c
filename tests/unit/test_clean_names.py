"""Names the page sends back for results: `is_clean_name` refuses every way out of OUT
(`..` segments, absolute paths, backslashes, empty or `.` segments, control characters)
and accepts ordinary names, dots inside names included."""

from __future__ import annotations

import pytest

from imgpool_host.batch.sink import is_clean_name


@pytest.mark.parametrize("name", [
    "..", "../x.jpg", "a/../b.jpg", "a/..", "a/b/../../../etc/passwd", "../../evil",
    "/etc/passwd", "a\\..\\b.jpg", "", ".", "./a.jpg", "a//b.jpg", "a/./b.jpg", "a/",
    "a\x00b.jpg", "a\nb.jpg", "a\x7fb.jpg",
])
def test_refused(name):
    assert not is_clean_name(name)


@pytest.mark.parametrize("name", [
    "a.jpg", "deep/b.png", "..a.jpg", "a..jpg", "a/..b/c.jpg", "...", "a/.../b.jpg",
    ".hidden.png", "Grüße/ü.webp", "with space.jpg",
])
def test_accepted(name):
    assert is_clean_name(name)
