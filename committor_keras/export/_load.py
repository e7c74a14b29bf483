"""Load an exported committor model (top/NN directory, ``.keras`` file or SavedModel) for prediction."""

from pathlib import Path

import numpy as np

from committor_keras._errors import CommittorKerasError, DataError
from committor_keras.export._card import CARD_FILE, KERAS_FILE, SAVED_MODEL_DIR, read_card
from committor_keras.export._saved_model import INPUT_NAME, SERVING_SIGNATURE

_BATCH = 65536


class CommittorPredictor:
    """A loaded committor model: raw features in, logit or committor out.

    Attributes:
        path: what was loaded (``.keras`` file or SavedModel directory).
        kind: ``"keras"`` or ``"saved_model"``.
        card: the model card (dict), or ``None`` when the model was loaded without one.
        card_path: the card's file, or ``None``.
        feature_names: the input feature names in order (from the card), or ``None``.
        n_features: F.
    """

    def __init__(self, logit_fn, n_features, path, kind, card_path=None):
        self._logit_fn = logit_fn
        self.n_features = int(n_features)
        self.path = Path(path)
        self.kind = kind
        self.card_path = None if card_path is None else Path(card_path)
        card = None if card_path is None else read_card(card_path)
        self.card = card
        self.feature_names = tuple(card["features"]["names"]) if card else None

    def __repr__(self):
        return f"CommittorPredictor({self.kind}: {self.path}, {self.n_features} features)"

    def predict_logit(self, x):
        """The logit z per point.

        Args:
            x: (N, F) raw features in the model's feature order, a `CommittorData` (columns are matched
                to the model's features by name) or a pandas DataFrame (columns picked by name; other
                columns, such as labels, are ignored).

        Returns:
            float64 array (N,).
        """
        x = self.features_of(x)
        if len(x) == 0:
            return np.zeros(0)
        parts = [np.asarray(self._logit_fn(x[start:start + _BATCH])).reshape(-1)
                 for start in range(0, len(x), _BATCH)]
        return np.concatenate(parts).astype(np.float64)

    def predict_committor(self, x):
        """The committor q = sigmoid(z) per point: the probability to reach state B before state A.

        Args:
            x: as for :meth:`predict_logit`.

        Returns:
            float64 array (N,) in [0, 1].
        """
        return committor_from_logit(self.predict_logit(x))

    def gradient(self, x):
        """The gradients of the logit and the committor with respect to the raw features, per point.

        Args:
            x: as for :meth:`predict_logit`.

        Returns:
            (dz/dx, dq/dx), float64 arrays (N, F); dq/dx = q (1 - q) dz/dx.
        """
        import tensorflow as tf

        x = tf.constant(self.features_of(x))
        with tf.GradientTape() as tape:
            tape.watch(x)
            logit = self._logit_fn(x)
        dlogit = tape.gradient(logit, x).numpy().astype(np.float64)
        q = committor_from_logit(np.asarray(logit, dtype=np.float64).reshape(-1, 1))
        return dlogit, q * (1.0 - q) * dlogit

    def features_of(self, x, source="<memory>"):
        """The float32 (N, F) model input for ``x`` (an array, a `CommittorData` or a DataFrame).

        Args:
            x: (N, F) raw features in the model's order, a `CommittorData` (matched by name) or a pandas
                DataFrame (the model's columns picked by name).
            source: where an array came from, named in errors.

        Raises:
            DataError: the features do not match the model's (names, from the card, or count), or a
                DataFrame lacks one of the model's columns.
        """
        if hasattr(x, "columns") and hasattr(x, "loc") and self.feature_names is not None:
            missing = [name for name in self.feature_names if name not in x.columns]
            if missing:
                raise DataError(source, missing[0], f"missing from the DataFrame's columns; the model {self.path} "
                                                    f"takes {list(self.feature_names)}")
            x = x[list(self.feature_names)]
        if hasattr(x, "feature_names"):
            source, names = x.source, tuple(x.feature_names)
            if self.feature_names is not None:
                return np.asarray(x.features[:, self.columns(names, source)], dtype=np.float32)
            x = x.features
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise DataError(source, "features", f"shape {x.shape} but the model {self.path} takes "
                                                f"(N, {self.n_features}) raw features")
        return x

    def columns(self, names, source="<memory>"):
        """Column indices that put data with feature ``names`` into the model's input order.

        Args:
            names: the data's feature names.
            source: the data's file, named in the error.

        Returns:
            list of int.

        Raises:
            DataError: names are missing or extra compared with the model card.
        """
        names = tuple(names)
        if self.feature_names is None:
            if len(names) != self.n_features:
                raise DataError(source, "feature_names", f"{len(names)} features but the model {self.path} "
                                                         f"takes {self.n_features}; give the model's features")
            return list(range(len(names)))
        missing = [name for name in self.feature_names if name not in names]
        extra = [name for name in names if name not in self.feature_names]
        if missing or extra:
            found = "; ".join(part for part in (f"missing {missing}" if missing else "",
                                                f"not used by the model {extra}" if extra else "") if part)
            raise DataError(source, "feature_names",
                            f"{found} compared with the model card {self.card_path}; "
                            f"give data with exactly the model's {len(self.feature_names)} features "
                            f"{list(self.feature_names)}")
        return [names.index(name) for name in self.feature_names]


