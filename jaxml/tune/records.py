"""Reading a study back: one record per trial, summaries, and best-so-far curves.

Everything here reads only what the database holds, so any method (any proposer, or IFT) run into
the same storage can be compared with the same code, also from another machine, or live in
``optuna-dashboard <storage URL>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna

from jaxml import _validation as chk

X_AXES = ("train_steps", "wall_time_s")


def trial_records(study: optuna.Study) -> list[dict[str, Any]]:
    """One dict per trial, by trial number: ``number, state, params, value, intermediate,
    wall_time_s, train_steps, fail_kind, fail_reason, retry_of, trace, result, user_attrs``
    (``result``: what the job attached, e.g. test accuracy; ``trace``: its reports)."""
    if not isinstance(study, optuna.Study):
        raise TypeError(f"study must be an optuna Study; got {type(study).__name__}")
    out = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        ua = dict(t.user_attrs)
        out.append(
            {
                "number": t.number,
                "state": t.state.name,
                "params": dict(t.params),
                "value": t.value if t.state == optuna.trial.TrialState.COMPLETE else None,
                "intermediate": {int(k): float(v) for k, v in t.intermediate_values.items()},
                "wall_time_s": ua.get("wall_time_s"),
                "train_steps": ua.get("train_steps"),
                "fail_kind": ua.get("fail_kind"),
                "fail_reason": ua.get("fail_reason"),
                "retry_of": t.system_attrs.get("failed_trial"),
                "trace": (ua.get("result") or {}).get("trace", []),
                "result": {k: v for k, v in (ua.get("result") or {}).items() if k != "trace"},
                "user_attrs": ua,
            }
        )
    return out


def study_summary(study: optuna.Study) -> dict[str, Any]:
    """Counts per state, and the best COMPLETE trial (number, value, params, user attributes)."""
    records = trial_records(study)
    states = {s.name: 0 for s in optuna.trial.TrialState}
    for r in records:
        states[r["state"]] += 1
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    best = None
    if done:
        b = study.best_trial
        best = {"number": b.number, "value": b.value, "params": b.params, "attrs": b.user_attrs}
    return {"study": study.study_name, "states": states, "n_trials": len(records), "best": best}


def best_so_far(
    records: Sequence[dict[str, Any]],
    *,
    x: str = "train_steps",
    direction: str = "minimize",
    anytime: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The best score reached against the budget spent, over trials in number order.

    Every trial that ran spends its ``x`` (training steps or wall seconds). With ``anytime``
    each intermediate report counts at the budget spent when it was made (the trial's
    ``"trace"``: a model could be kept there); otherwise only COMPLETE trials' final scores
    count, at the end of their trial. Returns ``(spent [k], best [k])``; ``best`` is
    non-increasing for "minimize".
    """
    _check_records(records)
    chk.check_choice(x, "x", X_AXES)
    chk.check_choice(direction, "direction", ("minimize", "maximize"))
    chk.check_bool(anytime, "anytime")
    col = 1 if x == "train_steps" else 2
    sign = 1.0 if direction == "minimize" else -1.0
    spent, best, xs, ys = 0.0, np.inf, [], []
    for r in records:
        if r.get(x) is None:
            continue
        points = []
        if anytime:
            points = [(spent + p[col], p[3]) for p in r.get("trace") or []]
        if r["state"] == "COMPLETE":
            points.append((spent + float(r[x]), r["value"]))
        for at, score in points:
            best = min(best, sign * score)
            xs.append(at)
            ys.append(sign * best)
        spent += float(r[x])
    return np.asarray(xs, float), np.asarray(ys, float)


def _check_records(records: Any) -> None:
    if isinstance(records, str | dict) or not isinstance(records, Sequence):
        raise TypeError(
            f"records must be a list of trial_records dicts; got {type(records).__name__}"
        )
    for r in records:
        if not isinstance(r, dict) or not {"state", "value"} <= set(r):
            raise ValueError("records must be the dicts returned by trial_records")


def budget_to_reach(spent: np.ndarray, best: np.ndarray, target: float) -> float:
    """The first budget at which ``best <= target`` (minimizing); ``inf`` if never.

    Args:
        spent, best: ``[k]`` from :func:`best_so_far`.
        target: the score to reach.
    """
    (k,) = chk.check_array(spent, "spent", ndim=1, dtype="numeric")
    chk.check_array(best, "best", shape=(k,), dtype="numeric")
    chk.check_scalar(target, "target")
    hit = np.nonzero(np.asarray(best) <= target)[0]
    return float(np.asarray(spent)[hit[0]]) if hit.size else float("inf")
