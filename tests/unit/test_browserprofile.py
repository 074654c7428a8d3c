"""Where the kept browser profile lives and which port it needs (imgpool_host.browserprofile)."""

from __future__ import annotations

from pathlib import Path

from imgpool_host.browserprofile import PROFILE_PORT, cache_dir, profile_dir, profile_port


def test_the_cache_folder_follows_the_environment():
    assert cache_dir({"IMGPOOL_CACHE_DIR": "/data/c"}) == Path("/data/c")
    assert cache_dir({"IMGPOOL_CACHE_DIR": "/data/c", "XDG_CACHE_HOME": "/x"}) == Path("/data/c")
    assert cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/imgpool")
    assert cache_dir({}) == Path.home() / ".cache" / "imgpool"
    assert profile_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/imgpool/browser-profile")


def test_an_empty_cache_setting_turns_the_profile_off():
    assert cache_dir({"IMGPOOL_CACHE_DIR": ""}) is None
    assert profile_dir({"IMGPOOL_CACHE_DIR": ""}) is None


def test_the_port_can_be_moved_but_not_to_nonsense():
    assert profile_port({}) == PROFILE_PORT
    assert profile_port({"IMGPOOL_PROFILE_PORT": "50001"}) == 50001
    for bad in ("", "0", "70000", "-3", "http"):
        assert profile_port({"IMGPOOL_PROFILE_PORT": bad}) == PROFILE_PORT, bad
