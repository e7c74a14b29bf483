"""Committor metrics: pure functions and stateful Keras metrics built from the same per-point terms.

Each metric is a ratio of sums over points, ``sum(w * numerator) / sum(w * denominator)`` with sample
weights ``w``, so a Keras metric accumulates the two sums over batches and gives exactly the value of the
pure function on the whole set, whatever the batch size.

- cross-entropy per shot: shot-weighted cross-entropy divided by the number of shots;
- KL per shot: the same minus the entropy of p_B, i.e. ``KL(p_B || q)`` averaged over shots; zero for a
  perfect model, so the noise floor of the shooting data is not part of the score;
- RMSE of ``q`` against p_B, over points with at least one shot (shots do not weight it).
"""

import keras
import tensorflow as tf

from committor_keras.model._losses import _PACKAGE, _logits_like, shot_counts, shot_cross_entropy


def _xlogx_over_n(count, n):
    """``count * log(count / n)``, zero where ``count`` is zero (also where ``n`` is zero)."""
    safe_n = tf.where(n > 0, n, tf.ones_like(n))
    return tf.math.xlogy(count, count / safe_n)


def shot_entropy(y_true, dtype=tf.float64):
    """Entropy of p_B times the number of shots, per point: the cross-entropy of a perfect model.

    Args:
        y_true: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        dtype: computation dtype.

    Returns:
        ``(N,)`` tensor ``-n [p_B log p_B + (1 - p_B) log(1 - p_B)]``.
    """
    n_a, n_b = shot_counts(y_true, dtype)
    n = n_a + n_b
    return -(_xlogx_over_n(n_a, n) + _xlogx_over_n(n_b, n))


def shot_kl_divergence(y_true, logits):
    """``n * KL(p_B || q)`` per point: shot-weighted cross-entropy minus :func:`shot_entropy`.

    Args:
        y_true: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        logits: ``(N, 1)`` or ``(N,)`` logits ``z``.

    Returns:
        ``(N,)`` tensor, non-negative up to rounding, zero where ``q = p_B``.
    """
    cross_entropy = shot_cross_entropy(y_true, logits)
    return cross_entropy - shot_entropy(y_true, cross_entropy.dtype)


def _cross_entropy_terms(y_true, logits):
    n_a, n_b = shot_counts(y_true, tf.convert_to_tensor(logits).dtype)
    return shot_cross_entropy(y_true, logits), n_a + n_b


def _kl_terms(y_true, logits):
    n_a, n_b = shot_counts(y_true, tf.convert_to_tensor(logits).dtype)
    return shot_kl_divergence(y_true, logits), n_a + n_b


def _squared_error_terms(y_true, logits):
    n_a, n_b = shot_counts(y_true, tf.convert_to_tensor(logits).dtype)
    n = n_a + n_b
    has_shots = tf.cast(n > 0, n.dtype)
    p_b = n_b / tf.where(n > 0, n, tf.ones_like(n))
    q = tf.math.sigmoid(_logits_like(logits, n_b))
    return has_shots * tf.square(q - p_b), has_shots


def _weighted_sums(terms, y_true, logits, sample_weight):
    numerator, denominator = terms(y_true, logits)
    if sample_weight is not None:
        weight = tf.reshape(tf.cast(sample_weight, numerator.dtype), tf.shape(numerator))
        numerator, denominator = weight * numerator, weight * denominator
    return tf.reduce_sum(numerator), tf.reduce_sum(denominator)


def _ratio(terms, y_true, logits, sample_weight):
    numerator, denominator = _weighted_sums(terms, y_true, logits, sample_weight)
    return tf.math.divide_no_nan(numerator, denominator)


def cross_entropy_per_shot(y_true, logits, sample_weight=None):
    """Shot-weighted cross-entropy of the whole set divided by its number of shots (nats per shot).

    Args:
        y_true: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        logits: ``(N, 1)`` or ``(N,)`` logits.
        sample_weight: optional ``(N,)`` weights.

    Returns:
        Scalar tensor.
    """
    return _ratio(_cross_entropy_terms, y_true, logits, sample_weight)


def kl_per_shot(y_true, logits, sample_weight=None):
    """``KL(p_B || q)`` averaged over shots (nats per shot); zero for ``q = p_B`` everywhere.

    Args:
        y_true: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        logits: ``(N, 1)`` or ``(N,)`` logits.
        sample_weight: optional ``(N,)`` weights.

    Returns:
        Scalar tensor.
    """
    return _ratio(_kl_terms, y_true, logits, sample_weight)


def committor_rmse(y_true, logits, sample_weight=None):
    """Root mean square of ``q - p_B`` over the points with at least one shot.

    Args:
        y_true: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        logits: ``(N, 1)`` or ``(N,)`` logits.
        sample_weight: optional ``(N,)`` weights.

    Returns:
        Scalar tensor.
    """
    return tf.sqrt(_ratio(_squared_error_terms, y_true, logits, sample_weight))


class _RatioMetric(keras.metrics.Metric):
    """Accumulates ``sum(w * numerator)`` and ``sum(w * denominator)`` over batches."""

    _terms = None

    def __init__(self, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.numerator = self.add_variable(shape=(), initializer="zeros", name="numerator")
        self.denominator = self.add_variable(shape=(), initializer="zeros", name="denominator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = tf.cast(y_pred, self.dtype)
        numerator, denominator = _weighted_sums(type(self)._terms, tf.cast(y_true, self.dtype), y_pred,
                                                sample_weight)
        self.numerator.assign_add(numerator)
        self.denominator.assign_add(denominator)

    def result(self):
        return tf.math.divide_no_nan(self.numerator, self.denominator)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CrossEntropyPerShot(_RatioMetric):
    """Keras metric: :func:`cross_entropy_per_shot` over everything seen since the last reset."""

    _terms = staticmethod(_cross_entropy_terms)

    def __init__(self, name="cross_entropy_per_shot", dtype=None):
        super().__init__(name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class KLPerShot(_RatioMetric):
    """Keras metric: :func:`kl_per_shot` over everything seen since the last reset (the tuning objective)."""

    _terms = staticmethod(_kl_terms)

    def __init__(self, name="kl_per_shot", dtype=None):
        super().__init__(name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CommittorRMSE(_RatioMetric):
    """Keras metric: :func:`committor_rmse` over everything seen since the last reset."""

    _terms = staticmethod(_squared_error_terms)

    def __init__(self, name="rmse", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def result(self):
        return tf.sqrt(super().result())


def committor_metrics():
    """Fresh instances of the three committor metrics, in the order they appear in logs."""
    return [KLPerShot(), CrossEntropyPerShot(), CommittorRMSE()]
