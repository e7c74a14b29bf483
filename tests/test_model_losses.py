"""Losses and metrics on the logit: closed forms, stability, gradients, Keras wrappers, serialisation."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from committor_keras._errors import ConfigError
from committor_keras.model import (BinomialNLL, CommittorRMSE, CrossEntropyPerShot, KLPerShot, ShotCrossEntropy,
                                   binomial_nll, committor_rmse, cross_entropy_per_shot, get_loss, kl_per_shot,
                                   shot_cross_entropy, shot_kl_divergence)

LOSS_FUNCTIONS = [shot_cross_entropy, binomial_nll]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _random_counts(rng, n, max_shots=20, integer=True):
    shots = rng.integers(1, max_shots + 1, n).astype(np.float64)
    p = rng.uniform(0, 1, n)
    n_b = rng.binomial(shots.astype(int), p).astype(np.float64) if integer else shots * p
    return np.stack([shots - n_b, n_b], axis=1)


def _numpy_cross_entropy(y, z):
    """Independent reference: n * [-p log q - (1-p) log(1-q)], directly from q (moderate z only)."""
    n_a, n_b = y[:, 0], y[:, 1]
    q = _sigmoid(z)
    return -n_b * np.log(q) - n_a * np.log(1 - q)


def test_shot_cross_entropy_hand_values():
    # One shot each way at q = 1/2: 2 log 2. Three to B at z = log 3 (q = 3/4): -3 log(3/4).
    y = np.array([[1.0, 1.0], [0.0, 3.0], [2.0, 0.0]])
    z = np.array([[0.0], [math.log(3.0)], [0.0]])
    expected = [2 * math.log(2), -3 * math.log(0.75), 2 * math.log(2)]
    np.testing.assert_allclose(shot_cross_entropy(y, z).numpy(), expected, rtol=1e-12)


def test_shot_cross_entropy_matches_numpy_reference():
    rng = np.random.default_rng(0)
    y = _random_counts(rng, 200, integer=False)
    z = rng.normal(0, 4, 200)
    np.testing.assert_allclose(shot_cross_entropy(y, z).numpy(), _numpy_cross_entropy(y, z), rtol=1e-10)


def test_binomial_nll_is_minus_log_binomial_pmf():
    y = np.array([[2.0, 1.0], [5.0, 5.0], [0.0, 4.0]])
    z = np.array([0.0, -0.7, 1.3])
    q = _sigmoid(z)
    pmf = [math.comb(int(a + b), int(b)) * qi ** b * (1 - qi) ** a for (a, b), qi in zip(y, q)]
    np.testing.assert_allclose(binomial_nll(y, z).numpy(), -np.log(pmf), rtol=1e-10)
    # The hand value: C(3, 1) / 2^3 = 3/8.
    assert binomial_nll(y[:1], z[:1]).numpy()[0] == pytest.approx(-math.log(3 / 8), rel=1e-12)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("loss", LOSS_FUNCTIONS)
def test_losses_finite_with_finite_gradient_at_extreme_logits(loss, dtype):
    y = tf.constant([[3.0, 1.0], [3.0, 1.0], [0.0, 5.0], [5.0, 0.0]], dtype)
    z = tf.Variable([100.0, -100.0, -100.0, 100.0], dtype=dtype)
    with tf.GradientTape() as tape:
        values = loss(y, z)
        total = tf.reduce_sum(values)
    gradient = tape.gradient(total, z).numpy()
    assert np.all(np.isfinite(values.numpy())) and np.all(np.isfinite(gradient))
    # The wrong-side points cost (shots on the wrong side) * |z|; the gradient is n q - n_b.
    ce = shot_cross_entropy(y, z).numpy()
    np.testing.assert_allclose(ce[:3], [300.0, 100.0, 500.0], rtol=1e-6)
    np.testing.assert_allclose(gradient, [4.0 - 1.0, -1.0, -5.0, 5.0], atol=1e-6)


@pytest.mark.parametrize("loss", LOSS_FUNCTIONS)
def test_gradient_matches_finite_differences_and_closed_form(loss):
    rng = np.random.default_rng(1)
    y = tf.constant(_random_counts(rng, 50, integer=False))
    z0 = rng.normal(0, 3, 50)
    z = tf.Variable(z0)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(loss(y, z))
    gradient = tape.gradient(total, z).numpy()
    h = 1e-6
    numeric = (loss(y, z0 + h).numpy() - loss(y, z0 - h).numpy()) / (2 * h)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-6)
    n = y.numpy().sum(axis=1)
    np.testing.assert_allclose(gradient, n * _sigmoid(z0) - y.numpy()[:, 1], rtol=1e-10, atol=1e-12)


def test_losses_agree_exactly_for_one_shot_and_share_gradients_always():
    rng = np.random.default_rng(2)
    one_shot = rng.integers(0, 2, 100).astype(np.float64)
    y1 = np.stack([1 - one_shot, one_shot], axis=1)
    z = rng.normal(0, 5, 100)
    np.testing.assert_array_equal(shot_cross_entropy(y1, z).numpy(), binomial_nll(y1, z).numpy())
    for y in (y1, _random_counts(rng, 100), _random_counts(rng, 100, integer=False)):
        gradients = []
        for loss in LOSS_FUNCTIONS:
            variable = tf.Variable(z)
            with tf.GradientTape() as tape:
                total = tf.reduce_sum(loss(tf.constant(y), variable))
            gradients.append(tape.gradient(total, variable).numpy())
        np.testing.assert_array_equal(*gradients)


def test_kl_is_non_negative_and_zero_at_the_estimate():
    rng = np.random.default_rng(3)
    y = _random_counts(rng, 500)
    kl = shot_kl_divergence(y, rng.normal(0, 4, 500)).numpy()
    assert kl.min() >= -1e-12
    n = y.sum(axis=1)
    p = y[:, 1] / n
    inside = (p > 0) & (p < 1)
    at_estimate = np.log(p[inside]) - np.log1p(-p[inside])
    np.testing.assert_allclose(shot_kl_divergence(y[inside], at_estimate).numpy(), 0.0, atol=1e-12)
    assert float(kl_per_shot(y[inside], at_estimate)) == pytest.approx(0.0, abs=1e-13)
    # Committed points (p_B = 0 or 1): the KL vanishes as the logit goes to the right side.
    committed = y[~inside]
    far = np.where(committed[:, 1] > 0, 40.0, -40.0)
    assert float(kl_per_shot(committed, far)) < 1e-15


def test_kl_per_shot_is_cross_entropy_minus_entropy():
    rng = np.random.default_rng(4)
    y = _random_counts(rng, 300)
    z = rng.normal(0, 2, 300)
    n = y.sum(axis=1)
    p = y[:, 1] / n
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nan_to_num(p * np.log(p)) - np.nan_to_num((1 - p) * np.log(1 - p))
    expected_ce = _numpy_cross_entropy(y, z).sum() / n.sum()
    assert float(cross_entropy_per_shot(y, z)) == pytest.approx(expected_ce, rel=1e-12)
    assert float(kl_per_shot(y, z)) == pytest.approx(expected_ce - (n * entropy).sum() / n.sum(), rel=1e-10)


def test_rmse_against_p_b():
    y = np.array([[1.0, 3.0], [4.0, 0.0], [2.0, 2.0]])
    z = np.array([0.0, 0.0, 0.0])
    expected = math.sqrt(((0.5 - 0.75) ** 2 + 0.5 ** 2 + 0.0) / 3)
    assert float(committor_rmse(y, z)) == pytest.approx(expected, rel=1e-12)
    # Sample weights weight points: weight 0 drops the second point.
    assert float(committor_rmse(y, z, sample_weight=[1.0, 0.0, 1.0])) == pytest.approx(
        math.sqrt((0.25 ** 2) / 2), rel=1e-12)


@pytest.mark.parametrize("metric_class, function", [
    (KLPerShot, kl_per_shot), (CrossEntropyPerShot, cross_entropy_per_shot), (CommittorRMSE, committor_rmse)])
def test_stateful_metric_over_batches_equals_function_on_whole_set(metric_class, function):
    rng = np.random.default_rng(5)
    y = _random_counts(rng, 90).astype(np.float32)
    z = rng.normal(0, 2, (90, 1)).astype(np.float32)
    w = rng.uniform(0.2, 2.0, 90).astype(np.float32)
    metric = metric_class()
    for start in range(0, 90, 32):
        part = slice(start, start + 32)
        metric.update_state(y[part], z[part], sample_weight=w[part])
    expected = float(function(y.astype(np.float64), z.astype(np.float64), sample_weight=w.astype(np.float64)))
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    clone = metric_class.from_config(metric.get_config())
    assert clone.name == metric.name


@pytest.mark.parametrize("loss_class, function", [(ShotCrossEntropy, shot_cross_entropy),
                                                  (BinomialNLL, binomial_nll)])
def test_keras_loss_weights_and_averages_per_point_values(loss_class, function):
    rng = np.random.default_rng(6)
    y = _random_counts(rng, 40).astype(np.float32)
    z = rng.normal(0, 2, (40, 1)).astype(np.float32)
    w = rng.uniform(0, 2, 40).astype(np.float32)
    per_point = function(y.astype(np.float64), z.astype(np.float64)).numpy()
    assert float(loss_class()(y, z)) == pytest.approx(per_point.mean(), rel=1e-5)
    assert float(loss_class()(y, z, sample_weight=w)) == pytest.approx((w * per_point).mean(), rel=1e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(loss_class()))
    assert type(restored) is loss_class and float(restored(y, z)) == float(loss_class()(y, z))


def test_get_loss_by_name_and_unknown_name():
    assert isinstance(get_loss("binomial_nll"), BinomialNLL)
    assert isinstance(get_loss("shot_cross_entropy"), ShotCrossEntropy)
    with pytest.raises(ConfigError, match="binomial_nll"):
        get_loss("mse")
