"""Scores of predicted committors against shot counts, in NumPy: KL and cross-entropy per shot, RMSE, Brier
score, and the noise floor of the KL by parametric bootstrap.

The KL, cross-entropy and RMSE have exactly the definitions of :mod:`committor_keras.model`'s metrics
(``sum(w * n * KL(p_B || q)) / sum(w * n)`` and so on; a test checks they agree), computed here without
TensorFlow so that validation, baselines and bootstraps are cheap.
"""

import numpy as np
from scipy.special import logit as _logit
from scipy.special import xlogy

from committor_keras._errors import DataError


def as_counts(n_a, n_b, w=None):
    """Shot counts and weights as float64 arrays of one length (weights default to ones).

    Raises:
        DataError: lengths differ or counts are negative.
    """
    n_a, n_b = np.asarray(n_a, dtype=np.float64).reshape(-1), np.asarray(n_b, dtype=np.float64).reshape(-1)
    w = np.ones_like(n_a) if w is None else np.asarray(w, dtype=np.float64).reshape(-1)
    if not len(n_a) == len(n_b) == len(w):
        raise DataError("<memory>", "n_a/n_b", f"lengths differ: n_a {len(n_a)}, n_b {len(n_b)}, weights {len(w)}")
    if (n_a < 0).any() or (n_b < 0).any():
        raise DataError("<memory>", "n_a/n_b", "shot counts must be non-negative")
    return n_a, n_b, w


def logit_of(q):
    """``log(q / (1 - q))`` as float64 (infinite at q = 0 or 1)."""
    with np.errstate(divide="ignore"):
        return _logit(np.asarray(q, dtype=np.float64).reshape(-1))


def shot_cross_entropy_terms(logit, n_a, n_b):
    """Per point ``n_b softplus(-z) + n_a softplus(z)``: ``-n_b log q - n_a log(1 - q)``.

    A zero count contributes zero even where its log is infinite (q = 0 or 1 exactly).
    """
    z = np.asarray(logit, dtype=np.float64).reshape(-1)
    with np.errstate(invalid="ignore"):
        to_b = np.where(n_b > 0, n_b * np.logaddexp(0.0, -z), 0.0)
        to_a = np.where(n_a > 0, n_a * np.logaddexp(0.0, z), 0.0)
    return to_b + to_a


def shot_entropy_terms(n_a, n_b):
    """Per point ``-n [p_B log p_B + (1 - p_B) log(1 - p_B)]`` (the cross-entropy of q = p_B)."""
    n = n_a + n_b
    safe = np.where(n > 0, n, 1.0)
    return -(xlogy(n_a, n_a / safe) + xlogy(n_b, n_b / safe))


def scores(n_a, n_b, *, q=None, logit=None, w=None):
    """KL per shot, cross-entropy per shot and RMSE of a committor prediction (the networks' metrics).

    Give ``q`` or, more precisely for confident models, ``logit`` (q = 1 in float64 beyond z ~ 37).

    Args:
        n_a: ``(N,)`` shots ending in A.
        n_b: ``(N,)`` shots ending in B.
        q: ``(N,)`` predicted committors.
        logit: ``(N,)`` predicted logits, instead of ``q``.
        w: optional ``(N,)`` sample weights.

    Returns:
        dict: ``kl_per_shot``, ``cross_entropy_per_shot`` (nats per shot), ``rmse`` (of q against p_B over
        points with shots, weighted by ``w`` and not by shots).
    """
    n_a, n_b, w = as_counts(n_a, n_b, w)
    z = logit_of(q) if logit is None else np.asarray(logit, dtype=np.float64).reshape(-1)
    if len(z) != len(n_a):
        raise DataError("<memory>", "q", f"{len(z)} predictions for {len(n_a)} points")
    n = n_a + n_b
    shots = float((w * n).sum())
    cross_entropy = shot_cross_entropy_terms(z, n_a, n_b)
    has_shots = n > 0
    p_b = np.where(has_shots, n_b / np.where(has_shots, n, 1.0), 0.0)
    q_values = 0.5 * (1.0 + np.tanh(0.5 * z))
    squared = float((w * has_shots * (q_values - p_b) ** 2).sum() / (w * has_shots).sum())
    return {
        "kl_per_shot": float((w * (cross_entropy - shot_entropy_terms(n_a, n_b))).sum() / shots),
        "cross_entropy_per_shot": float((w * cross_entropy).sum() / shots),
        "rmse": float(np.sqrt(squared)),
    }


