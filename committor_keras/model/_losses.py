"""Losses on the committor logit: pure TensorFlow functions and their serialisable Keras classes.

Every loss reads shot counts from ``y_true = [n_a, n_b]`` (shape ``(N, 2)``) and takes the network's logit
``z`` (shape ``(N, 1)`` or ``(N,)``), with ``q = sigmoid(z)``. They are written with ``softplus`` because
``-log q = softplus(-z)`` and ``-log(1 - q) = softplus(z)`` stay finite and have exact gradients for any
finite ``z``, where ``log(sigmoid(z))`` underflows to ``-inf`` beyond ``|z| ~ 17`` in float32.
"""

import keras
import tensorflow as tf

from committor_keras._errors import ConfigError
from committor_keras.model._space import LOSS_NAMES

_PACKAGE = "committor_keras"


def shot_counts(y_true, dtype=None):
    """Split ``[n_a, n_b]`` labels into two tensors.

    Args:
        y_true: array-like ``(N, 2)`` of shot counts ending in A and in B.
        dtype: optional dtype to cast to (default: that of ``y_true``).

    Returns:
        ``(n_a, n_b)``, each of shape ``(N,)``.
    """
    y_true = tf.convert_to_tensor(y_true)
    if dtype is not None:
        y_true = tf.cast(y_true, dtype)
    return y_true[..., 0], y_true[..., 1]


def _logits_like(logits, n_b):
    """The logit as a tensor with the batch shape and dtype of the counts (drops a trailing 1 axis)."""
    z = tf.cast(tf.convert_to_tensor(logits), n_b.dtype)
    return tf.reshape(z, tf.shape(n_b))


def shot_cross_entropy(y_true, logits):
    """Shot-weighted cross-entropy against p_B, per point (the seed's loss).

    ``n * [-p_B log q - (1 - p_B) log(1 - q)] = n_b softplus(-z) + n_a softplus(z)`` with ``n = n_a + n_b``.

    Args:
        y_true: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        logits: ``(N, 1)`` or ``(N,)`` logits ``z``.

    Returns:
        ``(N,)`` tensor of per-point losses, in the dtype of ``logits``.
    """
    dtype = tf.convert_to_tensor(logits).dtype
    n_a, n_b = shot_counts(y_true, dtype)
    z = _logits_like(logits, n_b)
    return n_b * tf.math.softplus(-z) + n_a * tf.math.softplus(z)


def log_binomial_coefficient(n_a, n_b):
    """``log C(n_a + n_b, n_b)`` through ``lgamma`` (also defined for non-integer counts)."""
    return tf.math.lgamma(n_a + n_b + 1.0) - tf.math.lgamma(n_a + 1.0) - tf.math.lgamma(n_b + 1.0)


def binomial_nll(y_true, logits):
    """Binomial negative log-likelihood of the shot counts, per point.

    ``-log [C(n, n_b) q^n_b (1 - q)^n_a]``: the shot-weighted cross-entropy minus ``log C(n, n_b)``. The
    coefficient does not depend on ``z``, so the gradient equals that of :func:`shot_cross_entropy`; the
    value is a proper likelihood (comparable across data sets with different shot numbers).

    Args:
        y_true: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        logits: ``(N, 1)`` or ``(N,)`` logits ``z``.

    Returns:
        ``(N,)`` tensor of per-point negative log-likelihoods.
    """
    dtype = tf.convert_to_tensor(logits).dtype
    n_a, n_b = shot_counts(y_true, dtype)
    return shot_cross_entropy(y_true, logits) - log_binomial_coefficient(n_a, n_b)


class _CountLoss(keras.losses.Loss):
    """A Keras loss applying one per-point count loss; Keras then weights and reduces it."""

    _function = None

    def call(self, y_true, y_pred):
        return type(self)._function(y_true, y_pred)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ShotCrossEntropy(_CountLoss):
    """Keras loss: :func:`shot_cross_entropy`, averaged over the points of a batch.

    Args:
        name: loss name shown in logs.
        reduction: Keras reduction (default: sum over the batch divided by the batch size).
        dtype: computation dtype (default: Keras' floatx).
    """

    _function = staticmethod(shot_cross_entropy)

    def __init__(self, name="shot_cross_entropy", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BinomialNLL(_CountLoss):
    """Keras loss: :func:`binomial_nll`, averaged over the points of a batch.

    Args:
        name: loss name shown in logs.
        reduction: Keras reduction (default: sum over the batch divided by the batch size).
        dtype: computation dtype (default: Keras' floatx).
    """

    _function = staticmethod(binomial_nll)

    def __init__(self, name="binomial_nll", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


LOSSES = {"shot_cross_entropy": ShotCrossEntropy, "binomial_nll": BinomialNLL}
assert tuple(LOSSES) == LOSS_NAMES, "the space module lists the losses by name for TensorFlow-free validation"


def get_loss(loss):
    """A committor loss instance from its name (``shot_cross_entropy`` or ``binomial_nll``) or itself.

    Raises:
        ConfigError: for an unknown name.
    """
    if isinstance(loss, keras.losses.Loss):
        return loss
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}: use one of {', '.join(LOSSES)}")
    return LOSSES[loss]()
