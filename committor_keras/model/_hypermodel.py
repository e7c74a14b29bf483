"""`CommittorHyperModel`: the committor network's search space as a Keras Tuner HyperModel."""

import json

import keras_tuner

from committor_keras._provenance import derive_seed
from committor_keras.model._losses import get_loss
from committor_keras.model._network import build_model
from committor_keras.model._space import SearchSpace
from committor_keras.model._training import fit_model


class CommittorHyperModel(keras_tuner.HyperModel):
    """Builds committor networks from a :class:`SearchSpace` and trains them with :func:`fit_model`.

    The loss is recorded as a fixed hyperparameter ``loss``, so a trial's values are everything needed to
    rebuild its network. The batch size is tuned too: :meth:`fit` reads it from the trial's values.

    Args:
        train_features: ``(N_train, F)`` features the Normalization layer is adapted on.
        space: the SearchSpace (default: ``SearchSpace()``).
        loss: ``"shot_cross_entropy"`` or ``"binomial_nll"``.
        seed: the search's seed; each trial's initialisation and shuffling seed is derived from it and the
            trial's hyperparameter values, so a trial is reproducible on its own (also after a resumed search).
    """

    def __init__(self, train_features, space=None, loss="shot_cross_entropy", seed=0):
        super().__init__(name="committor", tunable=True)
        get_loss(loss)
        self.train_features = train_features
        self.space = SearchSpace() if space is None else space
        self.loss = loss
        self.seed = seed

    def build(self, hp):
        """Declare the space on ``hp`` and build the compiled network for its current values."""
        values = self.space.declare(hp)
        values["loss"] = hp.Fixed("loss", self.loss)
        return build_model(values, self.train_features, seed=self.trial_seed(values))

    def fit(self, hp, model, train, validation, epochs=200, patience=20, callbacks=None, verbose=None,
            fit_verbose=0, **kwargs):
        """Train ``model`` with :func:`fit_model` (batch size from ``hp``); returns the Keras History.

        Args:
            hp: the trial's ``keras_tuner.HyperParameters``.
            model: the model :meth:`build` returned.
            train: ``(x, y, w)`` training arrays.
            validation: ``(x, y, w)`` validation arrays.
            epochs: maximum epochs.
            patience: early-stopping patience on ``val_kl_per_shot``.
            callbacks: callbacks from the tuner (checkpointing, TensorBoard).
            verbose: the tuner's display level, which ``tuner.search(verbose=...)`` also forwards here;
                unused (Keras' own output is ``fit_verbose``).
            fit_verbose: Keras verbosity of the training (0 silent, 2 one line per epoch).
            **kwargs: anything else ``tuner.search`` passes is rejected, to catch misspelt arguments.
        """
        if kwargs:
            raise TypeError(f"CommittorHyperModel.fit got unexpected arguments {sorted(kwargs)}")
        values = self.active_values(hp)
        result = fit_model(model, values, train=train, validation=validation, epochs=epochs, patience=patience,
                           callbacks=callbacks or (), seed=self.trial_seed(values), verbose=fit_verbose)
        return result.history

    @staticmethod
    def active_values(hp):
        """The trial's active hyperparameter values (inactive layer widths left out)."""
        return {name: value for name, value in hp.values.items() if hp.is_active(name)}

    def trial_seed(self, values):
        """The trial's training seed: ``derive_seed(search seed, "trial", hyperparameter values)``."""
        return derive_seed(self.seed, "trial", json.dumps(values, sort_keys=True))
