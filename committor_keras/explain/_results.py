"""Result objects of the explainers and the importance tables built from them.

An importance table has one row per feature group (a sin/cos pair of one torsion counts once) with the
columns of ``TABLE_COLUMNS``: ``importance`` is the mean |attribution| for attribution methods (integrated
gradients, SHAP) and the mean increase of the test KL divergence per shot for permutation importance;
``ci_low``/``ci_high`` are a percentile bootstrap over the points (``scipy.stats.bootstrap``), always
containing the estimate; ``fraction`` is the share of the summed positive importances; ``rank`` 1 is the most
important.
"""

import dataclasses

import numpy as np
import pandas as pd

TABLE_COLUMNS = ("method", "output", "region", "name", "label", "n_points", "importance", "signed_mean", "std",
                 "ci_low", "ci_high", "fraction", "rank")
DEFAULT_BOOTSTRAP = 1000
_BOOTSTRAP_CELLS = 2_000_000


@dataclasses.dataclass
class Attributions:
    """Per-point attributions of one model's output to its input features.

    Attributes:
        method: ``"integrated_gradients"`` or ``"shap"``.
        output: ``"logit"`` or ``"committor"``: the explained quantity.
        values: float64 (N, F) attributions (same units as the output).
        outputs: float64 (N,) f(x), the explained output at each point.
        base_values: float64 (N,) f(baseline) (IG) or the expected output over the background (SHAP).
        points: the ``ExplainSet`` explained (features, names, groups, aliases).
        info: settings (steps, quadrature, baseline description, ...), written into reports.
    """

    method: str
    output: str
    values: np.ndarray
    outputs: np.ndarray
    base_values: np.ndarray
    points: object
    info: dict = dataclasses.field(default_factory=dict)

    @property
    def delta(self):
        """Completeness error per point: |sum of attributions - (f(x) - f(baseline))|."""
        return np.abs(self.values.sum(axis=1) - (self.outputs - self.base_values))

    @property
    def committor(self):
        """The model's committor q at each point."""
        # sigmoid through tanh: no overflow for large |z|.
        return self.outputs if self.output == "committor" else 0.5 * (1.0 + np.tanh(0.5 * self.outputs))

    def grouped_values(self):
        """float64 (N, G) attributions summed over the columns of each feature group."""
        return np.stack([self.values[:, list(cols)].sum(axis=1) for _, cols in self.points.groups], axis=1)

    def to_frame(self, grouped=False):
        """Per-point attributions as a DataFrame (columns: feature names, or group labels if ``grouped``)."""
        if grouped:
            return pd.DataFrame(self.grouped_values(), columns=[self.points.label(n) for n in
                                                                 self.points.group_names])
        return pd.DataFrame(self.values, columns=list(self.points.feature_names))

    def table(self, mask=None, region="all", confidence=0.95, n_boot=DEFAULT_BOOTSTRAP, seed=0):
        """Importance table over the points in ``mask`` (all points by default).

        Args:
            mask: optional boolean (N,) selecting the points (e.g. the transition region).
            region: name written into the ``region`` column.
            confidence: level of the bootstrap interval on the mean |attribution|.
            n_boot: bootstrap resamples.
            seed: seed of the bootstrap.

        Returns:
            A DataFrame with ``TABLE_COLUMNS``, sorted by rank.
        """
        grouped = self.grouped_values()
        if mask is not None:
            grouped = grouped[np.asarray(mask)]
        importance, low, high = bootstrap_ratio_ci(np.abs(grouped).T, np.ones(grouped.shape[0]), confidence,
                                                   n_boot, seed)
        return build_table(
            self.points, method=self.method, output=self.output, region=region, n_points=grouped.shape[0],
            importance=importance,
            signed_mean=grouped.mean(axis=0) if grouped.size else np.full(grouped.shape[1], np.nan),
            std=np.full(grouped.shape[1], np.nan), ci_low=low, ci_high=high,
        )


