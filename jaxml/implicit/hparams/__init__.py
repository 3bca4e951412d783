"""Hyperparameter families: each a small pure module usable with :func:`jaxml.implicit.bilevel`."""

from jaxml.implicit.hparams.augmentation import AugmentNet, augment
from jaxml.implicit.hparams.distillation import (
    distillation_losses,
    distilled_labels,
    init_distilled_inputs,
    random_real_draws,
)
from jaxml.implicit.hparams.dropout import init_dropout_logits, relaxed_dropout
from jaxml.implicit.hparams.weight_decay import GRANULARITIES, init_log_decay, l2_penalty

__all__ = [
    "GRANULARITIES",
    "AugmentNet",
    "augment",
    "distillation_losses",
    "distilled_labels",
    "init_distilled_inputs",
    "init_dropout_logits",
    "init_log_decay",
    "l2_penalty",
    "random_real_draws",
    "relaxed_dropout",
]
