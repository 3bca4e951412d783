"""scikit-learn's embedded diabetes regression set (442 patients x 10 features), split and
standardized: the small tabular regression problem of the hypergradient-accuracy figure (the
paper used Boston housing, which scikit-learn no longer ships)."""

from __future__ import annotations

from jaxml.data.splits import Seed, Split, _check_positive_int, disjoint_subsets


def load_diabetes(*, seed: Seed = 0, num_train: int = 300) -> tuple[Split, Split]:
    """The diabetes set as ``(train, val)``, standardized with the training rows' statistics.

    A seeded permutation's first ``num_train`` rows train and the other ``442 - num_train``
    validate (:func:`~jaxml.data.splits.disjoint_subsets`). Features and the target are each
    standardized (zero mean, unit population std) with the training rows' mean and std, so no
    validation statistic leaks into training.

    Args:
      seed: int or JAX PRNG key for the permutation.
      num_train: training rows, in ``[2, 441]``.

    Returns:
      ``(train, val)`` :class:`Split` s of ``float64`` arrays: ``x [n, 10]``, ``y [n]`` (a
      real-valued target, not a class label).
    """
    from sklearn.datasets import load_diabetes as _sklearn_load_diabetes

    x, y = _sklearn_load_diabetes(return_X_y=True)
    num_train = _check_positive_int(num_train, "num_train", minimum=2)
    if num_train > len(y) - 1:
        raise ValueError(
            f"num_train must be <= {len(y) - 1} (one row to validate); got {num_train}"
        )
    train, val = disjoint_subsets(Split(x, y), (num_train, len(y) - num_train), seed=seed)
    mu, sd = train.x.mean(0), train.x.std(0)
    ym, ys = train.y.mean(), train.y.std()
    return tuple(Split((s.x - mu) / sd, (s.y - ym) / ys) for s in (train, val))


__all__ = ["load_diabetes"]
