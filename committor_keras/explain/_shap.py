"""SHAP cross-check: shap's model-agnostic Permutation explainer on a small background set.

Needs the optional extra ``shap`` (``pip install 'committor-keras[shap]'``). Shapley values of the features
are summed over each feature group, as for integrated gradients, so the two can be compared group by group.
"""

import numpy as np

from committor_keras._errors import ConfigError

from ._forward import DEFAULT_BATCH_ROWS, Forward, check_output
from ._inputs import explain_set
from ._results import Attributions

DEFAULT_BACKGROUND = 50


def shap_values(model, data, *, background=DEFAULT_BACKGROUND, output="logit", max_evals="auto", seed=0,
                batch_rows=DEFAULT_BATCH_ROWS, **points_kwargs):
    """Shapley-value attributions from ``shap.PermutationExplainer``.

    Cost: about ``max_evals x len(background)`` model rows per explained point, so explain a subset (a few
    hundred points) rather than a whole data set.

    Args:
        model: a committor model, float32 (None, F) raw features -> logit (None, 1).
        data: the points to explain (``CommittorData``, (N, F) array or ``ExplainSet``).
        background: the masker's background: an int (that many points drawn from ``data`` with ``seed``), an
            (M, F) array, or a ``CommittorData``.
        output: ``"logit"`` or ``"committor"``.
        max_evals: model evaluations per point (shap's default ``"auto"``: 10 forward/backward permutations).
        seed: seed of the background draw and of shap's permutations.
        batch_rows: rows per model call.
        **points_kwargs: passed to ``explain_set``.

    Returns:
        An ``Attributions`` (method ``"shap"``) whose ``base_values`` are the mean output over the background.

    Raises:
        ConfigError: when shap is not installed.
    """
    try:
        import shap
    except ImportError as error:
        raise ConfigError("the SHAP cross-check needs the optional extra 'shap': "
                          "pip install 'committor-keras[shap]'") from error
    check_output(output)
    points = explain_set(data, **points_kwargs)
    background_features = _background(background, points, seed)
    forward = Forward(model, output, batch_rows)
    masker = shap.maskers.Independent(background_features, max_samples=len(background_features))
    # PermutationExplainer seeds NumPy's global generator; keep the caller's random state untouched.
    state = np.random.get_state()
    try:
        explainer = shap.PermutationExplainer(forward, masker, seed=seed)
        explanation = explainer(points.features.astype(np.float64), max_evals=max_evals, silent=True)
    finally:
        np.random.set_state(state)
    return Attributions(
        method="shap", output=output, values=np.asarray(explanation.values, dtype=np.float64),
        outputs=forward(points.features), base_values=np.asarray(explanation.base_values, dtype=np.float64),
        points=points, info={"explainer": "shap.PermutationExplainer", "shap_version": shap.__version__,
                             "background_points": len(background_features), "max_evals": max_evals, "seed": seed},
    )


def _background(background, points, seed):
    if isinstance(background, (int, np.integer)):
        size = min(int(background), len(points.features))
        if size < 1:
            raise ConfigError(f"SHAP background: need at least one point, got {background}")
        rows = np.random.default_rng(seed).choice(len(points.features), size=size, replace=False)
        return points.features[np.sort(rows)].astype(np.float64)
    features = np.asarray(background.features if hasattr(background, "features") else background, np.float64)
    if features.ndim != 2 or features.shape[1] != points.features.shape[1]:
        raise ConfigError(f"SHAP background: expected (M, {points.features.shape[1]}) features, "
                          f"got shape {features.shape}")
    return features
