"""SHAP bridge: closed form on a linear model (equal to IG from the background mean), grouping, missing extra."""

import sys

import keras
import numpy as np
import pytest

from committor_keras._errors import ConfigError
from committor_keras.data import make_synthetic
from committor_keras.explain import integrated_gradients, shap_values
from committor_keras.model import build_model


def linear_model(weights, bias=0.2):
    inputs = keras.Input((len(weights),))
    dense = keras.layers.Dense(1)
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.asarray(weights, np.float32)[:, None], np.array([bias], np.float32)])
    return model


def test_linear_model_shap_equals_ig_from_the_background_mean():
    pytest.importorskip("shap")
    rng = np.random.default_rng(0)
    weights = np.array([1.0, -2.0, 0.5, 0.0])
    model = linear_model(weights)
    x, background = rng.normal(size=(20, 4)), rng.normal(size=(30, 4))
    result = shap_values(model, x, background=background, seed=0)
    # Independent masking of a linear model: phi_i = w_i (x_i - E[x_i]).
    expected = weights * (x - background.mean(axis=0))
    np.testing.assert_allclose(result.values, expected, rtol=1e-4, atol=1e-5)
    assert result.delta.max() < 1e-4
    ig = integrated_gradients(model, x, baseline=background.mean(axis=0), steps=4)
    np.testing.assert_allclose(result.values, ig.values, rtol=1e-4, atol=1e-5)


def test_shap_groups_and_keeps_the_global_random_state():
    pytest.importorskip("shap")
    data = make_synthetic(n_points=120, n_relevant=1, n_decoys=1, seed=3, angle_weight=2.0)
    model = build_model({"hidden_layers": 1, "units_0": 8}, data.features, seed=0)
    np.random.seed(123)
    expected_draw = np.random.random()
    np.random.seed(123)
    result = shap_values(model, data, indices=np.arange(10), background=20, output="committor", seed=1)
    assert np.random.random() == expected_draw
    assert result.values.shape == (10, 4)
    assert result.delta.max() < 1e-5
    grouped = result.to_frame(grouped=True)
    np.testing.assert_allclose(grouped["angle"], result.values[:, 2:].sum(axis=1))
    assert set(result.table()["name"]) == {"x1", "d1", "angle"}


def test_missing_shap_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "shap", None)
    with pytest.raises(ConfigError, match=r"committor-keras\[shap\]"):
        shap_values(linear_model([1.0, 2.0]), np.zeros((2, 2)))
