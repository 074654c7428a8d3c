"""Options and PoolConfig: one home for defaults, validated once, clear errors."""

import pytest

from imgpool.shared.config import GIB, MIB, ConfigError, PoolConfig, QueuePolicy
from imgpool.shared.options import Fit, MetadataPolicy, Options, OptionsError, OutputFormat


def test_defaults_are_webp_q80_2048():
    o = Options()
    assert (o.format, o.quality, o.max_size) == (OutputFormat.WEBP, 80, 2048)
    assert o.auto_rotate and o.metadata is MetadataPolicy.STRIP and not o.enlarge


def test_from_dict_coerces_form_strings():
    o = Options.from_dict({"format": "AVIF", "quality": "55", "lossless": "true",
                           "max_size": "", "metadata": "copyright", "timeout_s": "12.5"})
    assert o.format is OutputFormat.AVIF and o.quality == 55 and o.lossless
    assert o.max_size is None and o.metadata is MetadataPolicy.COPYRIGHT
    assert o.timeout_s == 12.5
    assert Options.from_dict(o.to_dict()) == o


@pytest.mark.parametrize("values, words", [
    ({"quality": 0}, "quality must be a whole number from 1 to 100"),
    ({"quality": "high"}, "quality must be a whole number"),
    ({"format": "bmp"}, "format must be one of webp, avif"),
    ({"colour": "cmyk"}, "colour must be one of"),
    ({"max_size": 70000}, "max_size must be a whole number from 1 to 65535"),
    ({"background": "white"}, "background must be a colour like #ffffff"),
    ({"fit": "cover", "width": 100}, "fit=cover needs both width and height"),
    ({"palette": True, "format": "jpeg"}, "palette applies to png"),
    ({"lossless": "maybe"}, "lossless must be true or false"),
    ({"timeout_s": -1}, "timeout_s must be a number of seconds above 0"),
    ({"qualty": 80}, "unknown option(s): qualty"),
])
def test_invalid_options_name_the_option(values, words):
    with pytest.raises(OptionsError) as exc:
        Options.from_dict(values)
    assert words in str(exc.value)


def test_target_box_combines_max_size_and_box():
    assert Options().target_box() == (2048, 2048)
    assert Options(width=800, max_size=None).target_box() == (800, None)
    assert Options(width=4000, height=300, max_size=1000).target_box() == (1000, 300)
    assert Options(fit=Fit.COVER, width=10, height=20).fit is Fit.COVER


def test_a_box_asked_for_without_a_longest_side_is_not_shrunk_by_the_default_one():
    assert Options.from_dict({"width": "3000"}).target_box() == (3000, None)
    assert Options.from_dict({"height": 2500}).target_box() == (None, 2500)
    assert Options.from_dict({"width": 3000, "max_size": 2048}).target_box() == (2048, 2048)
    assert Options.from_dict({}).target_box() == (2048, 2048)
    again = Options.from_dict({"width": 3000})
    assert Options.from_dict(again.to_dict()) == again      # a preset written back reads the same


def test_background_rgb():
    assert Options(background="#0a0").background_rgb == (0, 170, 0)
    assert Options(background="#102030").background_rgb == (16, 32, 48)


def test_pool_config_from_hardware():
    c = PoolConfig.from_hardware(8, 8)
    assert c.pool_size == 8 and c.memory_budget_bytes == 2 * GIB
    c = PoolConfig.from_hardware(0, None)  # nonsense hints: defaults
    assert c.pool_size == PoolConfig().pool_size
    assert PoolConfig.from_hardware(64, 1).pool_size == 16  # capped
    assert PoolConfig.from_hardware(4, 1).memory_budget_bytes == 512 * MIB  # floor
    c = PoolConfig.from_hardware(8, 8, pool_size=3, policy="fifo")
    assert c.pool_size == 3 and c.policy is QueuePolicy.FIFO


@pytest.mark.parametrize("values, words", [
    ({"pool_size": 0}, "pool_size must be a whole number from 1"),
    ({"policy": "random"}, "policy must be one of"),
    ({"timeout_base_s": 0}, "timeout_base_s must be a number more than 0"),
    ({"bogus": 1}, "unknown pool setting(s): bogus"),
    ({"memory_budget_bytes": "lots"}, "memory_budget_bytes must be a number"),
])
def test_invalid_config_names_the_field(values, words):
    with pytest.raises(ConfigError) as exc:
        PoolConfig.from_dict(values)
    assert words in str(exc.value)


def test_config_round_trips_through_dict():
    c = PoolConfig(pool_size=3, policy=QueuePolicy.FIFO)
    assert PoolConfig.from_dict(c.to_dict()) == c


def test_url_parameters_round_trip_through_one_table():
    from imgpool.shared.config import overrides_from_query, query_from_settings
    from imgpool.page.app import config_from_query

    settings = {"pool_size": 3, "memory_budget_bytes": 768 * MIB, "policy": QueuePolicy.FIFO,
                "timeout_base_s": 12.5}
    query = query_from_settings(settings)
    assert query == {"workers": "3", "budget_mb": "768.0", "policy": "fifo", "timeout_s": "12.5"}
    c = PoolConfig.from_dict(overrides_from_query(query))
    assert (c.pool_size, c.memory_budget_bytes, c.policy, c.timeout_base_s) == (
        3, 768 * MIB, QueuePolicy.FIFO, 12.5)
    page = config_from_query("?workers=3&budget_mb=768&policy=fifo&other=1", 8, 8)
    assert page.pool_size == 3 and page.memory_budget_bytes == 768 * MIB
    with pytest.raises(ConfigError, match="budget_mb='lots' is not a number"):
        overrides_from_query({"budget_mb": "lots"})
