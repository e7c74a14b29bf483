"""One exported model directory: ``model.keras``, ``saved_model/1/`` (TF Serving layout) and ``card.json``."""

from pathlib import Path

from committor_keras._paths import relative_to
from committor_keras._provenance import atomic_directory, write_json_atomic
from committor_keras.export._card import (
    CARD_FILE, KERAS_FILE, SAVED_MODEL_DIR, SAVED_MODEL_VERSION, build_card,
)
from committor_keras.export._saved_model import export_saved_model


def export_model(model, out_dir, data, members=None, **card_fields):
    """Export ``model`` with its card into ``out_dir``, atomically.

    The directory is assembled beside ``out_dir`` and renamed onto it at the end, so an interrupted export
    leaves no half-written model; an existing ``out_dir`` is replaced as a whole. The card names the data
    file relative to ``out_dir`` (with its sha256).

    Args:
        model: a committor model (raw float32 features (None, F) -> logit (None, 1)).
        out_dir: the directory to write, e.g. ``RUN/top/01``.
        data: the full `CommittorData` the model was trained from.
        members: an ensemble's member models (see :func:`export_saved_model`): the SavedModel also serves
            their spread.
        **card_fields: passed to :func:`build_card` (train_indices, split_sizes, hyperparameters, metrics,
            seed, data_sha256, info).

    Returns:
        dict, the model card written to ``out_dir/card.json``.
    """
    card = build_card(model, data, spread=bool(members), **card_fields)
    if Path(data.source).is_file():
        # Relative to the model directory, so the card still finds its data after the run directory moves.
        card["data"]["source"] = relative_to(data.source, out_dir)
    with atomic_directory(out_dir) as tmp:
        model.save(tmp / KERAS_FILE)
        export_saved_model(model, tmp / SAVED_MODEL_DIR / SAVED_MODEL_VERSION, members=members)
        write_json_atomic(tmp / CARD_FILE, card)
    return card
