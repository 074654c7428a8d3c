"""The browser-server section of the benchmark (`imgpool bench --remote`): figures in, the
ratios to a local browser and the words of the report out, from the JSON alone."""

from __future__ import annotations

from imgpool_host.bench.remote import remote_markdown, remote_row, remote_section


def run(process_s: float, boot_s: float = 5.0, status: str = "measured") -> dict:
    return {"status": status, "process_s": process_s, "boot_s": boot_s, "failed": 0}


def test_ratios_are_throughput_against_the_local_browser_and_boots_do_not_count():
    raw = {"workers": 2, "local": [run(4.0), run(4.0)],
           "one_server": [run(5.0, boot_s=30.0)] * 2, "two_servers": [run(4.4, 40.0)] * 2}
    section = remote_section(raw, n=8)
    assert section["local"]["images_per_s"]["median"] == 2.0
    assert section["ratios"] == {"one_server_vs_local": 0.8, "two_servers_vs_local": 0.91}
    assert remote_row(section)["ratio"] == "0.91x"
    text = "\n".join(remote_markdown(section))
    assert "| 1 browser server | 1.6 | 30.0 | 0 |" in text and "target ≥ 0.9x" in text


def test_a_run_that_did_not_measure_is_left_out_and_a_failure_is_said():
    raw = {"workers": 2, "local": [run(4.0), run(0.0, status="failed")],
           "one_server": [run(4.0)], "two_servers": [run(4.0)]}
    assert remote_section(raw, n=4)["local"]["images_per_s"]["n"] == 1
    assert remote_section(None, 4)["status"] == "not measured: run with --remote"
    failed = remote_section({"error": "RuntimeError: browser-server did not start"}, 4)
    assert remote_row(failed) is None
    assert "did not start" in "\n".join(remote_markdown(failed))
