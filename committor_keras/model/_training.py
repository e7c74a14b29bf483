"""The one training routine, shared by the tuner's trials and the top-k retraining."""

import functools
import math
import typing

import keras
import keras_tuner
import numpy as np
import tensorflow as tf
from keras_tuner.src.engine.tuner_utils import TunerCallback

from committor_keras._errors import ConfigError
from committor_keras.model._losses import LOSSES, _CountLoss
from committor_keras.model._metrics import _cross_entropy_terms, _kl_terms, _squared_error_terms, _weighted_sums
from committor_keras.model._space import resolve_hparams

OBJECTIVE = "val_kl_per_shot"


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


class _StopOnNonFinite:
    """Raises DivergedError at the end of the first epoch whose logs hold NaN or inf (fit_model calls
    ``check`` before early stopping and the callbacks).

    Keras Tuner's Bayesian oracle turns a non-finite score into 0.0, which would rank a diverged trial
    best when minimising; failing the trial keeps it out of the Gaussian process and out of the top k.
    """

    def __init__(self):
        self.logs = {}

    def check(self, epoch, logs):
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
    """Train a compiled committor network with early stopping on the validation KL per shot.

    Each epoch is one call of a compiled TensorFlow function over tensors that stay in memory: a seeded
    reshuffle, every Adam step with batches of ``hparams["batch_size"]`` (the last one smaller) accumulating
    the training metrics, then the metrics of the validation set. The function takes the network's variables as arguments,
    so it is traced once per network *structure* (depth and loss) and reused by every later model of that
    structure, whatever its widths, activations, dropout rate, L2 factor, batch size, learning rate or data (see
    bench/BENCHMARKS.md for what this saves over ``model.fit``).

    It computes what ``model.fit`` computes, with the same logs: ``loss`` is the mean of the batch losses
    during the epoch, and ``kl_per_shot``, ``cross_entropy_per_shot`` and ``rmse`` are accumulated over the
    epoch's batches from each step's forward pass (before its update, with its dropout mask), as Keras'
    stateful metrics accumulate them; the ``val_`` metrics are those of the validation set after the epoch.
    (Until issue 11 the training metrics were a second pass over the whole training set after the epoch;
    with weights that do not move the two agree, tests/test_model_network.py checks it.) Dropout masks and
    the shuffling come from ``seed``, so a call is reproducible. The Adam update is Keras' own
    (``model.optimizer``'s learning rate, betas, epsilon and ``iterations``), so the weights after an epoch
    equal those of ``model.fit`` on the same batch order (tests/test_model_network.py checks this). Early
    stopping is ``keras.callbacks.EarlyStopping(monitor="val_kl_per_shot", patience=patience,
    restore_best_weights=True)``'s rule, and the model ends with the best epoch's weights. The model's
    variables receive each epoch's weights only when a callback may read them (any callback but History,
    the progress bar, TensorBoard without histograms, Keras Tuner's and TensorBoard's HParams callbacks, and
    callbacks with ``reads_weights = False``); otherwise they are written once, at the end.

    Args:
        model: a compiled model from :func:`committor_keras.model.build_model` (Adam optimiser).
        hparams: hyperparameters; only ``batch_size`` is read here.
        train: ``(x, y, w)`` training features, ``[n_a, n_b]`` labels and sample weights (``w`` may be None).
        validation: ``(x, y, w)`` validation set, same layout.
        epochs: maximum number of epochs.
        patience: epochs without improvement of ``val_kl_per_shot`` before stopping.
        callbacks: extra Keras callbacks (TensorBoard, the tuner's own, explanations); they run after the
            divergence check and early stopping, at the start and end of training and of every epoch; at the
            end of training the model already holds the best epoch's weights.
        seed: seed of the shuffling and of the dropout masks.
        verbose: Keras verbosity (0 silent, 1 or 2 one line per epoch).

    Returns:
        FitResult ``(history, best_epoch)``; the model ends with the weights of ``best_epoch``.

    Raises:
        DivergedError: (a ``keras_tuner.errors.FailedTrialError``) when a loss or metric becomes NaN or inf.
        ConfigError: for invalid hyperparameters, epochs or patience, or a model that is not one of
            ``build_model``'s.
    """
    if epochs < 1 or patience < 1:
        raise ConfigError(f"epochs ({epochs}) and patience ({patience}) must be >= 1")
    batch_size = resolve_hparams(hparams)["batch_size"]
    plan = _NetworkPlan.of(model)
    train_set = plan.resident(train)
    validation_set = plan.resident(validation)
    history = keras.callbacks.History()
    stop_on_non_finite = _StopOnNonFinite()
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, history], add_progbar=verbose != 0, model=model, verbose=verbose,
        epochs=epochs, steps=math.ceil(len(train_set[0]) / batch_size))
    # The model's variables get each epoch's weights only when a callback may read them (e.g. TensorBoard
    # histograms, explanations); otherwise once, at the end. Copying costs a fraction of a small epoch.
    weights_each_epoch = any(_reads_weights(callback) for callback in callback_list.callbacks)
    settings = plan.settings(batch_size)
    variables, moments, velocities = plan.variables()
    depth = len(plan.dense)
    weights, moment_values, velocity_values = ([tf.convert_to_tensor(v) for v in group]
                                               for group in (variables, moments, velocities))
    iterations = tf.convert_to_tensor(plan.optimizer.iterations)
    run_epoch = _concrete_epoch(plan.structure, depth)
    # Early stopping on the validation KL, as keras.callbacks.EarlyStopping(monitor=OBJECTIVE, mode="min",
    # patience=patience, restore_best_weights=True) decides, keeping the best epoch's weights as the
    # (immutable) tensors the epoch returned instead of copies of the variables.
    best, best_weights, wait = None, weights, 0
    model.stop_training = False
    logs = {}
    callback_list.on_train_begin()
    try:
        for epoch in range(epochs):
            callback_list.on_epoch_begin(epoch)
            values, weights, moment_values, velocity_values, iterations = run_epoch(
                train_set, validation_set, tf.constant([seed, epoch], tf.int64), weights[:depth], weights[depth:],
                moment_values, velocity_values, iterations, *settings)
            logs = dict(zip(_LOG_NAMES, values.numpy().tolist()))
            stop_on_non_finite.check(epoch, logs)
            wait += 1
            current = logs[OBJECTIVE]
            if best is None or current < best:
                best, best_weights, wait = current, weights, 0
            elif wait >= patience and epoch > 0:
                model.stop_training = True
            if weights_each_epoch:
                _assign(variables, weights)
                plan.optimizer.iterations.assign(iterations)
            callback_list.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    finally:
        # The Adam state stays the optimiser's, as after model.fit; after an error the weights are the last
        # epoch's, as they were when the error was raised.
        _assign(variables + moments + velocities, weights + moment_values + velocity_values)
        plan.optimizer.iterations.assign(iterations)
    # Restored before the callbacks' on_train_end, so callbacks that explain the trained model
    # (committor_keras.explain) see the best weights, as they did after Keras' EarlyStopping.
    _assign(variables, best_weights)
    callback_list.on_train_end(logs)
    best_epoch = int(np.argmin(history.history[OBJECTIVE])) + 1
    return FitResult(history, best_epoch)


