"""`CommittorData`: configurations' features with their shooting outcomes.

A committor data set pairs collective variables of configurations with shooting results from them: how many
trajectories started there reached state A and how many reached state B (Kawashima et al., arXiv:2408.02132,
train on the estimate p_B = n_B / (n_A + n_B) weighted by the number of shots). Labels are always held as shot
counts; p_B estimates with a number of shots convert exactly (n_B = p_B n, n_A = n - n_B).
"""

import copy
import hashlib
import json

import numpy as np

from committor_keras._errors import DataError

LABEL_COUNTS = "counts"
LABEL_PB = "p_b"
MEMORY = "<memory>"


class CommittorData:
    """Features, shot counts, optional weights and extras, and metadata of one committor data set.

    Args:
        features: (N, F) array of collective variables.
        feature_names: F unique names, in column order.
        n_a: shots that ended in state A, per point (give with ``n_b``).
        n_b: shots that ended in state B, per point.
        p_b: committor estimates in [0, 1] (give with ``n_shots`` instead of ``n_a``/``n_b``).
        n_shots: shots behind each ``p_b`` (> 0).
        weights: optional non-negative sample weights.
        extras: optional mapping name -> numeric array of length N carried along (commit times, frame index).
        metadata: JSON-serialisable dict (see docs/data.md: system, temperature_K, states, feature_groups,
            feature_aliases, units, provenance).
        source: where the data came from, named in error messages.

    Raises:
        DataError: for any inconsistency, naming the source and the field.
    """

    def __init__(self, features, feature_names, *, n_a=None, n_b=None, p_b=None, n_shots=None,
                 weights=None, extras=None, metadata=None, source=MEMORY):
        self.source = str(source)
        self.features = _as_matrix(features, self.source)
        self.feature_names = _check_names(feature_names, self.features.shape[1], self.source)
        self.n_a, self.n_b, self.label_kind = _counts(n_a, n_b, p_b, n_shots, len(self.features), self.source)
        self.weights = None if weights is None else _check_weights(weights, len(self.features), self.source)
        self.extras = _check_extras(extras or {}, len(self.features), self.source)
        self.metadata = _check_metadata(metadata or {}, self.feature_names, self.source)
        _check_finite(self.features, self.feature_names, self.source)
        self._check_not_one_state()

    def __len__(self):
        return len(self.features)

    def __repr__(self):
        system = self.metadata.get("system", "unnamed system")
        return (f"CommittorData({system}: {len(self)} points x {self.n_features} features, "
                f"{int(self.n_shots.sum())} shots, source={self.source!r})")

    @property
    def n_features(self):
        """Number of feature columns."""
        return self.features.shape[1]

    @property
    def n_shots(self):
        """Shots per point, n_A + n_B."""
        return self.n_a + self.n_b

    @property
    def p_b(self):
        """Committor estimate per point, n_B / (n_A + n_B)."""
        return self.n_b / self.n_shots

    @property
    def feature_groups(self):
        """Group name -> member feature names (sin/cos pairs of one angle, ...) from the metadata."""
        return dict(self.metadata.get("feature_groups", {}))

    def groups(self):
        """Every feature exactly once, as ``(group_name, [column indices])`` in column order.

        Features named in ``metadata["feature_groups"]`` form their group; the others are singletons.

        Returns:
            list of (str, list[int]).
        """
        column = {name: i for i, name in enumerate(self.feature_names)}
        group_of = {member: group for group, members in self.feature_groups.items() for member in members}
        result, seen = [], set()
        for name in self.feature_names:
            group = group_of.get(name)
            if group is None:
                result.append((name, [column[name]]))
            elif group not in seen:
                seen.add(group)
                result.append((group, [column[m] for m in self.feature_groups[group]]))
        return result

    def alias(self, name):
        """The short name of a feature or group (``phi`` for ``C5-N7-C9-C15``), or the name itself."""
        return self.metadata.get("feature_aliases", {}).get(name, name)

    def subset(self, indices):
        """A new data set holding the points at ``indices`` (metadata shared, arrays copied).

        Args:
            indices: integer indices or a boolean mask.

        Returns:
            CommittorData.
        """
        indices = np.asarray(indices)
        new = copy.copy(self)
        new.features = self.features[indices]
        new.n_a = self.n_a[indices]
        new.n_b = self.n_b[indices]
        new.weights = None if self.weights is None else self.weights[indices]
        new.extras = {name: values[indices] for name, values in self.extras.items()}
        new.metadata = copy.deepcopy(self.metadata)
        return new

    def content_sha256(self):
        """sha256 over features, names, counts, weights, extras and metadata: equal data, equal hash."""
        digest = hashlib.sha256()
        for array in (self.features, self.n_a, self.n_b):
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        digest.update(json.dumps(list(self.feature_names)).encode())
        if self.weights is not None:
            digest.update(self.weights.tobytes())
        for name in sorted(self.extras):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(self.extras[name]).tobytes())
        digest.update(json.dumps(self.metadata, sort_keys=True).encode())
        return digest.hexdigest()

    def summary(self):
        """A dict describing the set: sizes, shots, the p_B distribution, system and states."""
        p_b = self.p_b
        return {
            "system": self.metadata.get("system"),
            "points": len(self),
            "features": self.n_features,
            "groups": len(self.groups()),
            "shots": int(round(self.n_shots.sum())),
            "shots_per_point_median": float(np.median(self.n_shots)),
            "fraction_p_b_0": float(np.mean(p_b == 0)),
            "fraction_p_b_1": float(np.mean(p_b == 1)),
            "fraction_0.1_p_b_0.9": float(np.mean((p_b > 0.1) & (p_b < 0.9))),
            "states": self.metadata.get("states"),
        }

    def save(self, path):
        """Write to ``.npz`` (no pickle) or ``.csv``, chosen by the suffix, atomically."""
        from committor_keras.data._io import save

        save(self, path)

    @classmethod
    def load(cls, path):
        """Read and validate a ``.npz`` or ``.csv`` data set; see :func:`committor_keras.data.load`."""
        from committor_keras.data._io import load

        return load(path)


    def _check_not_one_state(self):
        p_b = self.p_b
        for value, state in ((0.0, "A"), (1.0, "B")):
            if np.all(p_b == value):
                raise DataError(self.source, "labels",
                                f"every point commits to state {state} (p_B = {value:g} everywhere): "
                                "a committor cannot be learned; add configurations from the transition "
                                "region or the other basin")


