"""The experiment harness: configs and CLI, atomic outputs, checkpoints, timing, discovery."""

import dataclasses
import json
import pathlib
import subprocess
import sys
import textwrap
from types import SimpleNamespace
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.harness import (
    Checkpointer,
    compiled_memory_bytes,
    make_config,
    parse_config,
    read_json,
    time_calls,
    to_jsonable,
    train_loop,
    write_json_atomic,
)
from experiments.harness.experiment import figure_id
from experiments.harness.report import discover_figures
from experiments.reproduce import QUICK_SECONDS_HINT, expected_seconds


@dataclasses.dataclass(frozen=True)
class _Cfg:
    scale: str = "quick"
    seed: int = 0
    lr: float = 0.1
    hidden: tuple[int, ...] = (4, 4)
    name: str = "a"
    flag: bool = False
    maybe: int | None = None
    SCALES: ClassVar[dict] = {"full": {"hidden": (64, 64), "lr": 0.01}, "tiny": {"hidden": (2,)}}


def test_make_config_layers_scale_then_overrides():
    assert make_config(_Cfg) == _Cfg()
    full = make_config(_Cfg, "full", seed=3)
    assert (full.scale, full.hidden, full.lr, full.seed) == ("full", (64, 64), 0.01, 3)
    assert make_config(_Cfg, "tiny").hidden == (2,)


def test_make_config_rejects_unknown_names():
    with pytest.raises(ValueError, match="scale must be one of"):
        make_config(_Cfg, "huge")
    with pytest.raises(ValueError, match=r"no field\(s\) \['bogus'\]"):
        make_config(_Cfg, "quick", bogus=1)


def test_cli_overrides_reach_the_config(tmp_path):
    cfg, workdir = parse_config(
        _Cfg,
        [
            "--scale",
            "full",
            "--seed",
            "7",
            "--lr",
            "0.5",
            "--hidden",
            "8,16,32",
            "--flag",
            "true",
            "--name",
            "zz",
            "--maybe",
            "none",
            "--workdir",
            str(tmp_path),
        ],
    )
    assert cfg == _Cfg(scale="full", seed=7, lr=0.5, hidden=(8, 16, 32), name="zz", flag=True)
    assert workdir == tmp_path
    # A field not given keeps the scale's value, not the quick default.
    cfg, workdir = parse_config(_Cfg, ["--scale", "full", "--maybe", "3"])
    assert cfg.hidden == (64, 64) and cfg.maybe == 3 and workdir is None


@pytest.mark.parametrize("argv", [["--seed", "x"], ["--flag", "maybe"], ["--scale", "huge"]])
def test_cli_rejects_bad_values(argv, capsys):
    with pytest.raises(SystemExit):
        parse_config(_Cfg, argv)
    assert "error" in capsys.readouterr().err


def test_to_jsonable_converts_arrays_and_non_finite():
    out = to_jsonable(
        {
            "a": np.float32(1.5),
            "b": jnp.arange(3),
            "c": (1, float("nan")),
            "d": np.int64(4),
            "e": jnp.array(2.0),
            "f": True,
        }
    )
    assert out == {"a": 1.5, "b": [0, 1, 2], "c": [1, "nan"], "d": 4, "e": 2.0, "f": True}
    json.dumps(out, allow_nan=False)
    with pytest.raises(TypeError, match="cannot convert object"):
        to_jsonable(object())


def test_non_finite_floats_survive_a_metrics_json_round_trip(tmp_path):
    """A summarize reading metrics.json gets floats back, never the strings "inf" / "nan"."""
    path = tmp_path / "metrics.json"
    write_json_atomic(path, {"steps": [3.0, float("inf")], "x": {"y": -np.inf, "z": np.nan}})
    back = read_json(path)
    assert back["steps"] == [3.0, float("inf")]
    assert back["x"]["y"] == -np.inf and np.isnan(back["x"]["z"])
    assert np.median(back["steps"]) == np.inf  # failed before: numpy cannot take a median of "inf"


