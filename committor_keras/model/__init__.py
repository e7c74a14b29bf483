"""Committor networks: losses and metrics on the logit, the network builder, training, the HyperModel.

The names below load on first use, so that reading and validating a search configuration (which needs only
the search space) does not wait for TensorFlow.
"""

from committor_keras._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("CommittorHyperModel",), "._hypermodel"),
    **dict.fromkeys(("LOSSES", "BinomialNLL", "ShotCrossEntropy", "binomial_nll", "get_loss", "shot_cross_entropy"),
                    "._losses"),
    **dict.fromkeys(("CommittorRMSE", "CrossEntropyPerShot", "KLPerShot", "committor_metrics", "committor_rmse",
                     "cross_entropy_per_shot", "kl_per_shot", "shot_entropy", "shot_kl_divergence"), "._metrics"),
    **dict.fromkeys(("build_model",), "._network"),
    **dict.fromkeys(("ACTIVATIONS", "DEFAULT_HPARAMS", "LOSS_NAMES", "SearchSpace", "hparam_names",
                     "is_integer_hparam", "resolve_hparams"), "._space"),
    **dict.fromkeys(("OBJECTIVE", "DivergedError", "FitResult", "fit_model", "make_dataset"), "._training"),
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
