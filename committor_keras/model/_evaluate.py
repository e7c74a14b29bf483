"""Evaluation of a trained committor model on one set: chunked logits, the metrics, the reliability table."""

import numpy as np
from scipy.special import expit

from committor_keras.model._metrics import committor_rmse, cross_entropy_per_shot, kl_per_shot

_CHUNK = 65536
_CALIBRATION_BINS = 10


def predict_logits(model, x):
    """The model's logits, ``(N,)`` float64, from direct calls in chunks.

    ``model.predict`` would trace a new ``tf.function`` for every model of a study (retracing warnings, seconds
    per model); a direct call per chunk does not.
    """
    x = np.asarray(x, dtype=np.float32)
    return np.concatenate([np.asarray(model(x[start:start + _CHUNK], training=False)).reshape(-1)
                           for start in range(0, len(x), _CHUNK)] or [np.zeros(0)]).astype(np.float64)


def evaluate(model, x, y, w=None, logits=None):
    """Metrics of a committor model on one set, from a single prediction pass.

    Args:
        model: the model (raw features -> logit); unused when ``logits`` are given.
        x: ``(N, F)`` features.
        y: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        w: optional ``(N,)`` sample weights (weighting every metric, as in training).
        logits: precomputed ``(N,)`` logits (an ensemble's mean logit, for example).

    Returns:
        dict: ``kl_per_shot``, ``cross_entropy_per_shot``, ``rmse`` (q against p_B), ``calibration_error``
        and ``calibration`` (the reliability table, see :func:`calibration_table`).
    """
    logits = predict_logits(model, x) if logits is None else np.asarray(logits, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64)
    w = None if w is None else np.asarray(w, dtype=np.float64)
    table = calibration_table(expit(logits), y[:, 0], y[:, 1], w)
    return {
        "kl_per_shot": float(kl_per_shot(y, logits, w)),
        "cross_entropy_per_shot": float(cross_entropy_per_shot(y, logits, w)),
        "rmse": float(committor_rmse(y, logits, w)),
        "calibration_error": table["calibration_error"],
        "calibration": table,
    }


def scalar_metrics(metrics):
    """The float entries of an :func:`evaluate` result (the calibration table left out)."""
    return {key: value for key, value in metrics.items() if isinstance(value, float)}


def calibration_table(q, n_a, n_b, w=None, bins=_CALIBRATION_BINS):
    """Reliability of predicted committors: shots binned by q, observed fraction reaching B per bin.

    Args:
        q: ``(N,)`` predicted committors.
        n_a: ``(N,)`` shots ending in A.
        n_b: ``(N,)`` shots ending in B.
        w: optional ``(N,)`` sample weights (multiplying each point's shots).
        bins: equal-width bins on [0, 1].

    Returns:
        dict: ``edges``, per bin ``points``, ``shots``, ``mean_q`` and ``observed_p_b`` (shot-weighted;
        ``None`` for empty bins), and ``calibration_error``: the shot-weighted mean over bins of
        ``|observed_p_b - mean_q|`` (0 for a perfectly calibrated model in the limit of many shots).
    """
    weight = np.ones_like(q) if w is None else w
    shots = weight * (n_a + n_b)
    index = np.clip((q * bins).astype(int), 0, bins - 1)
    table = {"edges": np.round(np.linspace(0, 1, bins + 1), 12).tolist(), "points": [], "shots": [], "mean_q": [],
             "observed_p_b": []}
    error = 0.0
    for b in range(bins):
        member = index == b
        total = float(shots[member].sum())
        table["points"].append(int(member.sum()))
        table["shots"].append(total)
        if total <= 0:
            table["mean_q"].append(None)
            table["observed_p_b"].append(None)
            continue
        mean_q = float((shots[member] * q[member]).sum() / total)
        observed = float((weight[member] * n_b[member]).sum() / total)
        table["mean_q"].append(mean_q)
        table["observed_p_b"].append(observed)
        error += total * abs(observed - mean_q)
    table["calibration_error"] = error / float(shots.sum())
    return table