def committor_from_logit(z):
    """q = sigmoid(z) in float64, exactly 0 or 1 far out and without overflow warnings."""
    e = np.exp(-np.abs(np.asarray(z, dtype=np.float64)))
    return np.where(np.asarray(z) >= 0, 1 / (1 + e), e / (1 + e))


def load_committor_model(path):
    """Load a committor model for prediction.

    Args:
        path: a model directory (``top/NN`` with ``card.json``; its ``model.keras`` is used, else its
            SavedModel), a ``.keras`` file, a SavedModel directory (``saved_model/1``) or a TF Serving base
            directory (``saved_model``, highest numbered version). The card beside the model, when present,
            supplies the feature names.

    Returns:
        CommittorPredictor.

    Raises:
        CommittorKerasError: nothing loadable at ``path``.
    """
    path = Path(path)
    if not path.exists():
        raise CommittorKerasError(f"{path}: no such file or directory; give a top/NN model directory, a "
                                  ".keras file or a SavedModel directory")
    if path.is_dir() and (path / CARD_FILE).is_file():
        card = path / CARD_FILE
        keras_file = path / KERAS_FILE
        if keras_file.is_file():
            return load_keras(keras_file, card)
        return load_saved_model(saved_model_version(path / SAVED_MODEL_DIR), card)
    if path.is_file() and path.suffix == ".keras":
        return load_keras(path, _card_near(path.parent))
    if path.is_dir():
        version = saved_model_version(path)
        # A card sits in the model directory, two levels above saved_model/<version>.
        owner = version.parent.parent
        return load_saved_model(version, _card_near(owner))
    raise CommittorKerasError(f"{path}: not a model; give a top/NN model directory, a .keras file or a "
                              "SavedModel directory")


def _card_near(directory):
    return directory / CARD_FILE if (directory / CARD_FILE).is_file() else None


def saved_model_version(path):
    """``path`` if it is a SavedModel, else its highest numbered version subdirectory (as TF Serving picks)."""
    if (path / "saved_model.pb").is_file():
        return path
    versions = sorted((child for child in path.glob("*") if child.name.isdigit()
                       and (child / "saved_model.pb").is_file()), key=lambda child: int(child.name))
    if not versions:
        raise CommittorKerasError(f"{path}: no saved_model.pb here nor in a numbered version subdirectory; "
                                  "give a SavedModel directory such as top/01/saved_model/1")
    return versions[-1]


def load_keras(path, card_path=None):
    """A predictor over a ``.keras`` file (loaded without its training configuration)."""
    import keras

    from committor_keras.model import _losses, _metrics  # noqa: F401  (register the package's Keras objects)

    try:
        model = keras.saving.load_model(path, compile=False)
    except ValueError as error:
        if "safe_mode" not in str(error):
            raise
        raise CommittorKerasError(f"{path}: holds a Lambda layer (Python code), which Keras' safe mode refuses to "
                                  "load; committor-keras never loads code from model files: re-export the model "
                                  "without Lambda layers") from None
    n_features = int(model.inputs[0].shape[1])
    return CommittorPredictor(lambda x: model(x, training=False), n_features, path, "keras", card_path)


def load_saved_model(path, card_path=None):
    """A predictor over a SavedModel's ``serving_default`` signature."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    if SERVING_SIGNATURE not in loaded.signatures:
        raise CommittorKerasError(f"{path}: SavedModel without a '{SERVING_SIGNATURE}' signature; export it "
                                  "with committor_keras.export.export_saved_model")
    n_features = int(loaded.signatures[SERVING_SIGNATURE].structured_input_signature[1][INPUT_NAME].shape[1])

    # Going through `loaded` keeps the restored variables alive as long as the predictor.
    def logit(x):
        return loaded.signatures[SERVING_SIGNATURE](**{INPUT_NAME: tf.constant(x)})["logit"]

    return CommittorPredictor(logit, n_features, path, "saved_model", card_path)