def test_write_json_atomic_keeps_old_file_when_serialization_fails(tmp_path):
    path = tmp_path / "metrics.json"
    write_json_atomic(path, {"ok": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"ok": 2, "bad": object()})
    assert read_json(path) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_metrics_json_stays_valid_if_the_process_dies_while_writing(tmp_path):
    """A process killed (os._exit) half-way through writing leaves the previous valid file."""
    path = tmp_path / "metrics.json"
    write_json_atomic(path, {"step": 1})
    script = textwrap.dedent(f"""
        import os
        from experiments.harness.io import write_atomic
        def die_half_way(f):
            f.write('{{"step": 2, "hist')   # a torn write...
            f.flush()
            os._exit(9)                      # ...then the process is killed
        write_atomic({str(path)!r}, die_half_way, binary=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert read_json(path) == {"step": 1}
    # The stray temp file does not shadow the real one, and the next write succeeds.
    write_json_atomic(path, {"step": 3})
    assert read_json(path) == {"step": 3}


def test_read_json_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.json"):
        read_json(tmp_path / "nothere.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        read_json(tmp_path / "bad.json")


def test_checkpointer_round_trip(tmp_path):
    state = {
        "w": jnp.arange(6.0).reshape(2, 3),
        "step": jnp.int32(5),
        "opt": (jnp.ones(3, jnp.float32), jnp.zeros((), jnp.int32)),
    }
    with Checkpointer(tmp_path / "ckpt") as ckpt:
        assert ckpt.restore(state) is None
        ckpt.save(5, state, {"history": [{"step": 5, "loss": 0.25}]})
    template = jax.tree.map(jnp.zeros_like, state)
    with Checkpointer(tmp_path / "ckpt") as ckpt:
        step, restored, record = ckpt.restore(template)
    assert step == 5 and record == {"history": [{"step": 5, "loss": 0.25}]}
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(restored), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert a.dtype == b.dtype


def _quadratic_step(state, step):
    # Deterministic "noise" from the step index, like a real data pipeline would use.
    noise = jax.random.normal(jax.random.fold_in(jax.random.key(0), step), state.shape)
    return state - 0.1 * (state - 1.0 + 0.01 * noise), {"loss": jnp.sum((state - 1.0) ** 2)}


def test_train_loop_resumes_from_checkpoint_in_process(tmp_path):
    step = jax.jit(_quadratic_step)
    x0 = jnp.zeros(3)
    full = train_loop(
        x0,
        step,
        num_steps=20,
        checkpoint_dir=None,
        eval_fn=lambda s: {"m": jnp.mean(s)},
        eval_every=5,
    )
    # First 10 steps, then a fresh call with the same directory continues to 20.
    train_loop(
        x0,
        step,
        num_steps=10,
        checkpoint_dir=tmp_path,
        checkpoint_every=5,
        eval_fn=lambda s: {"m": jnp.mean(s)},
        eval_every=5,
    )
    resumed = train_loop(
        x0,
        step,
        num_steps=20,
        checkpoint_dir=tmp_path,
        checkpoint_every=5,
        eval_fn=lambda s: {"m": jnp.mean(s)},
        eval_every=5,
    )
    assert resumed.resumed_from == 10
    np.testing.assert_array_equal(np.asarray(full.state), np.asarray(resumed.state))
    assert [r["step"] for r in resumed.history] == [0, 5, 10, 15, 20]
    assert resumed.history == full.history


def test_train_loop_validates_arguments():
    with pytest.raises(ValueError, match="num_steps"):
        train_loop(jnp.zeros(1), _quadratic_step, num_steps=-1, checkpoint_dir=None)
    with pytest.raises(ValueError, match="checkpoint_every"):
        train_loop(
            jnp.zeros(1), _quadratic_step, num_steps=1, checkpoint_dir=None, checkpoint_every=0
        )


def test_time_calls_and_memory_analysis():
    f = jax.jit(lambda x: x * 2.0 + 1.0)
    t = time_calls(f, jnp.ones(8), calls=3, repeats=2, warmup=1)
    assert t["seconds_per_call"] > 0 and t["calls_per_s"] == pytest.approx(
        1 / t["seconds_per_call"]
    )
    mem = compiled_memory_bytes(f, jnp.ones((256,), jnp.float32))
    assert mem is not None and mem["argument_bytes"] == 256 * 4 and mem["output_bytes"] == 256 * 4
    with pytest.raises(ValueError, match="calls"):
        time_calls(f, jnp.ones(2), calls=0)


def test_discovery_finds_the_baseline_and_filters():
    names = [m.__name__ for m in discover_figures()]
    assert "experiments.baselines.train_classifier" in names
    assert not any("harness" in n or "benchmarks" in n for n in names)
    assert [m.__name__ for m in discover_figures(("baselines",))] == [
        "experiments.baselines.train_classifier"
    ]
    with pytest.raises(ValueError, match="matches no figure"):
        discover_figures(("no-such-paper",))
    # The fresh-checkout scheduling hints name existing figures; the longest starts first.
    modules = discover_figures()
    assert set(QUICK_SECONDS_HINT) <= {figure_id(m.__name__) for m in modules}
    first = max(modules, key=lambda m: expected_seconds(m, pathlib.Path("/no/results"), "quick"))
    assert figure_id(first.__name__) == max(QUICK_SECONDS_HINT, key=QUICK_SECONDS_HINT.get)


def test_train_loop_refuses_a_checkpoint_of_another_config(tmp_path):
    step = jax.jit(_quadratic_step)
    cfg = _Cfg()
    train_loop(
        jnp.zeros(3), step, num_steps=5, checkpoint_dir=tmp_path, checkpoint_every=5, config=cfg
    )
    # Same config resumes (nothing left to do).
    again = train_loop(
        jnp.zeros(3), step, num_steps=5, checkpoint_dir=tmp_path, checkpoint_every=5, config=cfg
    )
    assert again.resumed_from == 5
    other = dataclasses.replace(cfg, lr=0.5, name="b")
    with pytest.raises(ValueError, match=r"different config \(lr: checkpoint 0.1 vs now 0.5; name"):
        train_loop(jnp.zeros(3), step, num_steps=5, checkpoint_dir=tmp_path, config=other)


def test_train_loop_refuses_a_checkpoint_past_num_steps(tmp_path):
    step = jax.jit(_quadratic_step)
    train_loop(jnp.zeros(3), step, num_steps=10, checkpoint_dir=tmp_path, checkpoint_every=5)
    with pytest.raises(ValueError, match="at step 10, past num_steps=4"):
        train_loop(jnp.zeros(3), step, num_steps=4, checkpoint_dir=tmp_path)


def _outcome(tmp_path, scale, matches):
    from types import SimpleNamespace

    from experiments.harness.experiment import Summary
    from experiments.harness.report import FigureOutcome

    module = SimpleNamespace(
        __name__="experiments.fake.figure",
        PAPER="Fake et al.",
        CLAIM="x beats y",
        summarize=lambda m: Summary(
            {"gap": m["gap"]}, m["gap"] > 0.1, "gap vs margin", {"margin": 0.1}
        ),
    )
    metrics = {"gap": 0.5 if matches else 0.0, "scale": scale, "figures": []}
    return FigureOutcome("fake/figure", module, tmp_path, metrics, 1.0, None)


@pytest.mark.parametrize(
    "scale, matches, label",
    [
        ("quick", True, "**Conclusion matches: yes.**"),
        ("quick", False, "**Conclusion matches: no.**"),
        ("full", True, "**Conclusion matches: yes.**"),
        ("tiny", True, "**Conclusion: smoke run, no verdict**"),
        ("tiny", False, "**Conclusion: smoke run, no verdict**"),
    ],
)
def test_report_prints_verdict_thresholds_and_never_judges_a_smoke_run(
    tmp_path, scale, matches, label
):
    from experiments.harness.report import render_report

    text = render_report([_outcome(tmp_path, scale, matches)], results_dir=tmp_path, scale=scale)
    assert label in text
    assert "**Thresholds used.** margin = 0.1" in text
    if scale == "tiny":
        assert "Conclusion matches" not in text and "| smoke run, no verdict |" in text


def test_write_outputs_records_the_scale(tmp_path):
    from experiments.harness.experiment import write_outputs

    metrics = write_outputs(tmp_path, _Cfg(scale="tiny"), {"a": 1.0})
    assert metrics["scale"] == "tiny" and read_json(tmp_path / "metrics.json")["scale"] == "tiny"


def test_train_loop_stops_on_the_first_checked_non_finite_loss(tmp_path):
    from experiments.harness import NonFiniteLossError

    def step(state, t):
        state = state + 1.0
        return state, {"loss": jnp.where(state > 7, jnp.nan, state), "other": jnp.inf}

    with pytest.raises(NonFiniteLossError, match=r"loss is nan after step 10.*last checkpoint: 5"):
        train_loop(
            jnp.zeros(()),
            step,
            num_steps=30,
            checkpoint_dir=tmp_path,
            checkpoint_every=5,
            eval_every=10,
        )
    # A non-finite log that is not a loss does not stop the run.
    ok = train_loop(
        jnp.zeros(()), lambda s, t: (s, {"other": jnp.inf}), num_steps=3, checkpoint_dir=None
    )
    assert ok.resumed_from == 0


def test_train_loop_keeps_array_metrics_and_stacks_them():
    res = train_loop(
        jnp.zeros(2),
        lambda s, t: (s + 1.0, {}),
        num_steps=4,
        checkpoint_dir=None,
        eval_fn=lambda s: {"per_dim": s, "mean": jnp.mean(s)},
        eval_every=2,
    )
    assert res.history[1] == {"step": 2, "per_dim": [2.0, 2.0], "mean": 2.0}
    stacked = res.stacked_history()
    np.testing.assert_array_equal(stacked["step"], [0, 2, 4])
    np.testing.assert_array_equal(stacked["per_dim"], [[0, 0], [2, 2], [4, 4]])


def test_write_outputs_adds_the_common_tail_once(tmp_path):
    from experiments.harness.experiment import write_outputs

    metrics = write_outputs(tmp_path, _Cfg(), {"a": 1.0})
    assert metrics["max_rss_mb"] > 10 and metrics["device"]["backend"] == "cpu"
    kept = write_outputs(tmp_path, _Cfg(), {"a": 1.0, "max_rss_mb": 5.0})
    assert kept["max_rss_mb"] == 5.0


def test_judge_lists_every_failed_condition():
    from experiments.harness import judge

    assert judge([], "n = 3") == (True, "holds: every condition met (n = 3)")
    assert judge(["a < 1", "b > 2"], "n = 3") == (
        False,
        "fails 2 condition(s): a < 1; b > 2 (n = 3)",
    )


def test_a_summarize_that_raises_marks_only_its_figure_failed(tmp_path):
    from experiments.harness.report import check_summaries, render_report

    good = _outcome(tmp_path, "quick", True)
    bad = good._replace(
        figure="fake/broken",
        module=SimpleNamespace(**{**vars(good.module), "summarize": lambda m: 1 / 0}),
    )
    checked = check_summaries([good, bad])
    assert checked[0].metrics is not None
    assert checked[1].metrics is None and "ZeroDivisionError" in checked[1].error
    text = render_report([good, bad], results_dir=tmp_path, scale="quick")
    assert "| FAILED |" in text and "**Conclusion matches: yes.**" in text
