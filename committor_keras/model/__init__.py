"""Committor networks: losses and metrics on the logit, the network builder, training, the HyperModel.

The names load on first use (as in the search package), so that reading a search configuration, which needs
only the search space, does not import TensorFlow: `committor-keras tune` reports a bad configuration before
TensorFlow's start-up.
"""

from committor_keras._lazy import lazy_exports

_EXPORTS = {
    "CommittorHyperModel": "._hypermodel",
    "LOSSES": "._losses", "BinomialNLL": "._losses", "ShotCrossEntropy": "._losses", "binomial_nll": "._losses",
    "get_loss": "._losses", "shot_cross_entropy": "._losses",
    "CommittorRMSE": "._metrics", "CrossEntropyPerShot": "._metrics", "KLPerShot": "._metrics",
    "committor_metrics": "._metrics", "committor_rmse": "._metrics", "cross_entropy_per_shot": "._metrics",
    "kl_per_shot": "._metrics", "shot_entropy": "._metrics", "shot_kl_divergence": "._metrics",
    "build_model": "._network",
    "predict_logits": "._predict",
    "ACTIVATIONS": "._space", "DEFAULT_HPARAMS": "._space", "LOSS_NAMES": "._space", "SearchSpace": "._space",
    "hparam_names": "._space", "is_integer_hparam": "._space", "resolve_hparams": "._space",
    "OBJECTIVE": "._training", "DivergedError": "._training", "FitResult": "._training", "fit_model": "._training",
    "make_dataset": "._training",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
