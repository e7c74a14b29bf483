"""Baselines beside the networks: a constant, and shot-weighted logistic regression on feature subsets.

A shot-weighted logistic regression maximises the binomial likelihood of the shot counts, i.e. it minimises
the networks' own loss (shot-weighted cross-entropy) with a linear logit. It is scored with the same KL per
shot and sample weights as the networks, on the same split, so a network that does not beat it adds nothing
that a linear model in the same features cannot give.
"""

import numpy as np
import pandas as pd

from committor_keras._errors import DataError
from committor_keras.validate._scores import as_counts, noise_floor, scores

BASELINE_COLUMNS = ("baseline", "n_features", "kl_per_shot", "cross_entropy_per_shot", "rmse", "kl_x_floor")
# Subsets of the seed's collective variables, by alias; a subset is kept only when all its aliases resolve.
_ALIAS_SUBSETS = {"phi": ("phi",), "phi+theta": ("phi", "theta"), "phi+psi+theta": ("phi", "psi", "theta")}


class LogisticCommittor:
    """Logistic regression on the shot counts: ``q = sigmoid(b + a . x_standardised)``.

    Each point enters as two rows with the same features, label 1 weighted by ``w * n_b`` and label 0 weighted
    by ``w * n_a``, so scikit-learn's weighted log-loss is exactly the shot-weighted cross-entropy (the
    binomial likelihood). Features are standardised on the training points. With no feature the model is the
    constant ``q = sum w n_b / sum w n``.

    Args:
        C: inverse L2 strength of scikit-learn's ``LogisticRegression``; its penalty is ``1 / (2 C)``
            against a loss summed over weighted shots, so the default 1e4 is almost unregularised on sets of
            thousands of shots, yet keeps separable data finite.
        random_state: passed to scikit-learn.
        max_iter: L-BFGS iterations.
    """

    def __init__(self, C=1e4, random_state=0, max_iter=10_000):
        self.C = C
        self.random_state = random_state
        self.max_iter = max_iter
        self.scaler_ = None
        self.model_ = None
        self.intercept_ = None

    def fit(self, x, n_a, n_b, w=None):
        """Fit on features ``x`` ``(N, F)`` (F may be 0) and shot counts; returns ``self``.

        Raises:
            DataError: every shot ended in the same state (no logistic model exists).
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        n_a, n_b, w = as_counts(n_a, n_b, w)
        x = np.asarray(x, dtype=np.float64).reshape(len(n_a), -1)
        to_b, to_a = float((w * n_b).sum()), float((w * n_a).sum())
        if to_b <= 0 or to_a <= 0:
            raise DataError("<memory>", "n_a/n_b", "every training shot ended in the same state; a logistic "
                                                   "baseline needs shots ending in both A and B")
        if x.shape[1] == 0:
            self.scaler_, self.model_ = None, None
            self.intercept_ = float(np.log(to_b / to_a))
            return self
        self.scaler_ = StandardScaler().fit(x)
        scaled = self.scaler_.transform(x)
        rows = np.concatenate([scaled, scaled])
        outcome = np.concatenate([np.ones(len(x)), np.zeros(len(x))])
        weight = np.concatenate([w * n_b, w * n_a])
        keep = weight > 0
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        self.model_.fit(rows[keep], outcome[keep], sample_weight=weight[keep])
        self.intercept_ = float(self.model_.intercept_[0])
        return self

    def predict_logit(self, x):
        """Logits ``z`` ``(N,)`` of the points ``x``."""
        if self.intercept_ is None:
            raise RuntimeError("LogisticCommittor: call fit() first")
        x = np.asarray(x, dtype=np.float64)
        if self.model_ is None:
            return np.full(len(x), self.intercept_)
        return self.model_.decision_function(self.scaler_.transform(x.reshape(len(x), -1)))

    def predict(self, x):
        """Committors ``q = sigmoid(z)`` ``(N,)`` of the points ``x``."""
        return _sigmoid(self.predict_logit(x))


def default_baseline_subsets(data):
    """The issue's baselines for ``data``: name -> feature-group names (``[]``: constant; ``None``: all).

    ``constant``, then ``phi``, ``phi+theta``, ``phi+psi+theta`` where ``metadata["feature_aliases"]`` names
    those groups (a subset is left out when any of its aliases is missing), then ``all``.

    Args:
        data: a CommittorData.

    Returns:
        dict, in that order.
    """
    group_names = {name for name, _ in data.groups()}
    by_alias = {alias: name for name, alias in (data.metadata.get("feature_aliases") or {}).items()
                if name in group_names}
    subsets = {"constant": []}
    for label, aliases in _ALIAS_SUBSETS.items():
        if all(alias in by_alias for alias in aliases):
            subsets[label] = [by_alias[alias] for alias in aliases]
    subsets["all"] = None
    return subsets


def subset_columns(data, groups):
    """Column indices of feature groups or single features (``None``: every column), without repeats.

    Raises:
        DataError: a name is neither a group nor a feature of ``data``.
    """
    if groups is None:
        return list(range(data.features.shape[1]))
    known = {name: i for i, name in enumerate(data.feature_names)}
    known = {**{name: [column] for name, column in known.items()}, **dict(data.groups())}
    columns = []
    for name in groups:
        if name not in known:
            raise DataError(data.source, "feature_groups", f"unknown feature group or feature '{name}' in a "
                                                           f"baseline subset; known groups: {', '.join(known)}")
        columns += list(known[name])
    return list(dict.fromkeys(columns))


def baseline_table(data, train_idx, eval_idx, subsets=None, random_state=0, floor=None, C=1e4):
    """Fit every baseline on ``train_idx`` and score it on ``eval_idx`` with the networks' metrics.

    Args:
        data: a CommittorData (its sample weights weight fitting and scores, as for the networks).
        train_idx: indices of the fitting points (the training split, or a fold's training part).
        eval_idx: indices of the scored points (the test split, or the fold).
        subsets: name -> feature-group or feature names (``[]`` constant, ``None`` all), e.g. the members of
            :func:`committor_keras.explain.group_by_central_bond` groups; default :func:`default_baseline_subsets`.
        random_state: passed to :class:`LogisticCommittor`.
        floor: noise floor of the evaluation points (a number or :func:`noise_floor`'s dict); default the
            floor of the best-scoring baseline's committor on ``eval_idx`` taken as the truth (200 repeats):
            the best available estimate of the exact committor (the observed p_B would put points seen at
            p_B = 0 or 1 at exactly zero and underestimate the floor).
        C: inverse L2 strength of the logistic fits.

    Returns:
        DataFrame with ``BASELINE_COLUMNS`` (``kl_x_floor``: KL as a multiple of the floor), one row per
        baseline in the order of ``subsets``; ``.attrs["noise_floor"]`` holds the floor used (a
        :func:`noise_floor` dict, ``q`` naming the baseline whose committor it took, or ``"given"``).
    """
    subsets = default_baseline_subsets(data) if subsets is None else subsets
    train_idx, eval_idx = np.asarray(train_idx), np.asarray(eval_idx)
    weights = data.weights
    pick = (lambda indices: None if weights is None else weights[indices])
    rows, logits = [], {}
    for name, groups in subsets.items():
        columns = subset_columns(data, groups)
        model = LogisticCommittor(C=C, random_state=random_state).fit(
            data.features[np.ix_(train_idx, columns)], data.n_a[train_idx], data.n_b[train_idx], pick(train_idx))
        logits[name] = model.predict_logit(data.features[np.ix_(eval_idx, columns)])
        rows.append({"baseline": name, "n_features": len(columns),
                     **scores(data.n_a[eval_idx], data.n_b[eval_idx], w=pick(eval_idx), logit=logits[name])})
    table = pd.DataFrame(rows, columns=list(BASELINE_COLUMNS))
    if floor is None:
        best = table.loc[table["kl_per_shot"].idxmin(), "baseline"]
        floor = {**noise_floor(data.n_a[eval_idx], data.n_b[eval_idx], q=_sigmoid(logits[best]), w=pick(eval_idx),
                               random_state=random_state), "q": f"baseline {best}"}
    elif not isinstance(floor, dict):
        floor = {"mean": float(floor), "q": "given"}
    table["kl_x_floor"] = table["kl_per_shot"] / floor["mean"] if floor["mean"] > 0 else np.nan
    table.attrs["noise_floor"] = floor
    return table


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))