def labels(data):
    """The Keras target for ``data``: float32 (N, 2) columns ``[n_a, n_b]``."""
    return np.stack([data.n_a, data.n_b], axis=1).astype(np.float32)


def _check_finite(features, names, source):
    bad = ~np.isfinite(features)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(source, names[col], f"{int(bad.sum())} non-finite value(s) (first at point {row}: "
                                            f"{features[row, col]}); remove or impute those points")


def _as_matrix(features, source):
    try:
        features = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(source, "features", f"not numeric ({error}); give an (N, F) array of numbers") from None
    if features.ndim != 2:
        raise DataError(source, "features", f"expected a 2-D (points x features) array, got shape "
                                            f"{features.shape}")
    if features.shape[0] == 0:
        raise DataError(source, "features", "the data set is empty (0 points)")
    if features.shape[1] == 0:
        raise DataError(source, "features", "no feature columns")
    return features


def _check_names(names, n_features, source):
    if names is None:
        raise DataError(source, "feature_names", "missing; give one name per feature column")
    names = tuple(str(name) for name in np.asarray(names).ravel())
    if len(names) != n_features:
        raise DataError(source, "feature_names",
                        f"{len(names)} names for {n_features} feature columns; give one name per column")
    if any(not name.strip() for name in names):
        raise DataError(source, "feature_names", "empty feature name; name every column")
    seen, duplicates = set(), []
    for name in names:
        if name in seen:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        raise DataError(source, "feature_names", f"duplicate name(s) {sorted(set(duplicates))}; "
                                                 "names must be unique")
    return names


def _vector(values, field, n_points, source):
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(source, field, "not numeric") from None
    if values.ndim != 1:
        values = values.reshape(-1) if values.size == n_points else values
    if values.ndim != 1 or len(values) != n_points:
        raise DataError(source, field, f"length {values.size} does not match the {n_points} points of "
                                       "'features'")
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(source, field, f"{int(bad.sum())} non-finite value(s), first at point "
                                       f"{int(np.argmax(bad))}")
    return values


