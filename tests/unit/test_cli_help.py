"""`imgpool optimize --help` as a person reads it in an 80-column terminal: nothing runs
past the edge, and the defaults it names are the ones `Options` applies."""

from __future__ import annotations

import pytest

from imgpool.shared.options import Options
from imgpool_host import cli


@pytest.fixture
def optimize_help(monkeypatch, capsys) -> str:
    monkeypatch.setenv("COLUMNS", "80")           # argparse wraps to the terminal's width
    assert cli.main(["optimize", "--help"]) == 0
    return capsys.readouterr().out


def test_help_fits_an_80_column_terminal(optimize_help):
    long = [line for line in optimize_help.splitlines() if len(line) > 80]
    assert long == []
    assert "Exit status:" in optimize_help and "130" in optimize_help


def test_help_names_the_defaults_options_apply(optimize_help):
    d = Options()
    text = " ".join(optimize_help.split())         # undo argparse's wrapping
    for flag, default in [("--format FMT", d.format.value), ("--quality 1-100", d.quality),
                          ("--effort 0-9", d.effort), ("--max-size PX", d.max_size),
                          ("--metadata POLICY", d.metadata.value)]:
        after = text[text.index(flag + " "):]
        assert f"(default {default}" in after[:200], (flag, after[:200])


def test_a_misspelled_flag_is_told_by_the_command_with_the_nearest_one(capsys):
    assert cli.main(["optimize", "in", "-o", "out", "--qualty", "50"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("usage: imgpool optimize")   # the command's usage
    assert "unrecognized arguments: --qualty (did you mean --quality?)" in err
    assert cli.main(["optimize", "in", "-o", "out", "--max-sise=100"]) == 2
    assert "--max-sise=100 (did you mean --max-size?)" in capsys.readouterr().err
