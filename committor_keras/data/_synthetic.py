"""Synthetic committor data with a known answer, for tests, tutorials and the demo."""

import numpy as np

from committor_keras._errors import ConfigError
from committor_keras.data._dataset import CommittorData


def make_synthetic(n_points=2000, n_relevant=2, n_decoys=8, shots_per_point=20, seed=0, steepness=3.0,
                   angle_weight=0.0):
    """Draw configurations whose committor is known exactly, and shoot from them binomially.

    Relevant features ``x1..xR`` and decoys ``d1..dD`` are standard normal; the true committor is
    ``q = sigmoid(steepness / sqrt(R) * (x1 + ... + xR) + angle_weight * sin(angle))``, so every relevant
    feature matters equally and decoys not at all. With ``angle_weight != 0`` an angle, uniform on
    (-180, 180] degrees, enters as the grouped pair ``sin(angle)``/``cos(angle)`` (like a torsion). Each
    point gets ``shots_per_point`` shots with ``n_B ~ Binomial(shots, q)``.

    Args:
        n_points: number of configurations.
        n_relevant: features the committor depends on (>= 1).
        n_decoys: irrelevant features (>= 0).
        shots_per_point: shots per configuration (>= 1).
        seed: integer seed.
        steepness: scale of the logit along the relevant direction (larger: sharper transition).
        angle_weight: weight of sin(angle) in the logit; 0 leaves the angle out.

    Returns:
        CommittorData with ``extras["q_true"]`` (the exact committor) and ``extras["logit_true"]``.
    """
    if n_points < 3 or n_relevant < 1 or n_decoys < 0 or shots_per_point < 1:
        raise ConfigError("make_synthetic: need n_points >= 3, n_relevant >= 1, n_decoys >= 0 and "
                          "shots_per_point >= 1")
    rng = np.random.default_rng(seed)
    relevant = rng.standard_normal((n_points, n_relevant))
    decoys = rng.standard_normal((n_points, n_decoys))
    logit = steepness / np.sqrt(n_relevant) * relevant.sum(axis=1)
    names = [f"x{i + 1}" for i in range(n_relevant)] + [f"d{i + 1}" for i in range(n_decoys)]
    columns = [relevant, decoys]
    metadata = {
        "system": "synthetic known committor",
        "states": {"A": {"name": "A", "definition": "q -> 0"}, "B": {"name": "B", "definition": "q -> 1"}},
        "units": {name: "arbitrary" for name in names},
        "provenance": {"generator": "committor_keras.data.make_synthetic", "seed": seed,
                       "n_relevant": n_relevant, "n_decoys": n_decoys, "shots_per_point": shots_per_point,
                       "steepness": steepness, "angle_weight": angle_weight,
                       "true_logit": f"{steepness}/sqrt({n_relevant}) * sum(x1..x{n_relevant})"
                                     + (f" + {angle_weight} * sin(angle)" if angle_weight else "")},
        "relevant_features": names[:n_relevant] + (["angle"] if angle_weight else []),
    }
    if angle_weight:
        angle = rng.uniform(-np.pi, np.pi, n_points)
        logit = logit + angle_weight * np.sin(angle)
        columns.append(np.stack([np.sin(angle), np.cos(angle)], axis=1))
        names += ["sin(angle)", "cos(angle)"]
        metadata["feature_groups"] = {"angle": ["sin(angle)", "cos(angle)"]}
        metadata["units"].update({"sin(angle)": "1", "cos(angle)": "1"})
    q_true = 1.0 / (1.0 + np.exp(-logit))
    n_b = rng.binomial(shots_per_point, q_true).astype(np.float64)
    return CommittorData(np.concatenate(columns, axis=1), names, n_a=shots_per_point - n_b, n_b=n_b,
                         extras={"q_true": q_true, "logit_true": logit}, metadata=metadata)
