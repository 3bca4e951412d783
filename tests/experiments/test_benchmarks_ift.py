"""The IFT cost benchmark runs end to end at a tiny size (its numbers are not asserted on)."""

from experiments.benchmarks import ift_cost


def test_ift_cost_tiny(tmp_path):
    out = ift_cost.main(["--scale", "tiny", "--out", str(tmp_path / "ift_cost.json")])
    (row,) = out["rows"]
    assert row["bilevel_neumann_ms"] > 0 and row["plain_T_steps_ms"] > 0
    assert row["bilevel_neumann_memory"]["argument_bytes"] > row["plain_memory"]["argument_bytes"]
    assert [u["K"] for u in row["unrolled"]] == [2]
    assert (tmp_path / "ift_cost.json").is_file()
