"""The IFT cost benchmark runs end to end at a tiny size (its numbers are not asserted on)."""

from experiments.benchmarks import ift_cost
from jaxml.implicit import HVP_MODES


def test_ift_cost_tiny(tmp_path):
    out = ift_cost.main(["--scale", "tiny", "--out", str(tmp_path / "ift_cost.json")])
    (row,) = out["rows"]
    assert row["plain_T_steps_ms"] > 0
    for mode in HVP_MODES:
        update = row[f"bilevel_neumann_{mode}"]
        assert update["ms"] > 0 and update["time_ratio"] > 0
        assert update["memory"]["argument_bytes"] > row["plain"]["memory"]["argument_bytes"]
        assert update["roofline"]["flop_fraction"] > 0 and update["roofline"]["bound"]
    assert row["fastest_hvp_mode"] in HVP_MODES
    assert [u["K"] for u in row["unrolled"]] == [2]
    assert (tmp_path / "ift_cost.json").is_file()
