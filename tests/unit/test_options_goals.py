"""The quality-goal options (issue 14): target sizes, SSIM floors, their errors in words."""

from __future__ import annotations

import pytest

from imgpool.shared.options import Options, OptionsError, field_errors, target_bytes


@pytest.mark.parametrize("text, input_bytes, expected", [
    ("200KB", 0, 200_000), ("200 kb", 0, 200_000), ("1.5MB", 0, 1_500_000),
    ("300KiB", 0, 307_200), ("2MiB", 0, 2 * 1024 * 1024), ("40000", 0, 40_000),
    ("40000B", 0, 40_000), ("50%", 1_000_001, 500_000), ("100%", 10, 10), ("0.01%", 10, 1),
])
def test_target_sizes_in_every_unit(text, input_bytes, expected):
    assert target_bytes(text, input_bytes) == expected


@pytest.mark.parametrize("values, words", [
    ({"target_size": "big"}, "target_size must be a size like 200KB, 1.5MB or 50%"),
    ({"target_size": "200GB"}, "target_size must be a size like"),
    ({"target_size": "150%"}, "above 0 and at most 100"),
    ({"target_size": "0.1B"}, "at least 1 byte"),
    ({"min_ssim": "1"}, "min_ssim must be a number between 0 and 1"),
    ({"min_ssim": "high"}, "min_ssim must be a number between 0 and 1"),
    ({"strict_size": "true"}, "strict_size needs target_size"),
])
def test_bad_goals_say_what_is_allowed(values, words):
    with pytest.raises(OptionsError, match=words):
        Options.from_dict(values)


def test_goal_options_from_a_form_or_a_preset():
    opts = Options.from_dict({"target_size": " 200KB ", "min_ssim": "0.95", "strict_size": "on",
                              "measure_quality": "false"})
    assert (opts.target_size, opts.min_ssim, opts.strict_size) == ("200KB", 0.95, True)
    assert opts.measures_quality and not Options().measures_quality
    assert Options.from_dict({"target_size": "", "min_ssim": ""}) == Options()
    assert Options(target_size=50_000).target_size == "50000"  # a preset's plain number
    assert Options.from_dict(opts.to_dict()) == opts
    assert set(field_errors({"target_size": "x", "min_ssim": "2"})) == {"target_size",
                                                                        "min_ssim"}
