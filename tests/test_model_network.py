"""The network builder and the shared training routine: contract, seeds, round trips, divergence, recovery."""

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from committor_keras._errors import ConfigError
from committor_keras.data import labels, make_synthetic, split_indices
from committor_keras.model import (DivergedError, build_model, fit_model, kl_per_shot, resolve_hparams)
from committor_keras.model._training import _epoch_function, _NetworkPlan

HPARAMS = {"hidden_layers": 2, "units_0": 16, "units_1": 8, "activation": "tanh", "dropout": 0.1, "l2": 1e-5,
           "learning_rate": 3e-3, "batch_size": 64}


@pytest.fixture(scope="module")
def synthetic():
    data = make_synthetic(n_points=3000, n_relevant=2, n_decoys=6, shots_per_point=10, seed=11)
    split = split_indices(data, seed=0)
    y = labels(data)
    return data, split, {name: (data.features[idx], y[idx], None)
                         for name, idx in (("train", split.train), ("validation", split.validation),
                                           ("test", split.test))}


def test_model_follows_the_contract(synthetic):
    data, split, sets = synthetic
    model = build_model(HPARAMS, sets["train"][0], seed=0)
    assert model.inputs[0].shape == (None, data.n_features) and model.inputs[0].dtype == "float32"
    assert model.outputs[0].shape == (None, 1)
    assert isinstance(model.layers[1], keras.layers.Normalization)
    normalised = model.layers[1](sets["train"][0].astype(np.float32)).numpy()
    np.testing.assert_allclose(normalised.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(normalised.std(axis=0), 1.0, atol=1e-3)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [16, 8, 1]
    assert dense[-1].name == "logit" and dense[-1].activation is keras.activations.linear
    assert model.loss.name == "shot_cross_entropy"


def test_same_seed_same_weights_other_seed_other_weights(synthetic):
    x = synthetic[2]["train"][0]
    first, again, other = (build_model(HPARAMS, x, seed=s).get_weights() for s in (3, 3, 4))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


@pytest.mark.parametrize("bad", [{"hidden_layers": -1}, {"activation": "sigmoid"}, {"dropout": 1.0},
                                 {"learning_rate": 0.0}, {"batch_size": 0}, {"loss": "mse"}, {"width": 3}])
def test_invalid_hyperparameters_raise_config_error(synthetic, bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        build_model({**HPARAMS, **bad}, synthetic[2]["train"][0])


def test_resolve_hparams_accepts_table_values_and_drops_unused_widths():
    resolved = resolve_hparams({"hidden_layers": np.int64(1), "units_0": 32.0, "units_3": float("nan"),
                                "dropout": np.float64(0.25)})
    assert resolved["hidden_layers"] == 1 and resolved["units_0"] == 32 and "units_3" not in resolved
    assert isinstance(resolved["units_0"], int) and resolved["dropout"] == 0.25


def test_fit_restores_best_epoch_and_saved_model_round_trips(synthetic, tmp_path):
    _, _, sets = synthetic
    model = build_model(HPARAMS, sets["train"][0], seed=1)
    result = fit_model(model, HPARAMS, sets["train"], sets["validation"], epochs=12, patience=3, seed=0)
    history = result.history.history
    assert result.best_epoch == int(np.argmin(history["val_kl_per_shot"])) + 1
    assert len(history["loss"]) <= 12 and model.steps_per_execution == 1
    # The model holds the best epoch's weights: evaluating gives that epoch's validation KL.
    scores = model.evaluate(*sets["validation"][:2], verbose=0, return_dict=True)
    assert scores["kl_per_shot"] == pytest.approx(history["val_kl_per_shot"][result.best_epoch - 1], rel=1e-4)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    x = sets["test"][0][:50].astype(np.float32)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert restored.loss.name == model.loss.name


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu", "swish", "softplus", "gelu"])
def test_an_epoch_equals_keras_fit_on_the_same_batch_order(synthetic, activation):
    """fit_model's compiled epoch takes the Adam steps model.fit takes (weights, L2, sample weights, loss),
    with every activation of the search space (an argument of the trace) and one that is not (gelu: part of
    the traced structure)."""
    x, y, _ = synthetic[2]["train"]
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(x)).astype(np.float32)
    hparams = {**HPARAMS, "dropout": 0.0, "l2": 1e-3, "batch_size": 100,  # the last batch is smaller
               "activation": "tanh" if activation == "gelu" else activation}
    ours, theirs = build_model(hparams, x, seed=5), build_model(hparams, x, seed=5)
    if activation == "gelu":
        for model in (ours, theirs):
            for layer in model.layers[:-1]:
                if isinstance(layer, keras.layers.Dense):
                    layer.activation = keras.activations.gelu
        assert _NetworkPlan.of(ours).structure[1][0][0] is keras.activations.gelu
    result = fit_model(ours, hparams, (x, y, w), (x[:300], y[:300], w[:300]), epochs=1, patience=1, seed=9)
    order = tf.random.experimental.stateless_shuffle(tf.range(len(x)), seed=tf.constant([9, 0], tf.int64)).numpy()
    keras_history = theirs.fit(x[order], y[order], sample_weight=w[order], batch_size=100, shuffle=False,
                               epochs=1, verbose=0, validation_data=(x[:300], y[:300], w[:300])).history
    for mine, reference in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, reference, atol=1e-5)
    assert int(ours.optimizer.iterations) == int(theirs.optimizer.iterations) == -(-len(x) // 100)
    # Every log, the training metrics included: like Keras, fit_model accumulates them over the epoch's batches.
    for name in ("loss", "kl_per_shot", "cross_entropy_per_shot", "rmse", "val_loss", "val_kl_per_shot",
                 "val_cross_entropy_per_shot", "val_rmse"):
        assert result.history.history[name][0] == pytest.approx(keras_history[name][0], rel=1e-4), name


def test_training_metrics_of_the_batches_equal_an_evaluation_pass_of_fixed_weights(synthetic):
    """Accumulated over the batches, the training metrics are those of the whole training set: with a
    learning rate too small to move a weight, they equal a separate evaluation of the set (float tolerance)."""
    x, y, _ = synthetic[2]["train"]
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(x)).astype(np.float32)
    hparams = {**HPARAMS, "dropout": 0.0, "l2": 0.0, "learning_rate": 1e-12, "batch_size": 100}
    model = build_model(hparams, x, seed=2)
    history = fit_model(model, hparams, (x, y, w), (x[:300], y[:300], w[:300]), epochs=1, patience=1).history.history
    scores = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    for name in ("kl_per_shot", "cross_entropy_per_shot", "rmse"):
        assert history[name][0] == pytest.approx(scores[name], rel=1e-5), name


