"""Regions of configuration space over which importances are averaged, defined by the model's own committor."""

import warnings

import numpy as np
import pandas as pd

from committor_keras._errors import ConfigError

# Transition region: where the model is undecided, 0.4 < q < 0.6 (its own q, so no labels are needed).
REGIONS = {"all": None, "transition": (0.4, 0.6)}


def region_mask(q, region):
    """Boolean (N,) mask of the points in ``region`` (``"all"`` or ``"transition"``) given the model's q."""
    if region not in REGIONS:
        raise ConfigError(f"unknown region '{region}': use one of {', '.join(REGIONS)}")
    q = np.asarray(q)
    if REGIONS[region] is None:
        return np.ones(q.shape, dtype=bool)
    low, high = REGIONS[region]
    return (q > low) & (q < high)


def region_tables(result, q, regions=("all", "transition"), seed=0):
    """Importance tables of ``result`` for each region, stacked; empty regions are skipped with a warning.

    Args:
        result: an ``Attributions`` or ``PermutationImportance``.
        q: the model's committor at the result's points.
        regions: region names.
        seed: bootstrap seed.

    Returns:
        DataFrame of stacked importance tables (``region`` column tells them apart).
    """
    tables = []
    for region in regions:
        mask = region_mask(q, region)
        if not mask.any():
            low, high = REGIONS[region]
            warnings.warn(f"region '{region}' ({low} < q < {high}) holds none of the {len(mask)} points; "
                          "its importances are left out", RuntimeWarning, stacklevel=2)
            continue
        tables.append(result.table(mask=mask, region=region, seed=seed))
    if not tables:
        raise ConfigError(f"no point lies in any of the regions {list(regions)}")
    return pd.concat(tables, ignore_index=True)
