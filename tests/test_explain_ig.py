"""Integrated gradients: completeness, quadrature, baselines, grouping, convergence warnings."""

import warnings

import keras
import numpy as np
import pytest

from committor_keras._errors import ConfigError
from committor_keras.data import make_synthetic
from committor_keras.explain import ConvergenceWarning, explain_set, integrated_gradients
from committor_keras.explain._baselines import normalization_mean
from committor_keras.explain._quadrature import METHODS, quadrature
from committor_keras.model import build_model

N_FEATURES = 5


def random_mlp(activation, seed, n_features=N_FEATURES, scale=2.0):
    """A committor-contract model (Normalization -> Dense -> logit) with random weights."""
    rng = np.random.default_rng(seed)
    train = (rng.normal(size=(400, n_features)) * scale + rng.normal(size=n_features)).astype(np.float32)
    normalization = keras.layers.Normalization()
    normalization.adapt(train)
    inputs = keras.Input((n_features,), dtype="float32")
    x = normalization(inputs)
    for layer in range(3):
        # Wider than Glorot initialisation, so that the random function is far from linear.
        x = keras.layers.Dense(24, activation=activation, bias_initializer=keras.initializers.RandomNormal(seed=seed),
                               kernel_initializer=keras.initializers.VarianceScaling(4.0, seed=seed + layer))(x)
    model = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer=keras.initializers.VarianceScaling(
        4.0, seed=seed))(x))
    return model, train


@pytest.mark.parametrize("activation", ["tanh", "swish", "softplus", "gelu", "elu"])
@pytest.mark.parametrize("output", ["logit", "committor"])
def test_completeness_on_random_mlps(activation, output):
    model, train = random_mlp(activation, seed=len(activation))
    rng = np.random.default_rng(7)
    points = train[:64]
    for baseline in (rng.normal(size=N_FEATURES) * 2, "mean"):
        result = integrated_gradients(model, points, baseline=baseline, output=output, steps=256)
        assert result.values.shape == points.shape
        assert result.delta.max() < 1e-3
        # The explained difference is not trivially small, so the check has teeth.
        assert np.abs(result.outputs - result.base_values).max() > 0.05


def test_relu_networks_converge_as_one_over_steps():
    model, train = random_mlp("relu", seed=3)
    baseline = np.full(N_FEATURES, -3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        coarse = integrated_gradients(model, train[:64], baseline=baseline, steps=32).delta.mean()
        fine = integrated_gradients(model, train[:64], baseline=baseline, steps=1024).delta.mean()
    assert fine < coarse / 4


def test_completeness_on_the_package_network():
    data = make_synthetic(n_points=300, n_relevant=2, n_decoys=2, seed=2, angle_weight=1.0)
    model = build_model({"hidden_layers": 2, "units_0": 32, "units_1": 16, "activation": "swish"},
                        data.features, seed=1)
    for output in ("logit", "committor"):
        result = integrated_gradients(model, data, output=output, steps=256)
        assert result.delta.max() < 1e-3
        np.testing.assert_allclose(result.outputs, _forward(model, data.features, output), rtol=1e-5, atol=1e-6)


def _forward(model, features, output):
    z = np.asarray(model(features.astype(np.float32))).ravel()
    return 1 / (1 + np.exp(-z)) if output == "committor" else z


def test_linear_model_attributions_are_exact():
    """For f(x) = w . x + c, IG gives w_i (x_i - b_i) exactly, at any number of steps."""
    inputs = keras.Input((3,))
    dense = keras.layers.Dense(1)
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array([[1.5], [-2.0], [0.25]], np.float32), np.array([0.3], np.float32)])
    x = np.random.default_rng(0).normal(size=(10, 3))
    baseline = np.array([0.5, -1.0, 2.0])
    result = integrated_gradients(model, x, baseline=baseline, steps=1, method="riemann-left")
    np.testing.assert_allclose(result.values, (x - baseline) * [1.5, -2.0, 0.25], rtol=1e-5, atol=1e-6)