def _assign(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value)


def _reads_weights(callback):
    """Whether ``callback`` may read the model's weights during training (False only for known ones).

    A callback of the caller's can say it reads only the logs with an attribute ``reads_weights = False``.
    """
    if getattr(callback, "reads_weights", True) is False:
        return False
    if isinstance(callback, (keras.callbacks.History, keras.callbacks.ProgbarLogger)):
        return False
    if isinstance(callback, keras.callbacks.TensorBoard):
        return bool(callback.histogram_freq or callback.embeddings_freq)
    if isinstance(callback, TunerCallback):
        tuner = type(callback.tuner)
        return any(getattr(tuner, name) is not getattr(keras_tuner.Tuner, name)
                   for name in ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end"))
    # TensorBoard's HParams session writer: the session's start and end, no weights.
    return type(callback).__module__ != "tensorboard.plugins.hparams._keras"


# What one epoch returns, in this order: the logs Keras would write.
_LOG_NAMES = ("loss", "kl_per_shot", "cross_entropy_per_shot", "rmse",
              "val_loss", "val_kl_per_shot", "val_cross_entropy_per_shot", "val_rmse")
_METRIC_TERMS = (_kl_terms, _cross_entropy_terms, _squared_error_terms)


class _NetworkPlan(typing.NamedTuple):
    """A ``build_model`` network taken apart for the compiled epoch: its variables and its structure.

    Attributes:
        normalization: the Normalization layer (applied once to the resident data), or None.
        dense: the Dense layers in order.
        dropout: the dropout rate after each Dense layer (0.0 for none).
        activations: per Dense layer, the index of its activation in :data:`SWITCHED_ACTIVATIONS` (an
            argument of the traced epoch), or -1 for another activation (then part of the structure).
        optimizer: the model's Adam optimiser (built).
        structure: what the traced epoch depends on besides tensor shapes: the per-point loss and, per
            Dense layer, (activation or None when it is an argument, may it have dropout?): every hidden
            layer may (at a rate of 0 it has none), so networks of one depth share a trace whatever their
            Keras activations, dropout and L2.
    """

    normalization: object
    dense: tuple
    dropout: tuple
    activations: tuple
    optimizer: object
    structure: tuple

    @classmethod
    def of(cls, model):
        optimizer = model.optimizer
        if type(optimizer) is not keras.optimizers.Adam or optimizer.amsgrad:
            raise ConfigError(f"fit_model trains with Keras' Adam; model {model.name!r} is compiled with "
                              f"{type(optimizer).__name__} (use committor_keras.model.build_model)")
        if not isinstance(model.loss, _CountLoss):
            raise ConfigError(f"fit_model needs a committor loss ({', '.join(LOSSES)}); model {model.name!r} "
                              f"is compiled with {model.loss!r}")
        normalization, dense, dropout = None, [], []
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.layers.Normalization) and not dense and normalization is None:
                normalization = layer
            elif isinstance(layer, keras.layers.Dense):
                dense.append(layer)
                dropout.append(0.0)
            elif isinstance(layer, keras.layers.Dropout) and dense:
                dropout[-1] = float(layer.rate)
            else:
                raise ConfigError(f"fit_model trains Normalization -> Dense/Dropout networks; model "
                                  f"{model.name!r} has a {type(layer).__name__} layer {layer.name!r}")
        optimizer.build(model.trainable_variables)
        # Dropout (at any rate, 0 included) after every hidden layer, L2 (any factor, 0 included) and Keras'
        # own activations are arguments of the traced epoch, not part of its structure: depth and loss are.
        last = len(dense) - 1
        switched = _switched_activations()
        activations = tuple(switched.index(layer.activation) if layer.activation in switched else -1
                            for layer in dense)
        layers = tuple((None if code >= 0 else layer.activation, index < last or rate > 0)
                       for index, (layer, rate, code) in enumerate(zip(dense, dropout, activations)))
        return cls(normalization, tuple(dense), tuple(dropout), activations, optimizer,
                   (type(model.loss)._function, layers))

    def resident(self, arrays):
        """``(x, y, w)`` as float32 tensors, ``x`` normalised by the model's own layer, ``w`` ones if None."""
        x, y, w = arrays
        x = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
        if self.normalization is not None:
            x = tf.convert_to_tensor(self.normalization(x))
        w = np.ones(len(x), np.float32) if w is None else np.asarray(w, dtype=np.float32)
        return x, tf.convert_to_tensor(np.asarray(y, dtype=np.float32)), tf.convert_to_tensor(w)

    def settings(self, batch_size):
        """The epoch function's last arguments: batch size, Adam's settings, dropout rates, L2 factors and
        activation indices."""
        optimizer = self.optimizer
        adam = [float(optimizer.learning_rate), optimizer.beta_1, optimizer.beta_2, optimizer.epsilon]
        return (tf.constant(batch_size, tf.int32), tf.constant(adam, tf.float32), tf.constant(self.dropout, tf.float32),
                tf.constant([_l2(layer) for layer in self.dense], tf.float32),
                tf.constant(self.activations, tf.int32))

    def variables(self):
        """The weights (kernels, then biases) and their Adam moments and velocities."""
        optimizer = self.optimizer
        kernels = [layer.kernel for layer in self.dense]
        biases = [layer.bias for layer in self.dense]
        variables = kernels + biases
        moments = [optimizer._momentums[optimizer._get_variable_index(v)] for v in variables]
        velocities = [optimizer._velocities[optimizer._get_variable_index(v)] for v in variables]
        return variables, moments, velocities