@dataclasses.dataclass
class PermutationImportance:
    """Increase of the KL divergence per shot when each feature group is permuted.

    Attributes:
        increases: float64 (G, R, N): for group g and repeat r, the weighted increase of point i's
            shot-summed KL divergence (numerator of the per-shot loss).
        shots: float64 (N,) weighted shot counts (denominator of the per-shot loss).
        baseline_loss: the unpermuted KL divergence per shot.
        points: the ``ExplainSet`` evaluated.
        output: always ``"logit"`` (the loss is computed from it); kept for uniform tables.
        info: settings (repeats, seed), written into reports.
    """

    increases: np.ndarray
    shots: np.ndarray
    baseline_loss: float
    points: object
    output: str = "loss"
    info: dict = dataclasses.field(default_factory=dict)
    method = "permutation"

    def per_repeat(self, mask=None):
        """float64 (G, R) increase of the KL per shot, one value per group and repeat."""
        increases, shots = self._masked(mask)
        return increases.sum(axis=-1) / shots.sum()

    def _masked(self, mask):
        if mask is None:
            return self.increases, self.shots
        mask = np.asarray(mask)
        return self.increases[:, :, mask], self.shots[mask]

    def table(self, mask=None, region="all", confidence=0.95, n_boot=DEFAULT_BOOTSTRAP, seed=0):
        """Importance table over the points in ``mask`` (see ``Attributions.table`` for the arguments).

        The permutations always shuffle over all points; a mask only restricts where the loss increase is
        counted, so region-resolved importances compare like with like.
        """
        increases, shots = self._masked(mask)
        n_groups, repeats, n_points = increases.shape
        if n_points == 0 or shots.sum() <= 0:
            nan = np.full(n_groups, np.nan)
            return build_table(self.points, method=self.method, output=self.output, region=region, n_points=0,
                               importance=nan, signed_mean=nan, std=nan, ci_low=nan, ci_high=nan)
        per_repeat = increases.sum(axis=-1) / shots.sum()
        # The mean over repeats of the per-shot increase, computed as one ratio so that the interval holds it.
        importance, low, high = bootstrap_ratio_ci(increases.mean(axis=1), shots, confidence, n_boot, seed)
        return build_table(
            self.points, method=self.method, output=self.output, region=region, n_points=n_points,
            importance=importance, signed_mean=np.full(n_groups, np.nan),
            std=per_repeat.std(axis=1, ddof=1) if repeats > 1 else np.full(n_groups, np.nan),
            ci_low=low, ci_high=high,
        )


def build_table(points, *, method, output, region, n_points, importance, signed_mean, std, ci_low, ci_high):
    """Assemble an importance table (one row per group of ``points``), ranked and sorted."""
    importance = np.asarray(importance, dtype=np.float64)
    positive = np.clip(np.nan_to_num(importance), 0.0, None)
    table = pd.DataFrame({
        "method": method, "output": output, "region": region,
        "name": list(points.group_names), "label": [points.label(n) for n in points.group_names],
        "n_points": int(n_points), "importance": importance, "signed_mean": signed_mean, "std": std,
        "ci_low": ci_low, "ci_high": ci_high,
        "fraction": positive / positive.sum() if positive.sum() > 0 else np.full(len(importance), np.nan),
    })
    table["rank"] = table["importance"].rank(ascending=False, method="min").astype("Int64")
    return table.sort_values(["rank", "name"], na_position="last").reset_index(drop=True)[list(TABLE_COLUMNS)]


def bootstrap_ratio_ci(numerators, denominators, confidence=0.95, n_boot=DEFAULT_BOOTSTRAP, seed=0):
    """Ratio sum(numerators) / sum(denominators) over the points, with a percentile bootstrap interval.

    The interval comes from ``scipy.stats.bootstrap`` (points resampled with their denominators) and is
    widened, where rounding or a skewed resampling distribution leaves the estimate outside, to contain the
    estimate: error bars are never negative. A single point has no spread: its interval is the estimate.

    Args:
        numerators: (G, N) per-point numerators, one row per statistic.
        denominators: (N,) per-point denominators (ones for a plain mean).
        confidence: interval level.
        n_boot: resamples.
        seed: seed of the resampling.

    Returns:
        (estimate, low, high), each (G,); NaN when there are no points or the denominators sum to zero.
    """
    from scipy import stats

    numerators = np.asarray(numerators, dtype=np.float64)
    denominators = np.asarray(denominators, dtype=np.float64)
    n_groups, n_points = numerators.shape
    if n_points == 0 or denominators.sum() <= 0:
        nan = np.full(n_groups, np.nan)
        return nan, nan, nan

    def ratio(indices, axis=-1):
        # indices: (..., N) resampled point indices; returns (G, ...).
        return numerators[:, indices].sum(axis=-1) / denominators[indices].sum(axis=-1)

    estimate = ratio(np.arange(n_points))
    if n_points == 1 or n_boot < 1:
        return estimate, estimate.copy(), estimate.copy()
    result = stats.bootstrap((np.arange(n_points),), ratio, n_resamples=int(n_boot), confidence_level=confidence,
                             method="percentile", vectorized=True,
                             batch=max(1, _BOOTSTRAP_CELLS // (n_points * n_groups)), rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return estimate, np.fmin(low, estimate), np.fmax(high, estimate)
