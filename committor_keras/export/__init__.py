"""Export committor models for serving: SavedModel with TF Serving signatures, model cards, loading, checks."""

from committor_keras.export._card import build_card, read_card
from committor_keras.export._load import CommittorPredictor, load_committor_model
from committor_keras.export._package import export_model
from committor_keras.export._saved_model import export_saved_model
from committor_keras.export._serve_check import serve_check

__all__ = [
    "CommittorPredictor", "build_card", "export_model", "export_saved_model", "load_committor_model",
    "read_card", "serve_check",
]
