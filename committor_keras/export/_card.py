"""The model card: a JSON record that says what a model takes, what it returns, how good it is and where it came from.

Everything a user needs to call or serve the model without this package: the input feature names in order,
their units and groups, the state definitions, the served signatures and a TF Serving request that works.
"""

import datetime
import json
from pathlib import Path

import numpy as np

from committor_keras._errors import CommittorKerasError
from committor_keras._provenance import library_versions, sha256_file
from committor_keras.export._saved_model import (
    INPUT_NAME, SERVING_SIGNATURE, model_n_features, signature_description,
)

CARD_FILE = "card.json"
KERAS_FILE = "model.keras"
SAVED_MODEL_DIR = "saved_model"
SAVED_MODEL_VERSION = "1"
CARD_FORMAT = "committor-keras model card"
CARD_VERSION = 1
SERVED_MODEL_NAME = "committor"


def build_card(model, data, *, train_indices=None, split_sizes=None, hyperparameters=None, metrics=None,
               seed=None, data_sha256=None, info=None, spread=False):
    """The model card of ``model`` trained on ``data``.

    Args:
        model: the committor model (raw features -> logit).
        data: the full `CommittorData` the model was trained from (names, metadata, source).
        train_indices: the training split (its feature statistics go on the card); all points if ``None``.
        split_sizes: optional {"train": n, "validation": n, "test": n}.
        hyperparameters: the hyperparameters the model was built and trained with.
        metrics: {"validation": {...}, "test": {...}} (or any JSON-ready dict of metrics).
        seed: the seed of its training.
        data_sha256: sha256 of the data file; computed from ``data.source`` when that is a file.
        info: extra facts about the model (rank, trial id, search seed, best epoch, ...).
        spread: the SavedModel also serves an ensemble's ``logit_std`` and ``committor_std``.

    Returns:
        dict, JSON-serialisable.
    """
    n_features = model_n_features(model)
    if n_features != data.n_features:
        raise ValueError(f"the model takes {n_features} features but the data has {data.n_features}")
    metadata = data.metadata
    names = list(data.feature_names)
    train = data.features if train_indices is None else data.features[np.asarray(train_indices)]
    # Rounded so the request on the card is short; TF Serving reads the JSON numbers as float32, like this.
    example = np.round(train.mean(axis=0), 6)[None, :]
    example_logit = float(np.asarray(model(example.astype(np.float32), training=False)).ravel()[0])
    if data_sha256 is None and Path(data.source).is_file():
        data_sha256 = sha256_file(data.source)
    return {
        "format": CARD_FORMAT,
        "card_version": CARD_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": {
            **(info or {}),
            "output": "logit z; committor q = sigmoid(z), the probability to reach state B before state A",
            "inputs": "raw features in the order of features.names (normalisation is inside the model)",
            "files": {"keras": KERAS_FILE, "saved_model": f"{SAVED_MODEL_DIR}/{SAVED_MODEL_VERSION}"},
        },
        "system": metadata.get("system"),
        "temperature_K": metadata.get("temperature_K"),
        "states": metadata.get("states"),
        "features": {
            "names": names,
            "count": n_features,
            "units": {name: unit for name, unit in metadata.get("units", {}).items() if name in names},
            "groups": metadata.get("feature_groups", {}),
            "aliases": metadata.get("feature_aliases", {}),
            "training_statistics": {
                "points": len(train),
                "mean": train.mean(axis=0).tolist(),
                "std": train.std(axis=0).tolist(),
                "min": train.min(axis=0).tolist(),
                "max": train.max(axis=0).tolist(),
            },
        },
        "signatures": signature_description(n_features, spread=spread),
        "hyperparameters": hyperparameters or {},
        "metrics": metrics or {},
        "data": {
            "source": data.source,
            "sha256": data_sha256,
            "content_sha256": data.content_sha256(),
            "points": len(data),
            "split": split_sizes,
            "provenance": metadata.get("provenance"),
        },
        "seed": seed,
        "versions": library_versions(),
        "serving": _serving(example, example_logit),
    }


def _serving(example, example_logit):
    url = f"http://localhost:8501/v1/models/{SERVED_MODEL_NAME}:predict"
    request = {"signature_name": SERVING_SIGNATURE, "inputs": {INPUT_NAME: example.tolist()}}
    return {
        "signature": SERVING_SIGNATURE,
        "docker": (f'docker run --rm -p 8501:8501 -v "$PWD/{SAVED_MODEL_DIR}:/models/{SERVED_MODEL_NAME}" '
                   f"-e MODEL_NAME={SERVED_MODEL_NAME} tensorflow/serving"),
        "rest_url": url,
        "rest_request": request,
        "curl": f"curl -s -X POST {url} -d '{json.dumps(request)}'",
        "expected_response": {"outputs": {"committor": [[float(1 / (1 + np.exp(-example_logit)))]],
                                          "logit": [[example_logit]]}},
        "note": "the example input is the mean training point; send raw features in the order of features.names",
    }


def read_card(path):
    """Read and check a model card.

    Args:
        path: ``card.json`` or the directory holding it.

    Returns:
        dict.

    Raises:
        CommittorKerasError: the file is missing, not JSON, or not a committor-keras card.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CARD_FILE
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError:
        raise CommittorKerasError(f"{path}: no model card; give a top/NN directory written by "
                                  "`committor-keras tune` or committor_keras.export.export_model") from None
    except json.JSONDecodeError as error:
        raise CommittorKerasError(f"{path}: not valid JSON ({error}); re-export the model") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise CommittorKerasError(f"{path}: not a committor-keras model card (no format "
                                  f"'{CARD_FORMAT}'); re-export the model")
    return card
