"""Reading a run directory for explanation: its data (checked against the content sha256 that ``tune`` records
in ``run.json``), the test split and the top-k models (``top/NN/model.keras`` + ``card.json``)."""

import dataclasses
import json
from pathlib import Path

import numpy as np

from committor_keras._errors import CommittorKerasError, DataError
from committor_keras._paths import find_recorded

RUN_FILE = "run.json"
SPLIT_FILE = "split.npz"
TOP_DIR = "top"
MODEL_FILE = "model.keras"
CARD_FILE = "card.json"


@dataclasses.dataclass
class RunModels:
    """What the explainers need from one run directory.

    Attributes:
        run_dir: the run directory.
        data: the full ``CommittorData`` of the run.
        test: int64 indices of the test split.
        models: [(model id such as ``"01"``, path of ``model.keras``, card dict or None)], in rank order.
    """

    run_dir: Path
    data: object
    test: np.ndarray
    models: list


def read_run(run_dir, data_path=None):
    """Locate and check a run's data, test split and models.

    Args:
        run_dir: a directory written by ``committor-keras tune``.
        data_path: data file to use instead of the one named in ``run.json`` (same content required).

    Returns:
        A ``RunModels``.

    Raises:
        CommittorKerasError: a missing file, or a data file that is not the one the run was made from.
    """
    from committor_keras.data import Split, load

    run_dir = Path(run_dir)
    run_file = run_dir / RUN_FILE
    if not run_file.is_file():
        raise CommittorKerasError(f"{run_file}: missing; give a run directory written by `committor-keras tune`")
    record = json.loads(run_file.read_text())
    path = Path(data_path) if data_path is not None else _locate(record.get("config", {}).get("data"), run_dir,
                                                                 run_file)
    data = load(path)
    recorded = record.get("data_sha256")
    if recorded and data.content_sha256() != recorded:
        raise DataError(path, "data_sha256", f"the content differs from the data recorded in {run_file}: the "
                                             "data changed since the run; pass the file the run was made from")

    split_file = run_dir / SPLIT_FILE
    if not split_file.is_file():
        raise CommittorKerasError(f"{split_file}: missing; the run has no recorded split (re-run the search)")
    test = Split.load(split_file).test
    # Hidden entries are half-written or retired exports (atomic directory replacement), never models.
    models = [(entry.name, entry / MODEL_FILE, _card(entry)) for entry in sorted((run_dir / TOP_DIR).glob("*"))
              if not entry.name.startswith(".") and (entry / MODEL_FILE).is_file()]
    if not models:
        raise CommittorKerasError(f"{run_dir / TOP_DIR}: no top/NN/{MODEL_FILE}; run the top-k retraining first")
    return RunModels(run_dir, data, test, models)


def _locate(recorded, run_dir, run_file):
    if not recorded:
        raise CommittorKerasError(f"{run_file}: no data path recorded; pass the data file explicitly (--data)")
    path, _ = find_recorded(recorded, run_dir)
    if path is not None:
        return path
    raise DataError(recorded, "file", f"the data file named in {run_file} is not there; pass it with --data")


def _card(directory):
    path = directory / CARD_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def load_keras_model(path):
    """Load a ``model.keras`` for inference (not compiled: explanations need no optimizer or loss)."""
    import keras

    return keras.saving.load_model(path, compile=False)


def check_model_features(card, data, model_path):
    """Raise unless the model's card (when present) names the data's features in the data's order."""
    names = (card or {}).get("features", {}).get("names")
    if names and list(names) != list(data.feature_names):
        raise DataError(data.source, "feature_names", f"the model {model_path} was trained on features {names}, "
                                                      f"the data has {list(data.feature_names)}; explain it with "
                                                      "the data it was trained on")