SWITCHED_ACTIVATIONS = ("linear", "relu", "elu", "tanh", "swish", "softplus", "sigmoid")
"""Keras activations that are an argument of fit_model's traced epoch (chosen per layer by ``tf.switch_case``),
so that networks of one depth share one trace whatever these activations; any other activation is part of the
traced structure. One trace instead of one per activation: fewer traces and less memory per search
(bench/notes.md), at no measurable cost per step."""


@functools.cache
def _switched_activations():
    return tuple(keras.activations.get(name) for name in SWITCHED_ACTIVATIONS)


def _l2(layer):
    regularizer = layer.kernel_regularizer
    if regularizer is None:
        return 0.0
    if not isinstance(regularizer, keras.regularizers.L2):
        raise ConfigError(f"fit_model supports L2 kernel regularisers; layer {layer.name!r} has "
                          f"{type(regularizer).__name__}")
    return float(regularizer.l2)


@functools.cache
def _concrete_epoch(structure, depth):
    """The epoch function of this structure, traced with every dimension unknown, as a concrete function.

    Calling the concrete function skips ``tf.function``'s dispatch on the arguments' types, which costs
    more than the whole epoch's compute for a small network at a large batch size.
    """
    vector, matrix, scalar = (tf.TensorSpec([None] * rank, tf.float32) for rank in (1, 2, 0))
    data = (matrix, matrix, vector)
    return _epoch_function(structure).get_concrete_function(
        data, data, tf.TensorSpec([2], tf.int64), [matrix] * depth, [vector] * depth, [matrix] * depth + [vector] * depth,
        [matrix] * depth + [vector] * depth, tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int32), vector,
        vector, vector, tf.TensorSpec([None], tf.int32))


