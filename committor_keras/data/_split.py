"""Deterministic, p_B-stratified train/validation/test splits."""

import dataclasses

import numpy as np

from committor_keras._errors import ConfigError, DataError
from committor_keras._provenance import atomic_path

# Strata edges on p_B: the committed tails and the transition region each spread over every split.
_STRATA_EDGES = (0.0, 1e-12, 0.1, 0.3, 0.5, 0.7, 0.9, 1 - 1e-12, 1.0 + 1e-9)


@dataclasses.dataclass(frozen=True)
class Split:
    """Indices of the training, validation and test points (disjoint, sorted)."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    seed: int

    def save(self, path):
        """Write the indices to an ``.npz`` file atomically."""
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, train=self.train, validation=self.validation, test=self.test,
                         seed=np.array(self.seed))

    @classmethod
    def load(cls, path):
        """Read indices written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as archive:
            return cls(archive["train"], archive["validation"], archive["test"], int(archive["seed"]))


def _strata(p_b):
    """The p_B stratum of each point (index into the bands of ``_STRATA_EDGES``)."""
    return np.digitize(p_b, _STRATA_EDGES[1:-1])


def split_indices(data, seed, fractions=(0.8, 0.1, 0.1)):
    """Split ``data`` into train/validation/test, stratified over p_B, deterministically from ``seed``.

    Within each p_B stratum (p_B = 0, the bands of width 0.2 between 0.1 and 0.9, the bands to 0.1 and from
    0.9, and p_B = 1) points are shuffled with ``seed`` and dealt out in the given fractions, so every split
    sees the committed tails and the transition region in the same proportions.

    Args:
        data: a CommittorData.
        seed: integer seed; the same seed and data give the same split.
        fractions: three non-negative fractions summing to 1 (validation and test must be > 0).

    Returns:
        Split.

    Raises:
        ConfigError: for invalid fractions.
        DataError: when the set is too small to give every split a point.
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.shape != (3,) or (fractions <= 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise ConfigError(f"split fractions {fractions.tolist()}: give three positive fractions that sum to 1")
    if len(data) < 3:
        raise DataError(data.source, "features", f"{len(data)} points cannot be split into train, validation "
                                                 "and test; give at least 3 points")
    rng = np.random.default_rng(seed)
    stratum = _strata(data.p_b)
    parts = ([], [], [])
    for value in np.unique(stratum):
        members = rng.permutation(np.flatnonzero(stratum == value))
        # Largest-remainder rounding keeps each stratum's counts summing to its size.
        exact = fractions * len(members)
        counts = np.floor(exact).astype(int)
        counts[np.argsort(exact - counts)[::-1][: len(members) - counts.sum()]] += 1
        for part, chunk in zip(parts, np.split(members, np.cumsum(counts)[:-1])):
            part.append(chunk)
    train, validation, test = (np.sort(np.concatenate(part)).astype(np.int64) for part in parts)
    for name, indices in (("validation", validation), ("test", test), ("train", train)):
        if len(indices) == 0:
            raise DataError(data.source, "features", f"the {name} split is empty with {len(data)} points; "
                                                     "give more points or larger fractions")
    return Split(train, validation, test, int(seed))


def kfold_indices(data, k=5, seed=0, groups=None):
    """``k`` cross-validation folds, stratified over p_B like :func:`split_indices`, deterministic from ``seed``.

    Within each p_B stratum the points (or groups) are shuffled with ``seed`` and dealt to the folds in turn,
    the deal continuing from one stratum to the next, so fold sizes differ by at most one point (one group)
    and every fold sees the committed tails and the transition region in the same proportions. Every point is
    in exactly one test fold.

    Args:
        data: a CommittorData.
        k: number of folds (>= 2).
        seed: integer seed.
        groups: optional key of ``data.extras`` holding one label per point (e.g. the configuration a point
            was shot from, or its sampling window): points sharing a label stay in the same fold; a group is
            stratified by its pooled p_B.

    Returns:
        list of ``k`` ``(train_idx, test_idx)`` pairs of sorted int64 arrays.

    Raises:
        ConfigError: ``k`` < 2.
        DataError: unknown or malformed ``groups`` key, or fewer points (groups) than folds.
    """
    k = int(k)
    if k < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, got k={k}")
    if groups is None:
        unit = np.arange(len(data))
        unit_p_b = data.p_b
        what = "points"
    else:
        if groups not in data.extras:
            raise DataError(data.source, f"extra.{groups}", f"no extra '{groups}' to group folds by; "
                                                            f"extras are: {', '.join(data.extras) or 'none'}")
        labels = np.asarray(data.extras[groups])
        if labels.shape != (len(data),):
            raise DataError(data.source, f"extra.{groups}", f"expected one label per point, shape ({len(data)},), "
                                                            f"got {labels.shape}")
        _, unit = np.unique(labels, return_inverse=True)
        shots = np.bincount(unit, weights=data.n_shots)
        unit_p_b = np.bincount(unit, weights=data.n_b) / np.where(shots > 0, shots, 1.0)
        what = f"groups of '{groups}'"
    if len(unit_p_b) < k:
        raise DataError(data.source, "features", f"{len(unit_p_b)} {what} cannot fill {k} folds; "
                                                 f"use k <= {len(unit_p_b)}")
    rng = np.random.default_rng(seed)
    stratum = _strata(unit_p_b)
    fold_of_unit = np.empty(len(unit_p_b), dtype=np.int64)
    dealt = 0
    for value in np.unique(stratum):
        members = rng.permutation(np.flatnonzero(stratum == value))
        fold_of_unit[members] = (dealt + np.arange(len(members))) % k
        dealt += len(members)
    fold = fold_of_unit[unit]
    return [(np.flatnonzero(fold != f).astype(np.int64), np.flatnonzero(fold == f).astype(np.int64))
            for f in range(k)]