def _counts(n_a, n_b, p_b, n_shots, n_points, source):
    given_counts = n_a is not None or n_b is not None
    given_pb = p_b is not None or n_shots is not None
    if given_counts and given_pb:
        raise DataError(source, "labels", "give either n_a and n_b, or p_b and n_shots, not both")
    if given_counts:
        if n_a is None or n_b is None:
            raise DataError(source, "n_a" if n_a is None else "n_b", "missing; shot counts need both n_a and n_b")
        n_a = _vector(n_a, "n_a", n_points, source)
        n_b = _vector(n_b, "n_b", n_points, source)
        for field, values in (("n_a", n_a), ("n_b", n_b)):
            if (values < 0).any():
                raise DataError(source, field, f"negative shot count at point {int(np.argmax(values < 0))}; "
                                               "counts must be >= 0")
            _check_whole(values, field, source)
        zero = (n_a + n_b) <= 0
        if zero.any():
            raise DataError(source, "n_a+n_b", f"{int(zero.sum())} point(s) with zero shots (first at point "
                                               f"{int(np.argmax(zero))}); drop them or give their shots")
        return n_a, n_b, LABEL_COUNTS
    if given_pb:
        if p_b is None or n_shots is None:
            raise DataError(source, "p_b" if p_b is None else "n_shots",
                            "missing; p_B labels need both p_b and n_shots (use n_shots = 1 if unknown)")
        p_b = _vector(p_b, "p_b", n_points, source)
        n_shots = _vector(n_shots, "n_shots", n_points, source)
        outside = (p_b < 0) | (p_b > 1)
        if outside.any():
            first = int(np.argmax(outside))
            raise DataError(source, "p_b", f"{int(outside.sum())} value(s) outside [0, 1] (first: {p_b[first]} "
                                           f"at point {first}); p_B is a probability")
        nonpositive = n_shots <= 0
        if nonpositive.any():
            raise DataError(source, "n_shots", f"{int(nonpositive.sum())} point(s) with zero or negative shots "
                                               f"(first at point {int(np.argmax(nonpositive))}); "
                                               "shots must be > 0")
        _check_whole(n_shots, "n_shots", source)
        n_b = p_b * n_shots
        return n_shots - n_b, n_b, LABEL_PB
    raise DataError(source, "labels", "no labels; give shot counts n_a and n_b, or p_b with n_shots")


def _check_whole(values, field, source):
    """Shots are whole: a fractional count is a unit or column mix-up (weights belong in ``weights``)."""
    fractional = values != np.round(values)
    if fractional.any():
        first = int(np.argmax(fractional))
        raise DataError(source, field, f"fractional shot count {values[first]:g} at point {first}; shot counts are "
                                       "whole numbers (weight points with the weights/weight column instead)")


def _check_weights(weights, n_points, source):
    weights = _vector(weights, "weights", n_points, source)
    if (weights < 0).any():
        raise DataError(source, "weights", "negative sample weight; weights must be >= 0")
    if not weights.any():
        raise DataError(source, "weights", "all sample weights are zero")
    return weights


def _check_extras(extras, n_points, source):
    checked = {}
    for name, values in extras.items():
        field = f"extras.{name}"
        try:
            values = np.asarray(values)
        except (TypeError, ValueError):
            raise DataError(source, field, "not an array") from None
        if values.dtype.kind not in "biuf":
            raise DataError(source, field, f"dtype {values.dtype} is not numeric; extras must be numbers")
        if values.ndim == 0 or len(values) != n_points:
            raise DataError(source, field, f"length {values.shape[:1]} does not match the {n_points} points")
        checked[str(name)] = values
    return checked


def _check_metadata(metadata, feature_names, source):
    try:
        metadata = json.loads(json.dumps(metadata))
    except (TypeError, ValueError) as error:
        raise DataError(source, "metadata", f"not JSON-serialisable ({error})") from None
    if not isinstance(metadata, dict):
        raise DataError(source, "metadata", "must be a JSON object (a dict)")
    known = set(feature_names)
    groups = metadata.get("feature_groups", {})
    if not isinstance(groups, dict):
        raise DataError(source, "metadata.feature_groups", "must map a group name to a list of feature names")
    owner = {}
    for group, members in groups.items():
        if not isinstance(members, list) or not members:
            raise DataError(source, f"metadata.feature_groups.{group}", "must be a non-empty list of features")
        for member in members:
            if member not in known:
                raise DataError(source, f"metadata.feature_groups.{group}",
                                f"names unknown feature {member!r}; use a column name")
            if member in owner:
                raise DataError(source, f"metadata.feature_groups.{group}",
                                f"feature {member!r} is already in group {owner[member]!r}; a feature "
                                "belongs to one group")
            owner[member] = group
    if group_clash := known & set(groups) - set(owner):
        raise DataError(source, "metadata.feature_groups",
                        f"group name(s) {sorted(group_clash)} equal a feature name; rename the group")
    return metadata
