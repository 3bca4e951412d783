"""Small flax models shared by experiments, and the plain classification training step."""

from jaxml.models.classifier import (
    TrainState,
    accuracy,
    cross_entropy,
    evaluate,
    init_train_state,
    make_train_step,
)
from jaxml.models.cnn import SmallCNN
from jaxml.models.mlp import MLP
from jaxml.models.registry import make_classifier

__all__ = [
    "MLP",
    "SmallCNN",
    "TrainState",
    "accuracy",
    "cross_entropy",
    "evaluate",
    "init_train_state",
    "make_classifier",
    "make_train_step",
]
