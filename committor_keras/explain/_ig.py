"""Integrated gradients (Sundararajan et al. 2017), batched over points and integration steps.

attribution_i(x) = (x_i - b_i) * integral_0^1 df/dx_i (b + a (x - b)) da, evaluated with a quadrature rule.
One traced call takes a chunk of points, expands it to (points x nodes) path points, and returns the
attributions of the whole chunk: no Python loop over points or steps.
"""

import warnings

import numpy as np
import tensorflow as tf

from ._baselines import DEFAULT_BASIN_THRESHOLD, resolve_baseline
from ._forward import DEFAULT_BATCH_ROWS, check_output, n_features, output_tensor, quiet_retracing, traced
from ._inputs import explain_set
from ._quadrature import quadrature
from ._results import Attributions

DEFAULT_TOLERANCE = 0.01


class ConvergenceWarning(UserWarning):
    """Integrated gradients whose completeness error exceeds the tolerance at some points."""


def integrated_gradients(model, data, *, baseline="mean", output="logit", steps=64, method="gauss-legendre",
                         tolerance=DEFAULT_TOLERANCE, reference=None, basin_threshold=DEFAULT_BASIN_THRESHOLD,
                         batch_rows=DEFAULT_BATCH_ROWS, **points_kwargs):
    """Integrated-gradients attributions of a committor model's logit or committor.

    Args:
        model: a committor model, float32 (None, F) raw features -> logit (None, 1).
        data: the points to explain: a ``CommittorData``, an (N, F) array, or an ``ExplainSet``.
        baseline: ``"mean"`` (training mean, from the model's Normalization layer), ``"A"`` / ``"B"`` (mean of
            the basin's points, see ``committor_keras.explain`` docs) or a length-F vector of raw features.
        output: ``"logit"`` (z) or ``"committor"`` (q = sigmoid(z)).
        steps: quadrature nodes (intervals for the Riemann rules).
        method: ``"gauss-legendre"`` (default) or ``"riemann-left"``, ``"riemann-right"``,
            ``"riemann-midpoint"``, ``"riemann-trapezoid"``.
        tolerance: completeness error |sum(attributions) - (f(x) - f(baseline))|, in output units, above which
            a ``ConvergenceWarning`` reports how many points exceed it.
        reference: points defining the ``"A"`` / ``"B"`` baselines (default: ``data``).
        basin_threshold: basin threshold for ``"A"`` / ``"B"`` baselines.
        batch_rows: path points per traced call (points per call = batch_rows // nodes), bounding memory.
        **points_kwargs: passed to ``explain_set`` (``indices``, ``feature_names``, ``groups``, ``aliases``).

    Returns:
        An ``Attributions`` with values (N, F), outputs f(x), base_values f(baseline) and ``delta``.
    """
    check_output(output)
    points = explain_set(data, **points_kwargs)
    reference = points if reference is None else explain_set(reference)
    baseline_vector, baseline_description = resolve_baseline(model, baseline, reference, basin_threshold)
    alphas, weights = quadrature(method, steps)
    width = n_features(model, points.features)
    chunk = max(1, int(batch_rows) // len(alphas))

    function = traced(model, ("integrated_gradients", output, width), lambda ref: _ig_function(ref, output, width))
    baseline_tensor = tf.constant(baseline_vector, tf.float32)
    alphas_tensor, weights_tensor = tf.constant(alphas, tf.float32), tf.constant(weights, tf.float32)
    values, outputs = [], []
    with quiet_retracing():
        for start in range(0, len(points.features), chunk):
            attribution, output_value = function(points.features[start:start + chunk], baseline_tensor,
                                                 alphas_tensor, weights_tensor)
            values.append(attribution.numpy())
            outputs.append(output_value.numpy())
    base_value = float(output_tensor(model, baseline_tensor[None, :], output).numpy()[0])

    n_points = len(points.features)
    result = Attributions(
        method="integrated_gradients", output=output,
        values=np.concatenate(values).astype(np.float64) if values else np.zeros((0, width)),
        outputs=np.concatenate(outputs).astype(np.float64) if outputs else np.zeros(0),
        base_values=np.full(n_points, base_value), points=points,
        info={"steps": int(steps), "quadrature": method, "nodes": len(alphas), "baseline": baseline_description,
              "baseline_vector": baseline_vector.tolist(), "tolerance": tolerance},
    )
    _warn_unconverged(result, tolerance)
    return result


def _ig_function(model_ref, output, width):
    """A traced function (points, baseline, nodes, weights) -> (attributions, f(points)) of the referenced model."""
    vector = tf.TensorSpec([None], tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, width], tf.float32), tf.TensorSpec([width], tf.float32),
                                  vector, vector])
    def integrate(x, baseline, alphas, weights):
        difference = x - baseline
        path = baseline + alphas[None, :, None] * difference[:, None, :]
        path = tf.reshape(path, [-1, width])
        with tf.GradientTape() as tape:
            tape.watch(path)
            # Rows are independent at inference, so the gradient of the sum is each row's own gradient.
            total = tf.reduce_sum(output_tensor(model_ref(), path, output))
        gradients = tf.reshape(tape.gradient(total, path), [tf.shape(x)[0], tf.shape(alphas)[0], width])
        return difference * tf.einsum("psf,s->pf", gradients, weights), output_tensor(model_ref(), x, output)

    return integrate


def _warn_unconverged(result, tolerance):
    if tolerance is None or not len(result.outputs):
        return
    delta = result.delta
    bad = int((delta > tolerance).sum())
    if bad:
        warnings.warn(
            f"integrated gradients: completeness delta exceeds {tolerance:g} at {bad} of {len(delta)} points "
            f"(max {delta.max():.3g}, {result.output} units); raise steps (now {result.info['steps']}); smooth "
            "activations converge fastest with method='gauss-legendre', ReLU networks only as 1/steps",
            ConvergenceWarning, stacklevel=3)
