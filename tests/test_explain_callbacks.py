"""Explanation callbacks: files written at the end of training and every n epochs, TensorBoard summaries,
numbered directories per fit, and use inside a Keras Tuner search."""

import copy
import json

import keras_tuner
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from committor_keras._errors import DataError
from committor_keras.data import labels, make_synthetic, split_indices
from committor_keras.explain import IntegratedGradientsCallback, PermutationImportanceCallback
from committor_keras.model import build_model, fit_model

HPARAMS = {"hidden_layers": 1, "units_0": 8, "activation": "tanh", "learning_rate": 1e-2, "batch_size": 128}


@pytest.fixture(scope="module")
def sets():
    data = make_synthetic(n_points=1200, n_relevant=2, n_decoys=2, shots_per_point=10, seed=8, angle_weight=1.5)
    data.metadata["feature_aliases"] = {"angle": "phi"}
    split = split_indices(data, seed=0)
    y = labels(data)
    return (data, (data.features[split.train], y[split.train], None),
            (data.features[split.validation], y[split.validation], None), data.subset(split.test))


def test_callbacks_write_reports_and_summaries(sets, tmp_path):
    data, train, validation, test = sets
    out, logs = tmp_path / "top" / "01" / "xai", tmp_path / "logs"
    callbacks = [IntegratedGradientsCallback(test, out, every_n_epochs=2, log_dir=logs),
                 PermutationImportanceCallback(test, out, repeats=3, log_dir=logs)]
    model = build_model(HPARAMS, train[0], seed=0)
    fit_model(model, HPARAMS, train, validation, epochs=3, patience=3, callbacks=callbacks)
    for name in ("ig.csv", "ig.json", "ig_importance.png", "ig_scatter.png", "permutation.csv",
                 "permutation.json", "permutation_importance.png", "epoch-0002/ig.csv"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "ig.csv")
    assert set(table["region"]) <= {"all", "transition"} and "all" in set(table["region"])
    overall = table[table["region"] == "all"]
    assert sorted(overall["label"]) == ["d1", "d2", "phi", "x1", "x2"]
    assert sorted(overall["rank"]) == [1, 2, 3, 4, 5]
    record = json.loads((out / "permutation.json").read_text())
    assert record["method"] == "permutation" and record["info"]["repeats"] == 3
    assert {"ci_low", "ci_high", "importance", "rank", "label"} <= set(record["table"][0])
    tags = {value.tag for path in logs.glob("events.out.tfevents.*")
            for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value}
    assert {"xai/ig/all/phi", "xai/permutation/all/x1", "xai/ig_attribution/phi"} <= tags
    # The callbacks keep their tables for the caller.
    assert callbacks[0].tables is not None and len(callbacks[1].tables) >= 5


def test_fit_placeholder_numbers_each_fit(sets, tmp_path):
    data, train, validation, test = sets
    template = [IntegratedGradientsCallback(test, tmp_path / "xai-{fit}", figures=False, regions=("all",)),
                PermutationImportanceCallback(test, tmp_path / "xai-{fit}", repeats=2, figures=False,
                                              regions=("all",))]
    for seed in range(2):
        model = build_model(HPARAMS, train[0], seed=seed)
        model.fit(train[0], train[1], epochs=1, verbose=0, callbacks=copy.deepcopy(template))
    for number in ("001", "002"):
        assert (tmp_path / f"xai-{number}" / "ig.csv").is_file()
        assert (tmp_path / f"xai-{number}" / "permutation.csv").is_file()
    assert not (tmp_path / "xai-003").exists()


def test_callbacks_work_inside_a_keras_tuner_search(sets, tmp_path):
    data, train, validation, test = sets

    def build(hp):
        return build_model({**HPARAMS, "units_0": hp.Choice("units_0", [4, 8])}, train[0], seed=0)

    tuner = keras_tuner.RandomSearch(build, objective="val_loss", max_trials=2, seed=0, directory=tmp_path,
                                     project_name="search")
    tuner.search(train[0], train[1], validation_data=validation[:2], epochs=1, verbose=0,
                 callbacks=[IntegratedGradientsCallback(test, tmp_path / "trials" / "{fit}", steps=8,
                                                        regions=("all",), figures=False)])
    written = sorted(p.parent.name for p in (tmp_path / "trials").glob("*/ig.csv"))
    assert written == ["001", "002"]


def test_permutation_callback_needs_labels(tmp_path):
    with pytest.raises(DataError, match="shot counts"):
        PermutationImportanceCallback(np.zeros((4, 2)), tmp_path)
