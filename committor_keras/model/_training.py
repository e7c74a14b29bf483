"""The one training routine, shared by the tuner's trials and the top-k retraining."""

import math
import typing

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from committor_keras._errors import ConfigError
from committor_keras.model._space import resolve_hparams

OBJECTIVE = "val_kl_per_shot"
# Validation metrics are sums over points, so one large batch gives the same value as many small ones.
_VALIDATION_BATCH = 8192


class FitResult(typing.NamedTuple):
    """What :func:`fit_model` returns.

    Attributes:
        history: the ``keras.callbacks.History`` of the run (``.history``: metric -> per-epoch values).
        best_epoch: 1-based epoch with the lowest ``val_kl_per_shot``; the model holds its weights.
    """

    history: keras.callbacks.History
    best_epoch: int


class DivergedError(keras_tuner.errors.FailedTrialError):
    """Training produced a non-finite loss or metric; Keras Tuner records the trial as FAILED.

    Attributes:
        history: the per-epoch logs up to and including the diverged epoch.
    """

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


class _StopOnNonFinite(keras.callbacks.Callback):
    """Raises DivergedError at the end of the first epoch whose logs hold NaN or inf.

    Keras Tuner's Bayesian oracle turns a non-finite score into 0.0, which would rank a diverged trial
    best when minimising; failing the trial keeps it out of the Gaussian process and out of the top k.
    """

    def __init__(self):
        super().__init__()
        self.logs = {}

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.logs.setdefault(name, []).append(float(value))
        bad = sorted(name for name, value in (logs or {}).items() if not math.isfinite(float(value)))
        if bad:
            name = "loss" if "loss" in bad else bad[0]
            raise DivergedError(f"training diverged at epoch {epoch + 1}: {name} = {logs[name]} (lower the "
                                "learning rate or its search range)", dict(self.logs))


def make_dataset(x, y, w=None, batch_size=128, shuffle_seed=None):
    """A cached, optionally shuffled, batched ``tf.data.Dataset`` of ``(x, y[, w])`` as float32.

    Args:
        x: ``(N, F)`` features.
        y: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        w: optional ``(N,)`` sample weights.
        batch_size: batch size.
        shuffle_seed: reshuffle every epoch with this seed; None keeps the order.

    Returns:
        tf.data.Dataset.
    """
    arrays = tuple(np.asarray(a, dtype=np.float32) for a in ((x, y) if w is None else (x, y, w)))
    dataset = tf.data.Dataset.from_tensor_slices(arrays).cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(arrays[0]), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def fit_model(model, hparams, train, validation, epochs=200, patience=20, callbacks=(), seed=0, verbose=0):
    """Train a compiled committor model with early stopping on the validation KL per shot.

    The training data go through a cached, seeded-shuffle ``tf.data`` pipeline batched with
    ``hparams["batch_size"]``, and the whole epoch runs as one ``steps_per_execution`` call (several times
    faster than step-by-step ``fit`` for these small networks; see bench/bench_training.py). Early stopping
    watches ``val_kl_per_shot`` with ``patience`` epochs and restores the best weights.

    Args:
        model: a compiled model from :func:`committor_keras.model.build_model`.
        hparams: hyperparameters; only ``batch_size`` is read here.
        train: ``(x, y, w)`` training features, ``[n_a, n_b]`` labels and sample weights (``w`` may be None).
        validation: ``(x, y, w)`` validation set, same layout.
        epochs: maximum number of epochs.
        patience: epochs without improvement of ``val_kl_per_shot`` before stopping.
        callbacks: extra Keras callbacks (TensorBoard, the tuner's own, explanations); they run after the
            divergence check and early stopping.
        seed: seed of the shuffling.
        verbose: Keras verbosity (0 silent, 1 progress bar, 2 one line per epoch).

    Returns:
        FitResult ``(history, best_epoch)``; the model ends with the weights of ``best_epoch``.

    Raises:
        DivergedError: (a ``keras_tuner.errors.FailedTrialError``) when a loss or metric becomes NaN or inf.
        ConfigError: for invalid hyperparameters, epochs or patience.
    """
    if epochs < 1 or patience < 1:
        raise ConfigError(f"epochs ({epochs}) and patience ({patience}) must be >= 1")
    batch_size = resolve_hparams(hparams)["batch_size"]
    train_x, train_y, train_w = train
    train_data = make_dataset(train_x, train_y, train_w, batch_size, shuffle_seed=seed)
    validation_data = make_dataset(*validation, batch_size=_VALIDATION_BATCH)
    # EarlyStopping comes before the caller's callbacks: Keras runs on_train_end in list order, so callbacks
    # that explain the trained model (committor_keras.explain) see the restored best weights.
    callbacks = [
        _StopOnNonFinite(),
        keras.callbacks.EarlyStopping(monitor=OBJECTIVE, mode="min", patience=patience, restore_best_weights=True),
        *callbacks,
    ]
    steps_per_epoch = math.ceil(len(train_x) / batch_size)
    previous = model.steps_per_execution
    _set_steps_per_execution(model, steps_per_epoch)
    try:
        history = model.fit(train_data, validation_data=validation_data, epochs=epochs, callbacks=callbacks,
                            shuffle=False, verbose=verbose)
    finally:
        # The compiled step functions bake in the step count; reset them so predict/evaluate stay per-batch.
        _set_steps_per_execution(model, previous)
    best_epoch = int(np.argmin(history.history[OBJECTIVE])) + 1
    return FitResult(history, best_epoch)


def _set_steps_per_execution(model, steps):
    model.steps_per_execution = steps
    model.train_function = model.test_function = model.predict_function = None
