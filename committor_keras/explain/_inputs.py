"""The points an explanation works on: features, names, feature groups, aliases and (optionally) labels.

Every explainer accepts either a ``CommittorData`` (duck-typed: ``features``, ``feature_names``, ``n_a``,
``n_b``, ``weights``, ``metadata``, ``groups()``) or a plain (N, F) array with explicit names, and turns it into
one ``ExplainSet`` so that the explainers never branch on the input type.
"""

import dataclasses

import numpy as np

from committor_keras._errors import ConfigError, DataError


@dataclasses.dataclass(frozen=True)
class ExplainSet:
    """Points to explain, with what the reports need to name and group them.

    Attributes:
        features: float32 (N, F) raw features, the model's input.
        feature_names: F unique names.
        groups: ((group name, (column indices...)), ...) covering every column exactly once.
        aliases: group or feature name -> short name (``phi``) used in reports.
        n_a: float64 (N,) shots that ended in A, or None when unlabelled.
        n_b: float64 (N,) shots that ended in B, or None when unlabelled.
        weights: float64 (N,) sample weights, or None.
    """

    features: np.ndarray
    feature_names: tuple
    groups: tuple
    aliases: dict
    n_a: np.ndarray = None
    n_b: np.ndarray = None
    weights: np.ndarray = None

    @property
    def labelled(self):
        """Whether shot counts are known."""
        return self.n_a is not None

    @property
    def p_b(self):
        """Estimated p_B = n_b / (n_a + n_b) (labelled sets only)."""
        return self.n_b / (self.n_a + self.n_b)

    def label(self, name):
        """The report label of a group or feature: its alias when it has one."""
        return self.aliases.get(name, name)

    @property
    def group_names(self):
        """Group names in order."""
        return tuple(name for name, _ in self.groups)

    def subset(self, rows):
        """The same set restricted to ``rows`` (indices or a boolean mask)."""
        pick = (lambda a: None if a is None else a[rows])
        return dataclasses.replace(
            self, features=self.features[rows], n_a=pick(self.n_a), n_b=pick(self.n_b), weights=pick(self.weights)
        )


def explain_set(data, *, indices=None, feature_names=None, groups=None, aliases=None, labels=None,
                sample_weight=None):
    """Build an ``ExplainSet`` from a ``CommittorData`` or a feature array.

    Args:
        data: a ``CommittorData`` or a float array (N, F).
        indices: optional rows to keep (e.g. the test split).
        feature_names: names for an array input (default ``x0, x1, ...``); ignored for ``CommittorData``.
        groups: optional grouping overriding the data's: a mapping group name -> feature names, or a sequence
            of (group name, feature names or column indices). Ungrouped features become singleton groups.
        aliases: optional mapping name -> short name, merged over ``metadata["feature_aliases"]``.
        labels: optional (N, 2) shot counts ``[n_a, n_b]`` for an array input.
        sample_weight: optional (N,) weights for an array input.

    Returns:
        An ``ExplainSet`` (an ``ExplainSet`` passed in is returned as it is, regrouped by ``groups`` and
        ``aliases`` when given and restricted to ``indices``).
    """
    if isinstance(data, ExplainSet):
        if groups is not None or aliases:
            data = dataclasses.replace(
                data, groups=data.groups if groups is None else _resolve_groups(groups, data.feature_names),
                aliases={**data.aliases, **(aliases or {})})
        return data if indices is None else data.subset(np.asarray(indices))
    if hasattr(data, "features"):
        features = np.asarray(data.features)
        names = tuple(data.feature_names)
        metadata = dict(getattr(data, "metadata", None) or {})
        n_a, n_b, weights = data.n_a, data.n_b, getattr(data, "weights", None)
        data_groups = data.groups() if groups is None and hasattr(data, "groups") else None
        merged_aliases = dict(metadata.get("feature_aliases") or {})
    else:
        features = np.asarray(data)
        if features.ndim != 2:
            raise DataError("<memory>", "features", f"expected a 2-d array (N, F), got shape {features.shape}")
        names = tuple(feature_names) if feature_names is not None else tuple(
            f"x{i}" for i in range(features.shape[1]))
        n_a = n_b = None
        if labels is not None:
            labels = np.asarray(labels, dtype=np.float64)
            if labels.shape != (features.shape[0], 2):
                raise DataError("<memory>", "labels", f"expected shape ({features.shape[0]}, 2) of [n_a, n_b], "
                                                      f"got {labels.shape}")
            n_a, n_b = labels[:, 0], labels[:, 1]
        weights = sample_weight
        data_groups = None
        merged_aliases = {}
    if len(names) != features.shape[1] or len(set(names)) != len(names):
        raise DataError("<memory>", "feature_names", f"need {features.shape[1]} unique names, got {names!r}")
    merged_aliases.update(aliases or {})
    resolved = _resolve_groups(data_groups if data_groups is not None else groups, names)
    as_f64 = (lambda a: None if a is None else np.asarray(a, dtype=np.float64))
    result = ExplainSet(
        features=np.ascontiguousarray(features, dtype=np.float32), feature_names=names, groups=resolved,
        aliases=merged_aliases, n_a=as_f64(n_a), n_b=as_f64(n_b), weights=as_f64(weights),
    )
    return result if indices is None else result.subset(np.asarray(indices))


def _resolve_groups(groups, names):
    """Normalise any accepted grouping to ((name, (indices...)), ...) covering each column once."""
    if groups is None:
        return tuple((name, (i,)) for i, name in enumerate(names))
    items = groups.items() if isinstance(groups, dict) else groups
    index = {name: i for i, name in enumerate(names)}
    resolved, seen = [], {}
    for group_name, members in items:
        columns = []
        for member in members:
            if isinstance(member, (int, np.integer)) and 0 <= member < len(names):
                columns.append(int(member))
            elif member in index:
                columns.append(index[member])
            else:
                raise ConfigError(f"feature group '{group_name}': unknown feature {member!r}; "
                                  f"known features are {list(names)}")
        for column in columns:
            if column in seen:
                raise ConfigError(f"feature '{names[column]}' is in both groups '{seen[column]}' and "
                                  f"'{group_name}': each feature may belong to one group only")
            seen[column] = group_name
        resolved.append((str(group_name), tuple(columns)))
    resolved += [(name, (i,)) for i, name in enumerate(names) if i not in seen]
    return tuple(resolved)
