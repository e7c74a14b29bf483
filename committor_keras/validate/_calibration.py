"""Calibration of predicted committors: the reliability table, parity with binomial intervals, q histograms."""

import numpy as np
import pandas as pd
from scipy import stats

from committor_keras._errors import DataError
from committor_keras.validate._scores import as_counts

_CALIBRATION_BINS = 10
STATES = ("A", "transition", "B")


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
    index = _bin_index(q, bins)
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


def _bin_index(q, bins):
    """Equal-width bin of each q on [0, 1] (q = 1 in the last bin)."""
    return np.clip((np.asarray(q) * bins).astype(int), 0, bins - 1)


def clopper_pearson(successes, trials, confidence=0.95):
    """Exact (Clopper-Pearson) binomial interval, elementwise; always contains ``successes / trials``.

    Counts need not be integers (p_B given with a number of shots gives fractional n_B): the beta-quantile
    form is used, which is the exact interval for integers and interpolates between them.

    Args:
        successes: array of shots ending in B.
        trials: array of shots (> 0).
        confidence: interval level.

    Returns:
        ``(low, high)`` float64 arrays.
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = k / n
        low = np.where(k > 0, stats.beta.ppf(alpha / 2, np.maximum(k, 1e-300), n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, np.maximum(n - k, 1e-300)), 1.0)
    # The exact interval contains k/n; the clip guards against the last-digit rounding of the quantiles.
    return np.fmin(low, estimate), np.fmax(high, estimate)


def parity_table(q, n_a, n_b, bins=10, confidence=0.95):
    """Parity of predicted q against the observed p_B per q-bin, with binomial (Clopper-Pearson) intervals.

    All shots of the points in a bin are pooled: ``observed_p_b = sum n_b / sum n`` and its exact binomial
    interval at ``confidence``. For a calibrated model ``mean_q`` should fall inside the interval in about
    ``confidence`` of the bins; the interval treats the pooled shots as one binomial, which is conservative
    when the points of a bin have different committors (their sum is less variable than one binomial).

    Args:
        q: ``(N,)`` predicted committors.
        n_a: ``(N,)`` shots ending in A.
        n_b: ``(N,)`` shots ending in B.
        bins: equal-width bins on [0, 1].
        confidence: interval level.

    Returns:
        DataFrame, one row per bin: ``q_low``, ``q_high``, ``points``, ``shots``, ``mean_q`` (shot-weighted),
        ``observed_p_b``, ``ci_low``, ``ci_high``, ``mean_q_in_ci``; values NaN (and ``mean_q_in_ci`` False)
        for bins without shots.
    """
    n_a, n_b, _ = as_counts(n_a, n_b)
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    index = _bin_index(q, bins)
    n = n_a + n_b
    shots = np.bincount(index, weights=n, minlength=bins)
    successes = np.bincount(index, weights=n_b, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_q = np.bincount(index, weights=n * q, minlength=bins) / shots
        observed = successes / shots
    low, high = clopper_pearson(successes, shots, confidence)
    empty = shots <= 0
    low[empty], high[empty] = np.nan, np.nan
    edges = np.round(np.linspace(0.0, 1.0, bins + 1), 12)
    return pd.DataFrame({
        "q_low": edges[:-1], "q_high": edges[1:], "points": np.bincount(index, minlength=bins),
        "shots": shots, "mean_q": mean_q, "observed_p_b": observed, "ci_low": low, "ci_high": high,
        "mean_q_in_ci": (~empty) & (low <= mean_q) & (mean_q <= high),
    })


def label_state(p_b):
    """``"A"`` where p_B = 0, ``"B"`` where p_B = 1, ``"transition"`` in between (object array)."""
    p_b = np.asarray(p_b, dtype=np.float64).reshape(-1)
    return np.where(p_b <= 0.0, "A", np.where(p_b >= 1.0, "B", "transition")).astype(object)


def q_histogram(q, p_b, bins=20):
    """How many points fall in each q-bin, split by their observed label state.

    State ``A``: every shot ended in A (p_B = 0); ``B``: every shot in B (p_B = 1); ``transition``: in
    between. A good model puts ``A`` points near q = 0, ``B`` near 1, and the transition points between.

    Args:
        q: ``(N,)`` predicted committors.
        p_b: ``(N,)`` observed p_B.
        bins: equal-width bins on [0, 1].

    Returns:
        DataFrame, one row per bin: ``q_low``, ``q_high``, ``A``, ``transition``, ``B``, ``total``.
    """
    index = _bin_index(np.asarray(q, dtype=np.float64).reshape(-1), bins)
    state = label_state(p_b)
    if len(state) != len(index):
        raise DataError("<memory>", "p_b", f"{len(state)} labels for {len(index)} committors")
    edges = np.round(np.linspace(0.0, 1.0, bins + 1), 12)
    table = pd.DataFrame({"q_low": edges[:-1], "q_high": edges[1:]})
    for name in STATES:
        table[name] = np.bincount(index[state == name], minlength=bins)
    table["total"] = table[list(STATES)].sum(axis=1)
    return table
