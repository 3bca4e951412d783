"""Hyperparameter families: each a small pure module usable with :func:`jaxml.implicit.bilevel`."""

from jaxml.implicit.hparams.augmentation import AugmentNet, augment
from jaxml.implicit.hparams.distillation import distilled_labels, init_distilled_inputs
from jaxml.implicit.hparams.dropout import init_dropout_logits, relaxed_dropout
from jaxml.implicit.hparams.weight_decay import GRANULARITIES, init_log_decay, l2_penalty

__all__ = [
    "GRANULARITIES",
    "AugmentNet",
    "augment",
    "distilled_labels",
    "init_distilled_inputs",
    "init_dropout_logits",
    "init_log_decay",
    "l2_penalty",
    "relaxed_dropout",
]