def test_gauss_legendre_converges_faster_than_riemann():
    model, train = random_mlp("tanh", seed=11)
    baseline = train.min(axis=0) - 1.0
    errors = {}
    for method in ("gauss-legendre", "riemann-left", "riemann-midpoint", "riemann-trapezoid"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            errors[method] = [integrated_gradients(model, train[:64], baseline=baseline, steps=steps,
                                                   method=method).delta.mean() for steps in (16, 32, 64)]
    riemann = [errors[m] for m in errors if m != "gauss-legendre"]
    assert errors["gauss-legendre"][1] < min(e[1] for e in riemann)
    assert errors["gauss-legendre"][2] < min(e[2] for e in riemann) / 10
    # Left Riemann is first order: quartering the interval roughly quarters its error.
    assert errors["riemann-left"][2] < errors["riemann-left"][0] / 2.5


@pytest.mark.parametrize("method", METHODS)
def test_quadrature_rules(method):
    alphas, weights = quadrature(method, 8)
    assert np.isclose(weights.sum(), 1.0)
    assert ((alphas >= 0) & (alphas <= 1)).all()
    exact_degree = {"gauss-legendre": 15, "riemann-midpoint": 1, "riemann-trapezoid": 1}.get(method, 0)
    for degree in range(exact_degree + 1):
        assert np.isclose((weights * alphas**degree).sum(), 1.0 / (degree + 1))


def test_quadrature_rejects_bad_settings():
    with pytest.raises(ConfigError, match="steps"):
        quadrature("gauss-legendre", 0)
    with pytest.raises(ConfigError, match="unknown method"):
        quadrature("simpson", 8)


def test_mean_baseline_is_the_normalization_mean():
    model, train = random_mlp("tanh", seed=5)
    np.testing.assert_allclose(normalization_mean(model), train.mean(axis=0), rtol=1e-4, atol=1e-4)
    result = integrated_gradients(model, train[:5])
    np.testing.assert_allclose(result.info["baseline_vector"], train.mean(axis=0), rtol=1e-4, atol=1e-4)


def test_model_without_normalization_needs_an_explicit_baseline():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ConfigError, match="Normalization"):
        integrated_gradients(model, np.zeros((3, 2)))
    with pytest.raises(ConfigError, match="3 values"):
        integrated_gradients(model, np.zeros((3, 2)), baseline=[0.0, 0.0, 0.0])


def test_basin_baselines_from_labels_and_from_the_model():
    data = make_synthetic(n_points=400, n_relevant=2, n_decoys=1, shots_per_point=10, seed=4)
    model = build_model({"hidden_layers": 1, "units_0": 8}, data.features, seed=0)
    result = integrated_gradients(model, data, baseline="A", steps=8)
    in_a = data.p_b <= 0.05
    np.testing.assert_allclose(result.info["baseline_vector"], data.features[in_a].mean(axis=0), rtol=1e-5)
    assert "p_B" in result.info["baseline"]
    # Unlabelled points fall back on the model's own committor.
    q = _forward(model, data.features, "committor")
    threshold = 1.0 - np.quantile(q, 0.8)
    unlabelled = integrated_gradients(model, data.features, baseline="B", steps=8, basin_threshold=threshold)
    np.testing.assert_allclose(unlabelled.info["baseline_vector"],
                               data.features[q >= 1.0 - threshold].mean(axis=0), rtol=1e-4)
    with pytest.raises(ConfigError, match="no point"):
        integrated_gradients(model, data, baseline="B", basin_threshold=-1.0)


def test_grouped_attributions_are_the_sums_of_their_parts():
    data = make_synthetic(n_points=100, n_relevant=1, n_decoys=1, seed=3, angle_weight=2.0)
    data.metadata["feature_aliases"] = {"angle": "phi"}
    model = build_model({"hidden_layers": 1, "units_0": 8}, data.features, seed=0)
    result = integrated_gradients(model, data, steps=16)
    grouped = result.to_frame(grouped=True)
    assert list(grouped.columns) == ["x1", "d1", "phi"]
    columns = [data.feature_names.index(n) for n in ("sin(angle)", "cos(angle)")]
    np.testing.assert_allclose(grouped["phi"], result.values[:, columns].sum(axis=1))
    np.testing.assert_allclose(grouped.sum(axis=1), result.values.sum(axis=1))
    table = result.table()
    row = table.set_index("name").loc["angle"]
    assert row["label"] == "phi"
    assert np.isclose(row["importance"], np.abs(grouped["phi"]).mean())
    assert row["ci_low"] <= row["importance"] <= row["ci_high"]
    assert sorted(table["rank"]) == [1, 2, 3]


def test_groups_for_arrays_and_their_validation():
    points = explain_set(np.zeros((4, 3)), feature_names=["a", "b", "c"], groups={"ab": ["a", "b"]},
                         aliases={"ab": "pair"})
    assert points.groups == (("ab", (0, 1)), ("c", (2,)))
    assert points.label("ab") == "pair"
    with pytest.raises(ConfigError, match="unknown feature"):
        explain_set(np.zeros((4, 3)), feature_names=["a", "b", "c"], groups={"g": ["z"]})
    with pytest.raises(ConfigError, match="both groups"):
        explain_set(np.zeros((4, 3)), feature_names=["a", "b", "c"], groups={"g": ["a"], "h": ["a", "b"]})


def test_unconverged_points_are_counted_in_a_warning():
    model, train = random_mlp("tanh", seed=9)
    with pytest.warns(ConvergenceWarning, match=r"at \d+ of 64 points"):
        integrated_gradients(model, train[:64], baseline=train.min(axis=0) - 3, steps=1, method="riemann-left",
                             tolerance=1e-6)


def test_chunking_does_not_change_the_result():
    model, train = random_mlp("swish", seed=2)
    whole = integrated_gradients(model, train[:50], steps=16)
    chunked = integrated_gradients(model, train[:50], steps=16, batch_rows=16 * 7)
    np.testing.assert_allclose(chunked.values, whole.values, rtol=1e-5, atol=1e-6)
