"""`evaluate`: the metrics of a trained committor model (or of given logits) on one set, in one pass."""

import numpy as np
from scipy.special import expit

from committor_keras.validate._calibration import calibration_table
from committor_keras.validate._scores import scores


def evaluate(model, x, y, w=None, logits=None, bins=10):
    """Metrics of a committor model on one set, from a single chunked prediction pass.

    Args:
        model: the model (raw features -> logit); unused when ``logits`` are given.
        x: ``(N, F)`` features (unused when ``logits`` are given).
        y: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        w: optional ``(N,)`` sample weights (weighting every metric, as in training).
        logits: precomputed ``(N,)`` logits (an ensemble's mean logit, out-of-fold predictions).
        bins: q-bins of the calibration table.

    Returns:
        dict: ``kl_per_shot``, ``cross_entropy_per_shot``, ``rmse`` (q against p_B), ``calibration_error``
        and ``calibration`` (see :func:`calibration_table`).
    """
    if logits is None:
        from committor_keras.model import predict_logits

        logits = predict_logits(model, x)
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64)
    table = calibration_table(expit(logits), y[:, 0], y[:, 1], w, bins=bins)
    return {**scores(y[:, 0], y[:, 1], logit=logits, w=w), "calibration_error": table["calibration_error"],
            "calibration": table}


def scalar_metrics(metrics):
    """The float entries of an :func:`evaluate` result (the calibration table left out)."""
    return {key: value for key, value in metrics.items() if isinstance(value, float)}
