"""serve-check: does the served SavedModel compute what the Keras model computes?"""

from pathlib import Path

import numpy as np

from committor_keras._errors import CommittorKerasError
from committor_keras._paths import find_recorded
from committor_keras._provenance import sha256_file
from committor_keras.export._card import CARD_FILE, KERAS_FILE, SAVED_MODEL_DIR, read_card
from committor_keras.export._load import load_keras, saved_model_version
from committor_keras.export._saved_model import GRADIENT_SIGNATURE, INPUT_NAME, SERVING_SIGNATURE

DEFAULT_TOLERANCE = 1e-5
# Multiples of the training standard deviation at which served and Keras outputs are also compared, so the
# check covers inputs far outside the training data (where the normalisation and saturation matter).
_PROBE_SCALES = (0.0, 1.0, 3.0, 10.0, 100.0)


def serve_check(model_dir, data=None, tolerance=DEFAULT_TOLERANCE, seed=0, probes_only=False):
    """Compare the committor and its gradient served by ``saved_model/<version>`` with the ``model.keras`` model.

    The SavedModel is loaded with ``tf.saved_model.load`` and called through its ``serving_default``
    signature, as TF Serving does. Inputs: the points of ``data`` if given, else those of the data file named
    on the card (relative to the model directory), which must still be there with the same sha256 unless
    ``probes_only``; plus probes built from the card's training statistics (the mean, and random points 1
    to 100 standard deviations out).

    Args:
        model_dir: a model directory (``top/NN``) with ``card.json``, ``model.keras`` and ``saved_model/``.
        data: optional `CommittorData` or (N, F) array of raw features.
        tolerance: the largest acceptable absolute committor difference.
        seed: seed of the random probes.
        probes_only: compare on the probes alone when no data are given (no data file needed).

    Returns:
        dict: points, inputs (what was compared), max_abs_diff_committor, max_abs_diff_logit,
        max_rel_diff_gradient (of dq/dx and dz/dx from the ``gradient`` signature against the Keras model's,
        relative to the largest gradient), tolerance, ok.

    Raises:
        CommittorKerasError: a missing file, a negative tolerance, or (unless ``probes_only``) the card's data
            file missing or changed.
    """
    import tensorflow as tf

    if not tolerance >= 0:
        raise CommittorKerasError(f"tolerance {tolerance}: give a number >= 0 (e.g. 1e-5)")
    model_dir = Path(model_dir)
    card = read_card(model_dir)
    if data is None and not probes_only:
        data = _card_data(card, model_dir)
    if not (model_dir / KERAS_FILE).is_file():
        raise CommittorKerasError(f"{model_dir}: no {KERAS_FILE} to compare the SavedModel with; re-export the "
                                  "model directory")
    keras_model = load_keras(model_dir / KERAS_FILE, model_dir / CARD_FILE)
    version = saved_model_version(model_dir / SAVED_MODEL_DIR)
    served = tf.saved_model.load(str(version))
    for signature in (SERVING_SIGNATURE, GRADIENT_SIGNATURE):
        if signature not in served.signatures:
            raise CommittorKerasError(f"{version}: no '{signature}' signature; re-export the model with this "
                                      "version of committor-keras")
    x, inputs = _check_inputs(keras_model, card, data, seed)
    outputs = served.signatures[SERVING_SIGNATURE](**{INPUT_NAME: tf.constant(x)})
    served_q = outputs["committor"].numpy().reshape(-1).astype(np.float64)
    served_z = outputs["logit"].numpy().reshape(-1).astype(np.float64)
    diff_q = float(np.max(np.abs(served_q - keras_model.predict_committor(x))))
    diff_z = float(np.max(np.abs(served_z - keras_model.predict_logit(x))))
    gradients = served.signatures[GRADIENT_SIGNATURE](**{INPUT_NAME: tf.constant(x)})
    diff_gradient = max(
        float(np.max(np.abs(gradients[name].numpy() - expected)) / max(1.0, float(np.max(np.abs(expected)))))
        for name, expected in zip(("dlogit_dx", "dcommittor_dx"), keras_model.gradient(x)))
    return {"model": str(model_dir), "saved_model": str(version), "points": len(x), "inputs": inputs,
            "max_abs_diff_committor": diff_q, "max_abs_diff_logit": diff_z, "max_rel_diff_gradient": diff_gradient,
            "tolerance": float(tolerance), "ok": bool(diff_q <= tolerance and diff_gradient <= tolerance)}


def _check_inputs(keras_model, card, data, seed):
    parts, described = [], []
    if data is not None:
        parts.append(keras_model.features_of(data))
        described.append(f"{len(parts[0])} points of {getattr(data, 'source', 'the given array')}")
    stats = card["features"]["training_statistics"]
    mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
    std = np.where(std > 0, std, 1.0)
    rng = np.random.default_rng(seed)
    probes = [mean + scale * std * rng.standard_normal((16, len(mean))) for scale in _PROBE_SCALES]
    parts.append(np.concatenate(probes).astype(np.float32))
    described.append(f"{len(parts[-1])} probes 0-{_PROBE_SCALES[-1]:g} training std from the mean")
    return np.concatenate(parts), ", ".join(described)


def _card_data(card, model_dir):
    """The data set named on the card, found from the model directory (or, for older cards, the working one)."""
    from committor_keras.data import load

    source, sha256 = card["data"].get("source"), card["data"].get("sha256")
    fix = "give the data with --data, or check the served model on probes alone with --probes-only"
    if not source:
        raise CommittorKerasError(f"{model_dir / CARD_FILE}: names no data file to compare on; {fix}")
    path, expected = find_recorded(source, model_dir)
    if path is None:
        raise CommittorKerasError(f"{model_dir / CARD_FILE}: its data file {source} is not there (looked in "
                                  f"{expected.parent}); {fix}")
    if sha256 and sha256_file(path) != sha256:
        raise CommittorKerasError(f"{path}: differs from the data on the model card (sha256); {fix}")
    return load(path)


