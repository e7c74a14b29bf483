"""Chunked prediction of a trained committor model (its metrics are in :mod:`committor_keras.validate`)."""

import numpy as np

_CHUNK = 65536


def predict_logits(model, x):
    """The model's logits, ``(N,)`` float64, from direct calls in chunks.

    ``model.predict`` would trace a new ``tf.function`` for every model of a study (retracing warnings, seconds
    per model); a direct call per chunk does not.
    """
    x = np.asarray(x, dtype=np.float32)
    return np.concatenate([np.asarray(model(x[start:start + _CHUNK], training=False)).reshape(-1)
                           for start in range(0, len(x), _CHUNK)] or [np.zeros(0)]).astype(np.float64)