@functools.cache
def _epoch_function(structure):
    """The compiled epoch of networks with this structure (see ``_NetworkPlan.structure``).

    One ``tf.function`` per structure, kept for the life of the process: the variables are arguments, so
    the traced graph holds no model and serves every later network of the same structure (fit_model traces
    it once, with every dimension unknown).
    """
    point_loss, layers = structure

    def activate(h, activation, code):
        if activation is not None:
            return activation(h)
        # Only the chosen branch runs; its values are those of the activation called directly.
        return tf.switch_case(code, [functools.partial(function, h) for function in _switched_activations()])

    def forward(x, kernels, biases, rates, activations, dropout_seed=None):
        h = x
        for index, ((activation, dropout), kernel, bias) in enumerate(zip(layers, kernels, biases)):
            h = activate(tf.matmul(h, kernel) + bias, activation, activations[index])
            if dropout and dropout_seed is not None:
                # The rate is an argument and a rate of 0 skips the layer, so networks with and without
                # dropout share one trace (fewer traces per search); the values are those of either path.
                h = tf.cond(rates[index] > 0, functools.partial(
                    tf.nn.experimental.stateless_dropout, h, rate=rates[index],
                    seed=tf.random.experimental.stateless_fold_in(dropout_seed, index)), lambda h=h: h)
        return h

    def penalty(kernels, l2):
        # Every layer's term, with a factor of 0 for an unregularised layer: exactly 0 added to the loss and
        # to the gradients, so networks with and without L2 share one trace.
        terms = [l2[index] * tf.reduce_sum(tf.square(kernel)) for index, kernel in enumerate(kernels)]
        return tf.add_n(terms)

    def evaluate(data, kernels, biases, rates, activations):
        x, y, w = data
        logits = forward(x, kernels, biases, rates, activations)
        ratios = [tf.math.divide_no_nan(*_weighted_sums(terms, y, logits, w)) for terms in _METRIC_TERMS]
        mean_loss = tf.reduce_sum(point_loss(y, logits) * w) / tf.cast(tf.shape(x)[0], tf.float32)
        return mean_loss, ratios[0], ratios[1], tf.sqrt(ratios[2])

    @tf.function(reduce_retracing=True)
    def run_epoch(train, validation, seed, kernels, biases, moments, velocities, iterations, batch_size, adam,
                  rates, l2, activations):
        # Weights and Adam state come in and go out as tensors, not variables: a variable's handle carries
        # its shape into the traced graph, which then could not serve networks of other widths.
        learning_rate, beta_1, beta_2, epsilon = tf.unstack(adam, num=4)
        depth = len(kernels)
        order = tf.random.experimental.stateless_shuffle(tf.range(tf.shape(train[0])[0]), seed=seed)
        x, y, w = (tf.gather(part, order) for part in train)
        size = tf.shape(x)[0]
        loss_sum = tf.constant(0.0)
        # The training metrics' sums (numerator, denominator per metric), accumulated over the epoch's batches
        # from the logits of each step's forward pass, as Keras' fit accumulates its stateful metrics.
        metric_sums = [tf.constant(0.0)] * (2 * len(_METRIC_TERMS))
        for start in tf.range(0, size, batch_size):
            stop = tf.minimum(start + batch_size, size)
            count = tf.cast(stop - start, tf.float32)
            with tf.GradientTape() as tape:
                tape.watch([kernels, biases])
                logits = forward(x[start:stop], kernels, biases, rates, activations,
                                 dropout_seed=tf.random.experimental.stateless_fold_in(seed, start))
                # Keras' "sum_over_batch_size" reduction of the weighted per-point loss, plus the L2 terms.
                loss = tf.reduce_sum(point_loss(y[start:stop], logits) * w[start:stop]) / count
                loss += penalty(kernels, l2)
            gradients = tape.gradient(loss, kernels + biases)
            metric_sums = [total + part for total, part in zip(metric_sums, [
                value for terms in _METRIC_TERMS
                for value in _weighted_sums(terms, y[start:stop], tf.stop_gradient(logits), w[start:stop])])]
            # keras.optimizers.Adam.update_step, term for term.
            iterations += 1
            step = tf.cast(iterations, tf.float32)
            alpha = learning_rate * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))
            moments = [m + (g - m) * (1 - beta_1) for m, g in zip(moments, gradients)]
            velocities = [v + (tf.square(g) - v) * (1 - beta_2) for v, g in zip(velocities, gradients)]
            updated = [p - m * alpha / (tf.sqrt(v) + epsilon)
                       for p, m, v in zip(kernels + biases, moments, velocities)]
            kernels, biases = updated[:depth], updated[depth:]
            loss_sum += loss * count
        train_metrics = [tf.math.divide_no_nan(metric_sums[2 * i], metric_sums[2 * i + 1])
                         for i in range(len(_METRIC_TERMS))]
        train_metrics[-1] = tf.sqrt(train_metrics[-1])
        validation_loss, *validation_metrics = evaluate(validation, kernels, biases, rates, activations)
        logs = tf.stack([loss_sum / tf.cast(size, tf.float32), *train_metrics,
                         validation_loss + penalty(kernels, l2), *validation_metrics])
        return logs, kernels + biases, moments, velocities, iterations

    return run_epoch
