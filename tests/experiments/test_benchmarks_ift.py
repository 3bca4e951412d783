"""The IFT cost benchmark runs end to end at a tiny size (its numbers are not asserted on)."""

import pytest

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
    assert row["torch"] is None  # --scale tiny does not start PyTorch
    for gran in ("weight", "unit"):
        mem = row["memory_vs_plain_adam"][gran]
        # the bilevel state holds more than plain Adam training's (hparams + outer Adam state)
        assert mem["bilevel_in_P"]["argument_bytes"] >= 1.0
        assert mem["peak_ratio_over_plain_adam"] > 0 and isinstance(mem["meets_goal"], bool)
    assert (tmp_path / "ift_cost.json").is_file()


def test_pytorch_reference_when_torch_is_installed():
    # CI does not install torch (requirements-bench.txt does): skipped there.
    pytest.importorskip("torch")
    programs = ift_cost.torch_programs(16, inner_steps=2, batch_size=8, num_val=20)
    loss = programs["plain"]()
    hypergrad_norm = programs["update"]()
    assert 0 < loss < 10 and 0 < hypergrad_norm < float("inf")
