"""Crossing channels: label configurations by the psi at which they cross the phi barrier, and join data sets.

In water alanine dipeptide crosses phi = 0 in more than one psi range (docs/md.md, "Channels"); a model
trained on one says little about another, so data sets carry an integer ``extras["channel"]`` and
``metadata["channels"]`` names the codes. Channels are read from the configuration's own psi (from its
features), so sets sampled with and without psi restraints are labelled alike.
"""

import copy

import numpy as np

from committor_keras._errors import DataError

OUTSIDE = -1


def torsion_from_features(data, alias):
    """The torsion aliased ``alias`` (e.g. ``"psi"``) in degrees, from its sin/cos features.

    Raises:
        DataError: when the data set has no sin/cos pair of that torsion.
    """
    aliases = data.metadata.get("feature_aliases", {})
    names = [name for name, short in aliases.items() if short == alias]
    if not names:
        raise DataError(data.source, "metadata.feature_aliases", f"no torsion aliased {alias!r}; featurise "
                        "with committor_keras.md.featurise (torsions=True)")
    columns = list(data.feature_names)
    try:
        sin, cos = columns.index(f"sin({names[0]})"), columns.index(f"cos({names[0]})")
    except ValueError:
        raise DataError(data.source, "feature_names", f"sin/cos of {names[0]} ({alias}) are missing") from None
    return np.degrees(np.arctan2(data.features[:, sin], data.features[:, cos]))


def label_channels(angles_deg, channels):
    """Integer channel codes: the position in ``channels`` of the psi interval each angle falls in.

    Args:
        angles_deg: angles in degrees (any range; taken modulo 360).
        channels: sequence of ``(name, low, high)`` in degrees; an interval with ``low > high`` wraps
            through 180 (``("beta", 90, -150)`` is 90 <= psi or psi < -150). Intervals must not overlap.

    Returns:
        int64 array, -1 where no interval holds the angle.
    """
    angles = (np.asarray(angles_deg, float) + 180.0) % 360.0 - 180.0
    codes = np.full(angles.shape, OUTSIDE, np.int64)
    for code, (name, low, high) in enumerate(channels):
        inside = (angles >= low) & (angles < high) if low < high else (angles >= low) | (angles < high)
        if np.any(codes[inside] != OUTSIDE):
            raise DataError("<channels>", name, f"interval ({low}, {high}) overlaps another channel's")
        codes[inside] = code
    return codes


def channel_metadata(channels, alias="psi", barrier_phi=None):
    """``metadata["channels"]``: the codes' names and intervals, as stored in a data set."""
    return {"angle": alias, "outside": OUTSIDE, "barrier_phi_deg": None if barrier_phi is None else list(barrier_phi),
            "codes": {str(code): {"name": name, "interval_deg": [low, high]}
                      for code, (name, low, high) in enumerate(channels)}}


def with_channels(data, channels, alias="psi", barrier_phi=None):
    """A copy of ``data`` with ``extras["channel"]`` from its ``alias`` torsion and ``metadata["channels"]``.

    Args:
        data: a :class:`~committor_keras.data.CommittorData` with torsion features.
        channels: ``(name, low, high)`` intervals of the ``alias`` torsion, see :func:`label_channels`.
        alias: the torsion that tells channels apart.
        barrier_phi: ``(low, high)`` in degrees: only configurations with phi inside (near the barrier)
            get a channel; the others (the basins) get -1. None labels every configuration.
    """
    new = data.subset(np.arange(len(data)))
    codes = label_channels(torsion_from_features(data, alias), channels)
    if barrier_phi is not None:
        phi = torsion_from_features(data, "phi")
        codes[(phi <= barrier_phi[0]) | (phi >= barrier_phi[1])] = OUTSIDE
    new.extras["channel"] = codes
    new.metadata["channels"] = channel_metadata(channels, alias, barrier_phi)
    return new


def join(datasets, names):
    """One data set from several with the same features: rows stacked, ``extras["part"]`` telling them apart.

    ``extras["window"]`` is renumbered so that windows of different parts never share a number (part k's
    windows follow part k-1's). An extra missing from a part is NaN there (float) so no row is dropped.
    Metadata is the first part's, with ``provenance`` replaced by ``{"parts": {name: provenance}}``.

    Args:
        datasets: :class:`~committor_keras.data.CommittorData` objects.
        names: one name per part, recorded in ``metadata["parts"]``.

    Raises:
        DataError: when the parts' feature names differ.
    """
    from committor_keras.data import CommittorData

    first = datasets[0]
    for data in datasets[1:]:
        if data.feature_names != first.feature_names:
            raise DataError(data.source, "feature_names", f"differ from {first.source}'s; join data sets "
                            "made with the same featuriser")
    keys = sorted({key for data in datasets for key in data.extras})
    extras = {}
    for key in keys:
        if len({d.extras[key].shape[1:] for d in datasets if key in d.extras}) > 1:
            raise DataError(first.source, f"extras.{key}", "has different shapes per point in the parts "
                            "(e.g. a different most shots per configuration); drop it from a part or make them equal")
        parts = []
        for data in datasets:
            if key in data.extras:
                parts.append(data.extras[key])
            else:
                shape = (len(data), *next(d.extras[key].shape[1:] for d in datasets if key in d.extras))
                parts.append(np.full(shape, np.nan))
        extras[key] = np.concatenate(parts)
    extras["part"] = np.concatenate([np.full(len(d), k, np.int64) for k, d in enumerate(datasets)])
    if "window" in extras:
        offsets, offset = [], 0
        for data in datasets:
            offsets.append(np.full(len(data), offset))
            offset += int(np.nanmax(data.extras["window"])) + 1 if "window" in data.extras else 0
        extras["window"] = extras["window"] + np.concatenate(offsets)
    metadata = copy.deepcopy(first.metadata)
    metadata["provenance"] = {"parts": {name: d.metadata.get("provenance") for name, d in zip(names, datasets)}}
    metadata["parts"] = {str(k): name for k, name in enumerate(names)}
    return CommittorData(np.concatenate([d.features for d in datasets]), first.feature_names,
                         n_a=np.concatenate([d.n_a for d in datasets]), n_b=np.concatenate([d.n_b for d in datasets]),
                         extras=extras, metadata=metadata)
