"""Committor data sets: the `CommittorData` type, file I/O, splits and synthetic known-answer sets."""

from committor_keras.data._dataset import CommittorData, labels
from committor_keras.data._external import data_from_frame, join_shots, read_colvar, read_shot_table
from committor_keras.data._io import FeatureTable, load, load_features, save
from committor_keras.data._split import Split, kfold_indices, split_indices
from committor_keras.data._synthetic import make_synthetic

__all__ = ["CommittorData", "FeatureTable", "Split", "data_from_frame", "join_shots", "kfold_indices", "labels",
           "load", "load_features", "make_synthetic", "read_colvar", "read_shot_table", "save", "split_indices"]