class _WeightsAtEpochEnd(keras.callbacks.Callback):
    """Reads the model's weights at every epoch end (so fit_model hands them over every epoch)."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_early_stopping_restores_the_best_epochs_weights_as_keras_would(synthetic):
    x, y, _ = synthetic[2]["train"]
    sets = (x, y, None), (x[:200], y[:200], None)
    hparams = {**HPARAMS, "learning_rate": 3e-2}
    reader = _WeightsAtEpochEnd()
    watched = build_model(hparams, x, seed=6)
    result = fit_model(watched, hparams, *sets, epochs=60, patience=3, seed=1, callbacks=[reader])
    history = result.history.history["val_kl_per_shot"]
    # Stopped as keras.callbacks.EarlyStopping(patience=3) stops: 3 epochs without a strictly lower value.
    assert len(history) < 60 and len(history) == result.best_epoch + 3
    assert min(history[:-3]) <= min(history[-3:])
    for mine, best in zip(watched.get_weights(), reader.weights[result.best_epoch - 1]):
        np.testing.assert_array_equal(mine, best)
    # Without a callback that reads weights, the variables are written once at the end: same result.
    unwatched = build_model(hparams, x, seed=6)
    again = fit_model(unwatched, hparams, *sets, epochs=60, patience=3, seed=1)
    assert again.history.history == result.history.history
    assert all(np.array_equal(a, b) for a, b in zip(unwatched.get_weights(), watched.get_weights()))
    assert int(unwatched.optimizer.iterations) == int(watched.optimizer.iterations)


def test_networks_of_one_structure_share_one_traced_epoch(synthetic):
    x, y, _ = synthetic[2]["train"]
    sets = (x, y, None), (x[:200], y[:200], None)
    counts = []
    structures = set()
    for units, batch_size, rate, l2, activation in ((12, 50, 0.1, 1e-5, "tanh"), (20, 70, 0.0, 0.0, "relu"),
                                                    (33, 128, 0.3, 0.0, "swish"), (7, 64, 0.0, 1e-3, "elu"),
                                                    (9, 40, 0.2, 1e-4, "softplus")):
        hparams = {**HPARAMS, "units_0": units, "batch_size": batch_size, "dropout": rate, "l2": l2,
                   "activation": activation}
        model = build_model(hparams, x, seed=0)
        fit_model(model, hparams, *sets, epochs=2, patience=2)
        structures.add(_NetworkPlan.of(model).structure)
        counts.append(_epoch_function(_NetworkPlan.of(model).structure).experimental_get_tracing_count())
    # One trace, with every dimension unknown, serves every width, batch size, dropout rate, L2 factor and
    # activation of the search space, 0 (no dropout, no L2) included.
    assert len(structures) == 1 and counts == [1, 1, 1, 1, 1]


def test_seeded_fit_is_reproducible(synthetic):
    x, y, _ = synthetic[2]["train"]
    runs = []
    for _ in range(2):
        model = build_model(HPARAMS, x, seed=4)
        history = fit_model(model, HPARAMS, (x, y, None), (x[:200], y[:200], None), epochs=3, patience=3, seed=8)
        runs.append((model.get_weights(), history.history.history))
    assert runs[0][1] == runs[1][1]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][0], runs[1][0]))


def test_divergence_raises_failed_trial_error(synthetic):
    _, _, sets = synthetic
    # Adam moves every weight by ~learning_rate per step: after one step at 1e30, relu activations times
    # weights overflow float32 (max ~3e38) within the first epoch, whatever the depth.
    hparams = {**HPARAMS, "activation": "relu", "learning_rate": 1e30}
    model = build_model(hparams, sets["train"][0], seed=0)
    with pytest.raises(DivergedError, match="diverged at epoch 1") as caught:
        fit_model(model, hparams, sets["train"], sets["validation"], epochs=5, patience=2)
    assert isinstance(caught.value, keras_tuner.errors.FailedTrialError)
    assert len(caught.value.history["loss"]) == 1


def test_synthetic_committor_is_recovered(synthetic):
    """A moderate network reaches the noise floor of the held-out shots.

    The floor is the KL per shot of the true committor on the test points (shot noise: p_B != q_true). A
    constant model (the mean p_B) sits far above it, by the information the features carry. We require
    the trained model to close at least 90% of that gap; a model ignoring one of the two relevant
    features closes only about half of it on this set, and one that learned the committor is within a
    few per cent (the excess of a fitted model is of order parameters / shots ~ 1e-2 of the gap here).
    """
    data, split, sets = synthetic
    hparams = {**HPARAMS, "hidden_layers": 2, "units_0": 32, "units_1": 32, "dropout": 0.0}
    model = build_model(hparams, sets["train"][0], seed=2)
    fit_model(model, hparams, sets["train"], sets["validation"], epochs=150, patience=15, seed=0)
    y_test = sets["test"][1].astype(np.float64)
    z_model = model.predict(sets["test"][0].astype(np.float32), verbose=0).astype(np.float64)
    floor = float(kl_per_shot(y_test, data.extras["logit_true"][split.test]))
    mean_p = sets["train"][1][:, 1].sum() / sets["train"][1].sum()
    constant = float(kl_per_shot(y_test, np.full(len(y_test), np.log(mean_p / (1 - mean_p)))))
    achieved = float(kl_per_shot(y_test, z_model))
    assert constant - floor > 0.1
    assert achieved - floor < 0.1 * (constant - floor), (achieved, floor, constant)
    q_model = 1 / (1 + np.exp(-z_model[:, 0]))
    assert np.sqrt(np.mean((q_model - data.extras["q_true"][split.test]) ** 2)) < 0.05
