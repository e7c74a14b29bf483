"""Export: served SavedModel == Keras model, complete model cards, reloads, predict/serve-check, atomicity."""

import argparse
import json
import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from committor_keras._errors import CommittorKerasError, DataError  # noqa: E402
from committor_keras._provenance import sha256_file  # noqa: E402
from committor_keras.data import CommittorData, make_synthetic, split_indices  # noqa: E402
from committor_keras.export import (  # noqa: E402
    export_model, export_saved_model, load_committor_model, read_card, serve_check,
)
from committor_keras.export import _cli, _package  # noqa: E402


def _contract_model(train_features, seed, units=8):
    """A model following the contract: raw float32 (None, F) -> Normalization -> Dense -> logit (None, 1)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((train_features.shape[1],), dtype="float32")
    normalization = keras.layers.Normalization()
    normalization.adapt(train_features.astype(np.float32))
    hidden = keras.layers.Dense(units, activation="tanh")(normalization(inputs))
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    data = make_synthetic(240, n_relevant=2, n_decoys=2, shots_per_point=10, seed=5, angle_weight=1.0)
    data.metadata.update(system="test system", temperature_K=300.0,
                         feature_aliases={"angle": "theta"})
    data_path = root / "data.npz"
    data.save(data_path)
    data = type(data).load(data_path)
    split = split_indices(data, seed=0)
    model = _contract_model(data.features[split.train], seed=1)
    metrics = {"validation": {"kl_per_shot": 0.01}, "test": {"kl_per_shot": 0.02, "rmse_p_b": 0.1}}
    card = export_model(model, root / "top" / "01", data, train_indices=split.train,
                        split_sizes={"train": len(split.train), "validation": len(split.validation),
                                     "test": len(split.test)},
                        hyperparameters={"units": 8, "activation": "tanh"}, metrics=metrics, seed=11,
                        info={"rank": 1, "trial_id": "0003"})
    return {"root": root, "dir": root / "top" / "01", "data": data, "data_path": data_path, "model": model,
            "card": card, "split": split, "metrics": metrics}


def _probe_inputs(data, seed=0):
    """Random raw inputs around the data and far outside it (up to 1e4 standard deviations out)."""
    rng = np.random.default_rng(seed)
    mean, std = data.features.mean(axis=0), data.features.std(axis=0)
    blocks = [mean + scale * std * rng.standard_normal((20, data.n_features)) for scale in (0, 1, 10, 1e4)]
    return np.concatenate(blocks + [data.features]).astype(np.float32)


def test_serving_default_signature_matches_the_keras_model(exported):
    served = tf.saved_model.load(str(exported["dir"] / "saved_model" / "1"))
    signature = served.signatures["serving_default"]
    _, inputs = signature.structured_input_signature
    assert list(inputs) == ["features"]
    assert inputs["features"].dtype == tf.float32
    assert inputs["features"].shape.as_list() == [None, exported["data"].n_features]
    assert set(signature.structured_outputs) == {"committor", "logit"}
    assert "logit" in served.signatures

    x = _probe_inputs(exported["data"])
    out = signature(features=tf.constant(x))
    z = np.asarray(exported["model"](x, training=False))
    assert out["logit"].shape == (len(x), 1) and out["committor"].shape == (len(x), 1)
    np.testing.assert_allclose(out["logit"].numpy(), z, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["committor"].numpy(), 1 / (1 + np.exp(-z.astype(np.float64))), atol=1e-6)
    np.testing.assert_allclose(served.signatures["logit"](features=tf.constant(x))["logit"].numpy(), z,
                               rtol=1e-6, atol=1e-6)


def test_gradient_signature_matches_finite_differences(exported):
    """dz/dx and dq/dx served by the `gradient` signature agree with central differences of the Keras model."""
    served = tf.saved_model.load(str(exported["dir"] / "saved_model" / "1"))
    data, model = exported["data"], exported["model"]
    x = data.features[:12].astype(np.float64)
    out = served.signatures["gradient"](features=tf.constant(x, tf.float32))
    assert set(out) == {"committor", "logit", "dlogit_dx", "dcommittor_dx"}
    assert out["dlogit_dx"].shape == out["dcommittor_dx"].shape == (12, data.n_features)

    def logit(points):
        return np.asarray(model(points.astype(np.float32), training=False), np.float64).reshape(-1)

    step = 1e-2 * data.features.std(axis=0)
    for j in range(data.n_features):
        shift = np.zeros(data.n_features)
        shift[j] = step[j]
        dz = (logit(x + shift) - logit(x - shift)) / (2 * step[j])
        dq = (1 / (1 + np.exp(-logit(x + shift))) - 1 / (1 + np.exp(-logit(x - shift)))) / (2 * step[j])
        np.testing.assert_allclose(out["dlogit_dx"].numpy()[:, j], dz, rtol=2e-2, atol=2e-3)
        np.testing.assert_allclose(out["dcommittor_dx"].numpy()[:, j], dq, rtol=2e-2, atol=5e-4)
    assert exported["card"]["signatures"]["gradient"]["outputs"]["dcommittor_dx"]["shape"] == [None, data.n_features]
    dz, dq = load_committor_model(exported["dir"]).gradient(x)
    np.testing.assert_allclose(dz, out["dlogit_dx"].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dq, out["dcommittor_dx"].numpy(), rtol=1e-5, atol=1e-6)


def test_keras_file_reloads_to_identical_predictions(exported):
    x = _probe_inputs(exported["data"], seed=1)
    reloaded = keras.saving.load_model(exported["dir"] / "model.keras", compile=False)
    np.testing.assert_array_equal(np.asarray(reloaded(x, training=False)),
                                  np.asarray(exported["model"](x, training=False)))


@pytest.mark.parametrize("relative", ["", "model.keras", "saved_model", "saved_model/1"])
def test_every_model_path_loads_to_the_same_committor(exported, relative):
    predictor = load_committor_model(exported["dir"] / relative if relative else exported["dir"])
    data = exported["data"]
    assert predictor.feature_names == data.feature_names
    assert predictor.card_path == exported["dir"] / "card.json"
    z = np.asarray(exported["model"](data.features.astype(np.float32), training=False)).ravel()
    np.testing.assert_allclose(predictor.predict_logit(data), z, rtol=1e-6, atol=1e-6)
    q = predictor.predict_committor(data.features)
    assert q.shape == (len(data),) and np.all((q >= 0) & (q <= 1))
    np.testing.assert_allclose(q, 1 / (1 + np.exp(-z)), atol=1e-6)


def test_card_is_complete_and_matches_the_data(exported):
    card, data = read_card(exported["dir"]), exported["data"]
    assert card == json.loads(json.dumps(exported["card"]))
    for key in ("format", "card_version", "created", "model", "system", "temperature_K", "states", "features",
                "signatures", "hyperparameters", "metrics", "data", "seed", "versions", "serving"):
        assert key in card, key
    features = card["features"]
    assert features["names"] == list(data.feature_names) and features["count"] == data.n_features
    assert features["units"] == data.metadata["units"]
    assert features["groups"] == data.metadata["feature_groups"]
    assert features["aliases"] == {"angle": "theta"}
    assert card["system"] == "test system" and card["temperature_K"] == 300.0
    assert card["states"] == data.metadata["states"]
    train = data.features[exported["split"].train]
    np.testing.assert_allclose(features["training_statistics"]["mean"], train.mean(axis=0))
    np.testing.assert_allclose(features["training_statistics"]["max"], train.max(axis=0))
    assert features["training_statistics"]["points"] == len(train)
    assert card["hyperparameters"] == {"units": 8, "activation": "tanh"}
    assert card["metrics"] == exported["metrics"]
    assert card["data"]["sha256"] == sha256_file(exported["data_path"])
    assert card["data"]["content_sha256"] == data.content_sha256()
    # Relative to the model directory (top/01), so the card still finds its data after the run moves.
    assert card["data"]["source"] == "../../data.npz" and card["data"]["points"] == len(data)
    assert card["seed"] == 11 and card["model"]["rank"] == 1 and card["model"]["trial_id"] == "0003"
    assert {"keras", "numpy", "python"} <= set(card["versions"])
    assert any(name.startswith("tensorflow") for name in card["versions"])
    assert card["signatures"]["serving_default"]["inputs"]["features"]["shape"] == [None, data.n_features]
    assert set(card["signatures"]["serving_default"]["outputs"]) == {"committor", "logit"}


def test_card_serving_example_is_a_working_request(exported):
    """The REST request on the card, fed to the served signature, gives the response the card promises."""
    card = read_card(exported["dir"])
    serving = card["serving"]
    served = tf.saved_model.load(str(exported["dir"] / card["model"]["files"]["saved_model"]))
    request = serving["rest_request"]
    out = served.signatures[request["signature_name"]](
        **{name: tf.constant(value, tf.float32) for name, value in request["inputs"].items()})
    for name, expected in serving["expected_response"]["outputs"].items():
        np.testing.assert_allclose(out[name].numpy(), expected, rtol=1e-5, atol=1e-6)
    assert "MODEL_NAME=committor" in serving["docker"] and serving["rest_url"].endswith("/committor:predict")


def test_predictor_matches_columns_by_name(exported):
    data, predictor = exported["data"], load_committor_model(exported["dir"])
    order = np.arange(data.n_features)[::-1]
    shuffled = CommittorData(data.features[:, order], [data.feature_names[i] for i in order],
                             n_a=data.n_a, n_b=data.n_b, source="shuffled.npz")
    np.testing.assert_allclose(predictor.predict_committor(shuffled), predictor.predict_committor(data))


def test_predictor_picks_dataframe_columns_by_name_and_names_a_missing_one(exported):
    import pandas as pd

    data, predictor = exported["data"], load_committor_model(exported["dir"])
    frame = pd.DataFrame(data.features, columns=list(data.feature_names)).assign(p_b=data.p_b)
    expected = predictor.predict_committor(data.features)
    # Reordered columns once went in by position and gave the wrong committor.
    np.testing.assert_allclose(predictor.predict_committor(frame[list(data.feature_names)[::-1]]), expected)
    reordered = frame[["p_b"] + list(data.feature_names)[::-1]]
    np.testing.assert_allclose(predictor.predict_committor(reordered), expected)
    for model in (predictor, load_committor_model(exported["dir"] / "saved_model")):
        with pytest.raises(DataError, match=f"field '{data.feature_names[1]}'.*missing"):
            model.predict_committor(reordered.drop(columns=data.feature_names[1]))


def test_wrong_feature_names_raise_a_data_error_naming_them(exported):
    data, predictor = exported["data"], load_committor_model(exported["dir"])
    names = list(data.feature_names)
    names[0] = "x_renamed"
    wrong = CommittorData(data.features, names, n_a=data.n_a, n_b=data.n_b, source="wrong.npz")
    with pytest.raises(DataError) as error:
        predictor.predict_committor(wrong)
    message = str(error.value)
    assert "wrong.npz" in message and "feature_names" in message
    assert "'x1'" in message and "'x_renamed'" in message and "card.json" in message
    with pytest.raises(DataError, match="takes"):
        predictor.predict_logit(np.zeros((3, data.n_features + 1)))


def _run_cli(argv):
    parser = argparse.ArgumentParser()
    _cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_predict_cli_writes_committor_logit_and_p_b(exported, tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "q.csv"
    assert _run_cli(["predict", str(exported["dir"]), str(exported["data_path"]), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    data = exported["data"]
    assert list(table.columns) == ["index", "committor", "logit", "p_b"]
    np.testing.assert_array_equal(table["index"], np.arange(len(data)))
    np.testing.assert_allclose(table["p_b"], data.p_b, rtol=1e-8)
    np.testing.assert_allclose(table["committor"], load_committor_model(exported["dir"]).predict_committor(data),
                               rtol=1e-6, atol=1e-8)

    # Unlabelled CSV, printed to standard output: no p_b column.
    unlabelled = tmp_path / "new.csv"
    pd.DataFrame(data.features[:5], columns=data.feature_names).to_csv(unlabelled, index=False)
    capsys.readouterr()
    assert _run_cli(["predict", str(exported["dir"] / "saved_model"), str(unlabelled)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "index,committor,logit" and len(printed) == 6


def test_predict_cli_refuses_data_with_other_features(exported, tmp_path):
    data = exported["data"]
    other = CommittorData(data.features[:, 1:], data.feature_names[1:], n_a=data.n_a, n_b=data.n_b)
    path = tmp_path / "other.npz"
    other.save(path)
    with pytest.raises(DataError, match=r"other\.npz.*missing \['x1'\]"):
        _run_cli(["predict", str(exported["dir"]), str(path)])


def test_serve_check_passes_and_catches_a_mismatched_saved_model(exported, tmp_path, capsys):
    result = serve_check(exported["dir"])
    assert result["ok"] and result["max_abs_diff_committor"] <= 1e-6 and result["max_rel_diff_gradient"] <= 1e-5
    assert str(exported["data_path"]) in result["inputs"]   # the card's data file is used when unchanged
    assert _run_cli(["serve-check", str(exported["dir"])]) == 0
    assert "OK" in capsys.readouterr().out

    # A directory whose SavedModel comes from another model must fail.
    import shutil

    tampered = tmp_path / "tampered"
    shutil.copytree(exported["dir"], tampered)
    other = _contract_model(exported["data"].features, seed=2)
    export_saved_model(other, tampered / "saved_model" / "1")
    assert _run_cli(["serve-check", str(tampered), "--data", str(exported["data_path"])]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_loading_nothing_is_a_user_error(tmp_path):
    with pytest.raises(CommittorKerasError, match="no such file"):
        load_committor_model(tmp_path / "missing")
    with pytest.raises(CommittorKerasError, match="saved_model.pb"):
        load_committor_model(tmp_path)


def _hidden_leftovers(directory):
    return [name for name in os.listdir(directory) if name.startswith(".")]


def test_interrupted_export_leaves_no_half_written_directory(exported, tmp_path, monkeypatch):
    data, model = exported["data"], exported["model"]

    def crash(model, path, **kwargs):
        path.mkdir(parents=True)
        (path / "saved_model.pb").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(_package, "export_saved_model", crash)
    with pytest.raises(KeyboardInterrupt):
        export_model(model, tmp_path / "top" / "01", data)
    assert os.listdir(tmp_path / "top") == []

    # Re-exporting over a complete directory and failing keeps the complete one untouched.
    monkeypatch.undo()
    target = tmp_path / "top" / "02"
    export_model(model, target, data, seed=1)
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    monkeypatch.setattr(_package, "export_saved_model", crash)
    with pytest.raises(KeyboardInterrupt):
        export_model(model, target, data, seed=2)
    assert {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()} == before
    assert _hidden_leftovers(tmp_path / "top") == []


def test_export_replaces_an_existing_directory_whole(exported, tmp_path):
    target = tmp_path / "01"
    target.mkdir()
    (target / "stale.txt").write_text("from an earlier run")
    export_model(exported["model"], target, exported["data"], seed=3)
    assert sorted(p.name for p in target.iterdir()) == ["card.json", "model.keras", "saved_model"]
    assert read_card(target)["seed"] == 3
    assert _hidden_leftovers(tmp_path) == []
    assert os.stat(target).st_mode & 0o055   # readable by a serving container's user, not 0700
