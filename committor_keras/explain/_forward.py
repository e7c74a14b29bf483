"""Evaluating a committor model (raw features -> logit z) as the logit or the committor q = sigmoid(z)."""

import contextlib
import logging
import weakref

import numpy as np
import tensorflow as tf

from committor_keras._errors import ConfigError

OUTPUTS = ("logit", "committor")
DEFAULT_BATCH_ROWS = 32768
# Traced functions per model, so repeated explanations of one model (regions, IG, permutations, callbacks
# every n epochs) trace it once. The functions reach the model through a weak reference: a cached function
# must not keep its model (the dictionary key) alive.
_TRACED = weakref.WeakKeyDictionary()


def check_output(output):
    """Raise unless ``output`` names an explainable output."""
    if output not in OUTPUTS:
        raise ConfigError(f"output must be one of {', '.join(OUTPUTS)}, got '{output}'")


def output_tensor(model, x, output):
    """The model's logit or committor for a float32 batch ``x`` (N, F), as a (N,) tensor."""
    z = tf.reshape(model(x, training=False), [-1])
    return tf.sigmoid(z) if output == "committor" else z


def n_features(model, features=None):
    """The number of input features the model takes."""
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and len(shape) == 2 and shape[-1] is not None:
        return int(shape[-1])
    if features is not None:
        return int(np.shape(features)[1])
    raise ConfigError("cannot tell the model's number of input features: build it on (None, F) inputs")


def traced(model, key, build):
    """The function ``build(model_ref)`` for ``model`` and ``key``, built on first use and then reused.

    Args:
        model: a Keras model.
        key: hashable description of the function (kind, output, width).
        build: callable taking a ``weakref.ref`` to the model and returning a ``tf.function``.
    """
    functions = _TRACED.setdefault(model, {})
    if key not in functions:
        functions[key] = build(weakref.ref(model))
    return functions[key]


class _RetracingHint(logging.Filter):
    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def quiet_retracing():
    """Silence TensorFlow's "frequent retracing" hint: tracing each explained model once is by design."""
    logger, hint = tf.get_logger(), _RetracingHint()
    logger.addFilter(hint)
    try:
        yield
    finally:
        logger.removeFilter(hint)


class Forward:
    """A traced, chunked evaluation of one model; build it once and call it on many arrays.

    Args:
        model: a committor model (float32 (None, F) -> logit (None, 1)).
        output: ``"logit"`` or ``"committor"``.
        batch_rows: rows per traced call, bounding memory.
    """

    def __init__(self, model, output="logit", batch_rows=DEFAULT_BATCH_ROWS):
        check_output(output)
        self.batch_rows = int(batch_rows)
        width = n_features(model)
        spec = tf.TensorSpec([None, width], tf.float32)
        self._fn = traced(model, ("forward", output, width), lambda ref: tf.function(
            lambda x: output_tensor(ref(), x, output), input_signature=[spec]))

    def __call__(self, features):
        """float64 (N,) outputs for a (N, F) array."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        with quiet_retracing():
            chunks = [self._fn(features[start:start + self.batch_rows]).numpy()
                      for start in range(0, len(features), self.batch_rows)]
        return np.concatenate(chunks).astype(np.float64) if chunks else np.zeros(0)


def committor(model, features, batch_rows=DEFAULT_BATCH_ROWS):
    """The model's committor q for a (N, F) array, float64 (N,)."""
    return Forward(model, "committor", batch_rows)(features)
