"""Reference points (baselines) for integrated gradients.

``"mean"`` is the training mean held by the model's ``Normalization`` layer: zero in standardised space, the
usual "no information" point of a tabular model. ``"A"`` / ``"B"`` are the mean feature vectors of the basins,
so attributions answer "why is this point further from A (or B) than a typical A (B) configuration?".

Basin membership: on labelled points, basin A is p_B <= ``threshold`` and basin B is p_B >= 1 - ``threshold``
(with the default 0.05 and fewer than 20 shots this means p_B = 0, resp. 1); on unlabelled points the model's
own committor is used instead (q <= threshold, q >= 1 - threshold).
"""

import keras
import numpy as np

from committor_keras._errors import ConfigError

from ._forward import committor

BASELINES = ("mean", "A", "B")
DEFAULT_BASIN_THRESHOLD = 0.05


def normalization_mean(model):
    """The feature mean adapted into the model's first ``Normalization`` layer, float64 (F,)."""
    for layer in _layers(model):
        if isinstance(layer, keras.layers.Normalization) and getattr(layer, "mean", None) is not None:
            return np.asarray(keras.ops.convert_to_numpy(layer.mean), dtype=np.float64).reshape(-1)
    raise ConfigError(f"model '{model.name}' has no adapted keras.layers.Normalization layer, so it has no "
                      "training mean: pass baseline='A', 'B' or an explicit feature vector")


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def basin_mask(model, points, basin, threshold=DEFAULT_BASIN_THRESHOLD):
    """Boolean (N,) mask of the points in basin ``"A"`` or ``"B"`` (see the module docstring for the rule).

    Args:
        model: the committor model (used when ``points`` is unlabelled).
        points: an ``ExplainSet``.
        basin: ``"A"`` or ``"B"``.
        threshold: committor distance from the basin's end (0 for A, 1 for B).

    Returns:
        A boolean array.
    """
    p = points.p_b if points.labelled else committor(model, points.features)
    return p <= threshold if basin == "A" else p >= 1.0 - threshold


def resolve_baseline(model, baseline, points, threshold=DEFAULT_BASIN_THRESHOLD):
    """The baseline feature vector and a short description of it.

    Args:
        model: the committor model.
        baseline: ``"mean"``, ``"A"``, ``"B"`` or a length-F vector of raw feature values.
        points: the ``ExplainSet`` whose basin points define the ``"A"`` / ``"B"`` baselines.
        threshold: basin threshold (see ``basin_mask``).

    Returns:
        (float64 (F,) vector, description string).
    """
    n_features = points.features.shape[1]
    if isinstance(baseline, str):
        if baseline == "mean":
            vector, description = normalization_mean(model), "training mean (Normalization layer)"
        elif baseline in ("A", "B"):
            mask = basin_mask(model, points, baseline, threshold)
            source = "p_B" if points.labelled else "model q"
            if not mask.any():
                bound = f"<= {threshold}" if baseline == "A" else f">= {1 - threshold}"
                raise ConfigError(f"baseline '{baseline}': no point has {source} {bound}; pass points that "
                                  f"include basin {baseline}, a larger basin threshold, or baseline='mean'")
            vector = points.features[mask].astype(np.float64).mean(axis=0)
            description = f"mean of basin {baseline} ({int(mask.sum())} points, {source} threshold {threshold})"
        else:
            raise ConfigError(f"unknown baseline '{baseline}': use one of {', '.join(BASELINES)} or a vector")
    else:
        vector, description = np.asarray(baseline, dtype=np.float64).reshape(-1), "user-given vector"
    if vector.shape != (n_features,):
        raise ConfigError(f"baseline has {vector.size} values but the model takes {n_features} features")
    return vector, description
