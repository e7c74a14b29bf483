"""Committor networks: losses and metrics on the logit, the network builder, training, the HyperModel."""

from committor_keras.model._evaluate import calibration_table, evaluate, predict_logits, scalar_metrics
from committor_keras.model._hypermodel import CommittorHyperModel
from committor_keras.model._losses import LOSSES, BinomialNLL, ShotCrossEntropy, binomial_nll, get_loss, \
    shot_cross_entropy
from committor_keras.model._metrics import CommittorRMSE, CrossEntropyPerShot, KLPerShot, committor_metrics, \
    committor_rmse, cross_entropy_per_shot, kl_per_shot, shot_entropy, shot_kl_divergence
from committor_keras.model._network import build_model
from committor_keras.model._space import ACTIVATIONS, DEFAULT_HPARAMS, SearchSpace, hparam_names, \
    is_integer_hparam, resolve_hparams
from committor_keras.model._training import OBJECTIVE, DivergedError, FitResult, fit_model, make_dataset

__all__ = [
    "ACTIVATIONS", "DEFAULT_HPARAMS", "LOSSES", "OBJECTIVE", "BinomialNLL", "CommittorHyperModel", "CommittorRMSE",
    "CrossEntropyPerShot", "DivergedError", "FitResult", "KLPerShot", "SearchSpace", "ShotCrossEntropy",
    "binomial_nll", "build_model", "calibration_table", "committor_metrics", "committor_rmse", "cross_entropy_per_shot", "evaluate", "fit_model",
    "get_loss", "hparam_names", "is_integer_hparam", "kl_per_shot", "make_dataset", "predict_logits", "resolve_hparams", "scalar_metrics", "shot_cross_entropy", "shot_entropy",
    "shot_kl_divergence",
]
