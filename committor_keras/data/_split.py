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
    stratum = np.digitize(data.p_b, _STRATA_EDGES[1:-1])
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
