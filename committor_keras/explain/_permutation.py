"""Permutation importance on the loss: how much the test KL divergence per shot grows when a feature group's
values are shuffled across points.

A group's columns are permuted together with one permutation, so a sin/cos pair stays a valid angle and the
importance is that of the angle. The same R permutations are used for every group (as scikit-learn does), so
the groups are compared on paired draws. All repeats of one group go through the model as one stacked batch
(chunked to ``batch_rows``), not one predict call per repeat.
"""

import numpy as np

from committor_keras._errors import DataError
from committor_keras.model import shot_kl_divergence

from ._forward import DEFAULT_BATCH_ROWS, Forward
from ._inputs import explain_set
from ._results import PermutationImportance


def permutation_importance(model, data, *, repeats=10, seed=0, batch_rows=DEFAULT_BATCH_ROWS, **points_kwargs):
    """Increase of the KL divergence per shot when each feature group is permuted.

    Args:
        model: a committor model, float32 (None, F) raw features -> logit (None, 1).
        data: labelled points (normally the test split): a ``CommittorData``, an ``ExplainSet``, or an (N, F)
            array with ``labels=`` (N, 2) shot counts ``[n_a, n_b]``.
        repeats: permutations per group.
        seed: seed of the permutations.
        batch_rows: rows per model call, bounding memory.
        **points_kwargs: passed to ``explain_set`` (``indices``, ``labels``, ``sample_weight``, ``groups``...).

    Returns:
        A ``PermutationImportance``; ``.table()`` gives mean, std over repeats and a bootstrap interval.
    """
    points = require_labels(explain_set(data, **points_kwargs))
    if int(repeats) < 1:
        raise DataError("<memory>", "repeats", f"need at least one repeat, got {repeats}")
    n_points = len(points.features)
    counts = np.stack([points.n_a, points.n_b], axis=1)
    weights = np.ones(n_points) if points.weights is None else points.weights
    forward = Forward(model, "logit", batch_rows)
    base_terms = _kl_terms(counts, forward(points.features))

    rng = np.random.default_rng(seed)
    permutations = np.stack([rng.permutation(n_points) for _ in range(int(repeats))])
    block = max(1, int(batch_rows) // max(n_points, 1))
    increases = np.empty((len(points.groups), len(permutations), n_points))
    for g, (_, columns) in enumerate(points.groups):
        for start in range(0, len(permutations), block):
            chosen = permutations[start:start + block]
            logits = forward(permuted_copies(points.features, columns, chosen).reshape(-1, points.features.shape[1]))
            terms = _kl_terms(np.tile(counts, (len(chosen), 1)), logits).reshape(len(chosen), n_points)
            increases[g, start:start + len(chosen)] = weights * (terms - base_terms)
    shots = weights * counts.sum(axis=1)
    return PermutationImportance(
        increases=increases, shots=shots, baseline_loss=float((weights * base_terms).sum() / shots.sum()),
        points=points, info={"repeats": int(repeats), "seed": seed, "loss": "KL divergence per shot"},
    )


def require_labels(points):
    """Return ``points`` if they carry shot counts; raise a ``DataError`` saying how to pass them otherwise."""
    if not points.labelled:
        raise DataError("<memory>", "labels", "permutation importance needs shot counts: pass a CommittorData "
                                              "or labels=[n_a, n_b] per point")
    return points


def permuted_copies(features, columns, permutations):
    """Copies of ``features`` with ``columns`` shuffled together, one copy per permutation.

    Args:
        features: (N, F) array.
        columns: indices of one feature group.
        permutations: (R, N) integer permutations of the rows.

    Returns:
        (R, N, F) array; copy r has ``features[permutations[r]][:, columns]`` in ``columns`` (one permutation
        for all columns of the group, so pairs stay aligned) and the original values elsewhere.
    """
    columns = list(columns)
    copies = np.broadcast_to(features, (len(permutations),) + features.shape).copy()
    copies[:, :, columns] = features[:, columns][permutations]
    return copies


def _kl_terms(counts, logits):
    """n * KL(p_B || q) per point, float64 (the model package's definition of the test loss)."""
    return shot_kl_divergence(np.asarray(counts, np.float64), np.asarray(logits, np.float64)).numpy()
