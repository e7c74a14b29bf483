"""The committor network: raw features -> Normalization -> hidden Dense layers -> one logit."""

import keras
import numpy as np

from committor_keras.model._losses import get_loss
from committor_keras.model._metrics import committor_metrics
from committor_keras.model._space import resolve_hparams


def build_model(hparams, train_features, seed=0):
    """Build and compile a committor network.

    The model takes raw features, float32 ``(None, F)``; its first layer is a ``Normalization`` adapted on
    ``train_features``; then ``hidden_layers`` Dense layers (``units_i`` wide, the given activation, L2 on
    the kernels, dropout after each), and a Dense(1) output named ``logit``; ``q = sigmoid(logit)``. It is
    compiled with Adam(``learning_rate``), the loss named by ``hparams["loss"]`` and the committor metrics
    (as weighted metrics, so sample weights apply to them).

    Args:
        hparams: hyperparameters (see :func:`committor_keras.model.resolve_hparams`; defaults fill gaps).
        train_features: ``(N_train, F)`` array the normalisation statistics are computed from.
        seed: integer seed of the weight initialisers and dropout masks.

    Returns:
        A compiled ``keras.Model`` named ``committor``.

    Raises:
        ConfigError: for invalid hyperparameters.
    """
    hparams = resolve_hparams(hparams)
    train_features = np.asarray(train_features, dtype=np.float32)
    # One seed per random layer: a shared seeded initializer would draw identical weights in every layer.
    seeds = iter(np.random.default_rng(seed).integers(0, 2**31 - 1, size=2 * hparams["hidden_layers"] + 1))

    inputs = keras.Input(shape=(train_features.shape[1],), dtype="float32", name="features")
    normalization = keras.layers.Normalization(name="normalization")
    normalization.adapt(train_features)
    x = normalization(inputs)
    regularizer = keras.regularizers.L2(hparams["l2"]) if hparams["l2"] > 0 else None
    for layer in range(hparams["hidden_layers"]):
        x = keras.layers.Dense(hparams[f"units_{layer}"], activation=hparams["activation"],
                               kernel_initializer=keras.initializers.GlorotUniform(seed=int(next(seeds))),
                               kernel_regularizer=regularizer, name=f"hidden_{layer}")(x)
        dropout_seed = int(next(seeds))
        if hparams["dropout"] > 0:
            x = keras.layers.Dropout(hparams["dropout"], seed=dropout_seed, name=f"dropout_{layer}")(x)
    logit = keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=int(next(seeds))),
                               kernel_regularizer=regularizer, name="logit")(x)
    model = keras.Model(inputs, logit, name="committor")
    model.compile(optimizer=keras.optimizers.Adam(hparams["learning_rate"]), loss=get_loss(hparams["loss"]),
                  weighted_metrics=committor_metrics())
    return model
