"""data/alanine_dipeptide_water_channels/package.py (the water channels' finish step) on tiny inputs: no MD."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from committor_keras.data import make_synthetic
from committor_keras.md import Window, init, water_preset

PACKAGE = Path(__file__).resolve().parents[1] / "data" / "alanine_dipeptide_water_channels" / "package.py"


@pytest.fixture(scope="module")
def package():
    spec = importlib.util.spec_from_file_location("water_channels_package", PACKAGE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _part(phi_deg, psi_deg, windows, seed):
    """A data set with sin/cos(phi) and sin/cos(psi) features and extras["window"]."""
    data = make_synthetic(n_points=len(psi_deg), n_decoys=0, seed=seed, angle_weight=1.0)
    columns = list(data.feature_names)
    data.features[:, columns.index("sin(angle)")] = np.sin(np.radians(psi_deg))
    data.features[:, columns.index("cos(angle)")] = np.cos(np.radians(psi_deg))
    data = type(data)(np.column_stack([data.features, np.sin(np.radians(phi_deg)), np.cos(np.radians(phi_deg))]),
                      [*columns, "sin(phi)", "cos(phi)"], n_a=data.n_a, n_b=data.n_b,
                      metadata={**data.metadata, "feature_aliases": {"angle": "psi", "phi": "phi"}})
    data.extras["window"] = np.asarray(windows, float)
    return data


def test_combined_set_keeps_part_codes_and_window_numbers_whatever_is_present(package):
    shipped = _part([0.0, 5.0, -80.0], [-80.0, -90.0, 150.0], [0, 1, 2], seed=1)
    bridge = _part([-10.0, -4.0, 2.0, 0.0], [50.0, 70.0, 20.0, 120.0], [0, 4, 1, 4], seed=2)
    # the channels part (code 1, 21 windows) has no data yet: the bridge part still gets code 2 and
    # windows after the shipped 11 + channels 21
    joined = package.combine([(0, "shipped", shipped, 11), (1, "channels", None, 21), (2, "bridge", bridge, 13)])
    assert joined.extras["part"].tolist() == [0, 0, 0, 2, 2, 2, 2]
    assert joined.extras["window"].tolist() == [0, 1, 2, 32, 36, 33, 36]
    assert joined.metadata["parts"] == {"0": "shipped", "2": "bridge"}
    assert joined.metadata["window_offsets"] == {"0": 0, "2": 32}
    names = {int(k): v["name"] for k, v in joined.metadata["channels"]["codes"].items()}
    assert [names.get(c, "basin") for c in joined.extras["channel"].astype(int)] == \
        ["alphaR", "alphaR", "basin", "bridge", "bridge", "bridge", "beta"]
    np.testing.assert_array_equal(joined.n_b, np.concatenate([shipped.n_b, bridge.n_b]))
    channels = _part([1.0, 2.0, 3.0], [130.0, 140.0, 150.0], [20, 3, 20], seed=3)
    full = package.combine([(0, "shipped", shipped, 11), (1, "channels", channels, 21), (2, "bridge", bridge, 13)])
    assert full.extras["part"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert full.extras["window"].tolist() == [0, 1, 2, 31, 14, 31, 32, 36, 33, 36]


def _shots(path, records):
    path.mkdir(exist_ok=True)
    with open(path / "shots.jsonl", "w") as handle:
        for config, first, b in records:
            stop = 20 if first == 0 else 60
            to = ["B"] * b + ["A"] * (stop - first - b)
            handle.write(json.dumps({"config": config, "first_shot": first, "stop_shot": stop, "to": to,
                                     "steps": [50] * len(to), "seconds": 1.0}) + "\n")


def test_progress_counts_sampled_shot_in_range_final_and_topped_up_per_channel(package, tmp_path):
    windows = (Window(-6.0, 2000.0, 3, psi0=50.0, k_psi=100.0), Window(4.0, 2000.0, 2, psi0=120.0, k_psi=100.0))
    init(tmp_path, water_preset(seed=1).replace(windows=windows))
    # sampling still running: window 0 done (one configuration drifted to psi -40: alphaR), window 1 not
    (tmp_path / "configurations").mkdir()
    (tmp_path / "configurations" / "window-00.json").write_text(json.dumps(
        {"window": 0, "n": 3, "phi": [-6.0, -5.0, -7.0], "psi": [55.0, 60.0, -40.0]}))
    rows = package.progress(tmp_path)
    assert rows[1]["sampled"] == 2 and rows[1]["expected"] == 2 and rows[1]["shot"] == 0
    assert rows[0]["sampled"] == 1
    assert rows[2]["sampled"] == 0 and rows[2]["expected"] == 2  # window 1 counted at its centre
    # sampled and partly shot: config 0 in range and topped up; 1 all A; 3 in range, top-up pending
    (tmp_path / "configurations.json").write_text(json.dumps({"n_configurations": 5, "per_configuration": {
        "window": [0, 0, 0, 1, 1], "phi": [-6.0, -5.0, -7.0, 4.0, 3.0], "psi": [55.0, 60.0, -40.0, 118.0, 125.0]}}))
    _shots(tmp_path / "shots", [(0, 0, 10), (0, 20, 20), (1, 0, 0), (3, 0, 5)])
    rows = package.progress(tmp_path)
    # the final count leaves out configuration 3: in range on its first shots, its top-up not fired yet
    assert rows[1] == {"expected": 2, "sampled": 2, "shot": 2, "in_range": 1, "final_in_range": 1,
                       "topup_needed": 1, "topped_up": 1}
    assert rows[2] == {"expected": 2, "sampled": 2, "shot": 1, "in_range": 1, "final_in_range": 0,
                       "topup_needed": 1, "topped_up": 0}
    assert rows[0]["shot"] == 0
    table = "\n".join(package.progress_table([(2, tmp_path)]))
    assert "| **bridge, all parts** | | 2 | 2 | 2 | **1** (target 400) | 1 | 1 of 1 | ~1 |" in table
    assert f"| beta | 2 `{tmp_path.name}` | 2 | 2 | 1 | 1 | 0 | 0 of 1 | ~2 |" in table


def test_selection_stops_new_configurations_of_a_channel_once_its_final_count_reaches_the_target(
        package, tmp_path, monkeypatch):
    windows = (Window(-6.0, 2000.0, 2, psi0=50.0, k_psi=100.0), Window(4.0, 2000.0, 2, psi0=120.0, k_psi=100.0),
               Window(-75.0, 2000.0, 1, psi0=150.0, k_psi=100.0))
    init(tmp_path, water_preset(seed=1).replace(windows=windows))
    (tmp_path / "configurations.json").write_text(json.dumps({"n_configurations": 5, "per_configuration": {
        "window": [0, 0, 1, 1, 2], "phi": [-6.0, -5.0, 4.0, 3.0, -75.0], "psi": [55.0, 60.0, 118.0, 125.0, 150.0]}}))
    monkeypatch.setattr(package, "PARTS", ((2, tmp_path),))
    monkeypatch.setattr(package, "TARGET_IN_RANGE", 1)
    assert package.select(tmp_path, [0, 1, 2]) == ["--windows", "0-2"]
    # bridge configuration 0 in range with its top-up fired (final); beta configuration 2 in range but
    # its top-up still pending: only the bridge channel has reached the target
    _shots(tmp_path / "shots", [(0, 0, 10), (0, 20, 20), (2, 0, 10)])
    assert package.select(tmp_path, [0, 1, 2]) == ["--windows", "1-2"]
    assert package.select(tmp_path, [0, 2]) == ["--finish-started"]
    _shots(tmp_path / "shots", [(0, 0, 10), (0, 20, 20), (2, 0, 10), (2, 20, 20)])
    assert package.select(tmp_path, [0, 1, 2]) == ["--finish-started"]


def test_readme_during_sampling_says_how_many_windows_are_done(tmp_path):
    from committor_keras.md import write_readme

    init(tmp_path, water_preset(seed=1).replace(windows=(Window(-6.0, 2000.0, 3, psi0=50.0, k_psi=100.0),
                                                         Window(4.0, 2000.0, 2))))
    (tmp_path / "configurations").mkdir()
    (tmp_path / "configurations" / "window-00.json").write_text("{}")
    text = write_readme(tmp_path, "t", ["cmd"]).read_text()
    assert "**Status: in progress: sampling** (windows done 1/2); no shots yet." in text
    assert "of ? configurations" not in text


def _script(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_water_transfer_reads_the_best_water_candidate_and_averages_over_seeds():
    transfer = _script("water_transfer", PACKAGE.parents[1] / "tools" / "water_transfer.py")
    hparams = transfer.best_hparams()
    assert {"hidden_layers", "units_0", "activation", "dropout", "l2", "learning_rate", "batch_size",
            "loss"} <= set(hparams)
    assert isinstance(hparams["hidden_layers"], int) and isinstance(hparams["batch_size"], int)
    assert all(f"units_{i}" in hparams for i in range(hparams["hidden_layers"]))
    rows = [{"model": "network", "seed": s, "train": "a", "test": "b", "n_train": 10, "n_test": 2,
             "shots_test": 40, "kl_per_shot": kl, "rmse": 0.1} for s, kl in ((0, 0.1), (1, 0.3))]
    (summary,) = transfer.summarise(rows)
    assert summary["seeds"] == 2 and summary["kl_per_shot_mean"] == pytest.approx(0.2)
    assert summary["kl_per_shot_sd"] == pytest.approx(np.std([0.1, 0.3], ddof=1))
    predict = transfer.constant_fit(type("D", (), {"n_a": np.array([3.0, 1.0]), "n_b": np.array([1.0, 3.0])})())
    assert predict(np.zeros((3, 2))).tolist() == [0.5, 0.5, 0.5]