def brier_score(q, n_a, n_b, w=None):
    """Brier score per shot: the mean over shots of ``(q - outcome)^2``, outcome 1 for B and 0 for A.

    ``sum w [n_b (1 - q)^2 + n_a q^2] / sum w n``. A perfect committor still scores ``mean q (1 - q)`` (the
    shots are random); a constant at the overall p_B scores ``p (1 - p)``.

    Args:
        q: ``(N,)`` predicted committors.
        n_a: ``(N,)`` shots ending in A.
        n_b: ``(N,)`` shots ending in B.
        w: optional ``(N,)`` sample weights.

    Returns:
        float.
    """
    n_a, n_b, w = as_counts(n_a, n_b, w)
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    return float((w * (n_b * (1.0 - q) ** 2 + n_a * q ** 2)).sum() / (w * (n_a + n_b)).sum())


def noise_floor(n_a, n_b, q=None, w=None, repeats=200, random_state=0):
    """KL per shot that the exact committor itself scores against finite-shot data (parametric bootstrap).

    Definition: take ``q`` as the true committor of every point and keep each point's number of shots
    ``n = n_a + n_b`` (rounded to an integer). Each repeat draws ``n_B* ~ Binomial(n, q)``, ``n_A* = n - n_B*``
    and computes the KL per shot of ``q`` against those counts,
    ``sum w n KL(n_B*/n || q) / sum w n`` (the metric the networks are scored with). The floor is the mean
    over repeats; ``std`` is its spread from one draw of the shots to another, i.e. how far a perfect model's
    KL on this set can fall from the mean. No model can be expected to score below the floor on average.

    The floor depends on ``q`` mostly near 0 and 1 (a point with ``n q << 1`` adds almost nothing); in the
    transition region each point adds about ``1 / 2`` nat whatever ``q`` is. With ``q=None`` the observed
    ``p_B`` stands in for the truth: points observed at p_B = 0 or 1 then add exactly zero, so this plug-in
    floor is a slight underestimate; pass a model's q (e.g. the best one's) for the other estimate.

    Args:
        n_a: ``(N,)`` shots ending in A.
        n_b: ``(N,)`` shots ending in B.
        q: ``(N,)`` exact (or assumed) committors; default the observed p_B.
        w: optional ``(N,)`` sample weights.
        repeats: bootstrap draws.
        random_state: seed of the draws.

    Returns:
        dict: ``mean``, ``std`` (over repeats), ``repeats``, ``q`` (``"p_b"`` or ``"given"``).
    """
    n_a, n_b, w = as_counts(n_a, n_b, w)
    n = np.rint(n_a + n_b).astype(np.int64)
    source = "p_b" if q is None else "given"
    q = np.divide(n_b, n_a + n_b, out=np.zeros_like(n_b), where=(n_a + n_b) > 0) if q is None else \
        np.clip(np.asarray(q, dtype=np.float64).reshape(-1), 0.0, 1.0)
    if len(q) != len(n):
        raise DataError("<memory>", "q", f"{len(q)} committors for {len(n)} points")
    rng = np.random.default_rng(random_state)
    drawn_b = rng.binomial(n, q, size=(int(repeats), len(n))).astype(np.float64)
    drawn_a = n - drawn_b
    # n KL(p* || q) = n_b* log(p*/q) + n_a* log((1 - p*)/(1 - q)), with 0 log 0 = 0.
    cross_entropy = -(xlogy(drawn_b, q) + xlogy(drawn_a, 1.0 - q))
    per_repeat = ((cross_entropy - shot_entropy_terms(drawn_a, drawn_b)) * w).sum(axis=1) / float((w * n).sum())
    return {"mean": float(per_repeat.mean()), "std": float(per_repeat.std(ddof=1)) if repeats > 1 else 0.0,
            "repeats": int(repeats), "q": source}
