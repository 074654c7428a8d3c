"""The benchmark's per-task fixed cost (imgpool_host.bench.fixedcost), on made-up rounds."""

from __future__ import annotations

from imgpool_host.bench.fixedcost import (fixed_cost_markdown, fixed_cost_row,
                                          fixed_cost_section, steady_ms)


def test_steady_time_runs_from_the_first_result_to_the_last():
    # the batch's start (before the first end) counts in neither side
    assert steady_ms([900.0, 100.0, 500.0]) == 400.0
    assert steady_ms([100.0]) is None and steady_ms([]) is None


def raw(app, bare, worker, fused):
    return {"images": 40, "rounds": len(app), "app_ms": app, "bare_ms": bare,
            "worker_ms": worker, "bare_fused_ms": fused, "other_cores": [0.0, 0.3],
            "failed": 0}


def test_fixed_cost_is_the_app_over_bare_wasm_vips_split_inside_and_between_tasks():
    s = fixed_cost_section(raw([140.0, 137.0, 150.0], [132.0, 131.0, 133.0],
                               [125.0, 126.0, 124.0], [123.0, 122.0, 124.0]))
    assert s["status"] == "measured"
    assert (s["app_ms"], s["bare_ms"], s["fixed_ms"]) == (140.0, 132.0, 8.0)
    assert s["share"] == round(8 / 132, 3) and s["holds"] is False   # 6.1 % > 5 %
    # 2 ms around the codec; between tasks 15 ms against bare wasm-vips' own 9
    assert (s["in_worker_ms"], s["between_ms"]) == (2.0, 6.0)
    assert s["other_cores"] == 0.3
    assert "MISSES" in fixed_cost_row(s)["ratio"]
    assert any("does NOT hold" in line for line in fixed_cost_markdown(s))


def test_a_cost_under_five_percent_holds():
    s = fixed_cost_section(raw([136.0], [132.0], [124.0], [123.0]))
    assert s["holds"] is True and "holds" in fixed_cost_row(s)["ratio"]


def test_a_run_without_figures_says_why():
    assert fixed_cost_section({})["status"] == "not measured"
    assert fixed_cost_section({"error": "TimeoutError: boot"})["status"] == (
        "not measured: TimeoutError: boot")
    assert fixed_cost_section(raw([None], [None], [], []))["status"].startswith("not measured")
    assert fixed_cost_row({"status": "not measured"}) is None
