"""Top-k retraining: selection by validation KL, reproducible retraining, one test evaluation, exports."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorflow")

from committor_keras._errors import CommittorKerasError  # noqa: E402
from committor_keras.data import labels, make_synthetic, split_indices  # noqa: E402
from committor_keras.export import load_committor_model, read_card  # noqa: E402
from committor_keras.model import committor_rmse, cross_entropy_per_shot, kl_per_shot  # noqa: E402
from committor_keras.validate import calibration_table  # noqa: E402
from committor_keras.search import read_trials, select_top_k  # noqa: E402
from committor_keras.study import retrain_top_k  # noqa: E402

CONFIG = {"search": {"epochs": 4, "patience": 2}}


def _trial(search_seed, trial_id, status, val_kl, layers, units=(8, 4), activation="tanh"):
    row = {"search_seed": search_seed, "trial_id": trial_id, "status": status, "val_kl_per_shot": val_kl,
           "val_cross_entropy_per_shot": None if val_kl is None else val_kl + 0.5, "best_epoch": 3, "epochs": 5,
           "hp_hidden_layers": layers, "hp_activation": activation, "hp_dropout": 0.0, "hp_l2": 1e-6,
           "hp_learning_rate": 3e-3, "hp_batch_size": 64, "hp_loss": "shot_cross_entropy",
           "trial_dir": f"search-{search_seed}/trial_{trial_id}", "message": None}
    for layer in range(2):
        row[f"hp_units_{layer}"] = units[layer] if layer < layers else None
    return row


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A fake two-search trial table, written and read back the way RUN/trials.csv is."""
    root = tmp_path_factory.mktemp("topk")
    data = make_synthetic(300, n_relevant=2, n_decoys=2, shots_per_point=10, seed=4)
    split = split_indices(data, seed=0)
    rows = [_trial(0, "00", "COMPLETED", 0.05, 1), _trial(0, "01", "FAILED", None, 2),
            _trial(1, "00", "COMPLETED", 0.02, 2, activation="swish"), _trial(1, "01", "COMPLETED", 0.09, 0)]
    pd.DataFrame(rows).to_csv(root / "trials.csv", index=False)
    trials = read_trials(root)
    first = root / "first"
    summary = retrain_top_k(data, split, trials, first, k=2, config=CONFIG, seed=7)
    return {"data": data, "split": split, "trials": trials, "root": root, "dir": first, "summary": summary}


def test_writes_k_model_directories_and_a_summary_sorted_by_validation_kl(run):
    summary, out = run["summary"], run["dir"]
    assert sorted(p.name for p in (out / "top").iterdir()) == ["01", "02"]
    assert list(summary["rank"]) == [1, 2]
    assert list(zip(summary["search_seed"], summary["trial_id"])) == [(1, "00"), (0, "00")]
    assert summary["search_val_kl_per_shot"].is_monotonic_increasing
    assert (out / "summary.csv").read_text() == summary.to_csv(index=False)
    for column in ("hp_hidden_layers", "hp_units_0", "hp_activation", "val_kl_per_shot", "test_kl_per_shot",
                   "test_cross_entropy_per_shot", "test_rmse", "test_calibration_error", "best_epoch", "seed"):
        assert column in summary.columns, column
    for _, row in summary.iterrows():
        directory = out / row["model_dir"]
        assert {"model.keras", "saved_model", "card.json"} <= {p.name for p in directory.iterdir()}
        assert (directory / "saved_model" / "1" / "saved_model.pb").is_file()
        card = read_card(directory)
        assert card["model"]["rank"] == row["rank"] and card["model"]["trial_id"] == row["trial_id"]
        assert card["hyperparameters"]["hidden_layers"] == row["hp_hidden_layers"]
        assert card["metrics"]["selection"]["val_kl_per_shot"] == row["search_val_kl_per_shot"]
        assert card["metrics"]["test"]["kl_per_shot"] == pytest.approx(row["test_kl_per_shot"])
        assert card["data"]["split"] == {name: len(getattr(run["split"], name))
                                         for name in ("train", "validation", "test")}
        assert card["seed"] == row["seed"]


def test_test_metrics_are_those_of_the_exported_model_on_the_test_split(run):
    data, test = run["data"], run["split"].test
    y = labels(data)[test].astype(np.float64)
    n_a, n_b = y[:, 0], y[:, 1]
    n = n_a + n_b
    # Closed form: cross-entropy minus KL per shot is the shot entropy of p_B on the test set.
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(n_a * np.log(n_a / n)) - np.nansum(n_b * np.log(n_b / n))
    for _, row in run["summary"].iterrows():
        card = read_card(run["dir"] / row["model_dir"])
        metrics = card["metrics"]["test"]
        z = load_committor_model(run["dir"] / row["model_dir"] / "saved_model").predict_logit(data.features[test])
        assert metrics["kl_per_shot"] == pytest.approx(float(kl_per_shot(y, z)), rel=1e-5, abs=1e-7)
        assert metrics["cross_entropy_per_shot"] == pytest.approx(float(cross_entropy_per_shot(y, z)), rel=1e-5)
        assert metrics["rmse"] == pytest.approx(float(committor_rmse(y, z)), rel=1e-5)
        assert metrics["cross_entropy_per_shot"] - metrics["kl_per_shot"] == pytest.approx(entropy / n.sum(),
                                                                                           rel=1e-6)
        assert metrics["kl_per_shot"] >= -1e-9 and 0 <= metrics["calibration_error"] <= 1
        assert sum(metrics["calibration"]["points"]) == len(test)
        assert card["metrics"]["training"]["best_epoch"] == row["best_epoch"] <= CONFIG["search"]["epochs"]


def test_retraining_is_reproducible_and_clears_stale_models(run):
    second = run["root"] / "second"
    stale, foreign = second / "top" / "03", second / "top" / "notes"
    stale.mkdir(parents=True)
    (stale / "card.json").write_text("{}")
    foreign.mkdir()
    summary = retrain_top_k(run["data"], run["split"], run["trials"], second, k=2, config=CONFIG, seed=7)
    pd.testing.assert_frame_equal(summary.drop(columns="model_dir"), run["summary"].drop(columns="model_dir"))
    assert not stale.exists() and foreign.exists()


def test_selection_skips_failed_trials_and_breaks_ties_deterministically():
    trials = pd.DataFrame([_trial(1, "03", "COMPLETED", 0.1, 1), _trial(0, "05", "COMPLETED", 0.1, 1),
                           _trial(0, "02", "FAILED", None, 1), _trial(0, "04", "COMPLETED", float("nan"), 1),
                           _trial(0, "01", "COMPLETED", 0.3, 1)])
    chosen = select_top_k(trials, k=10)
    assert list(zip(chosen["search_seed"], chosen["trial_id"])) == [(0, "05"), (1, "03"), (0, "01")]
    with pytest.raises(CommittorKerasError, match="no completed trial"):
        select_top_k(trials[trials["status"] == "FAILED"], k=2)


def test_calibration_error_known_answers():
    q = np.array([0.05, 0.05, 0.45, 0.95])
    n_a = np.array([19.0, 19.0, 11.0, 1.0])
    n_b = np.array([1.0, 1.0, 9.0, 19.0])
    assert calibration_table(q, n_a, n_b)["calibration_error"] == pytest.approx(0.0, abs=1e-12)
    shifted = calibration_table(q + 0.04, n_a, n_b)
    assert shifted["calibration_error"] == pytest.approx(0.04)
    assert shifted["points"][0] == 2 and shifted["observed_p_b"][0] == pytest.approx(0.05)


def test_a_trial_diverging_on_retraining_is_replaced_by_the_next(run, monkeypatch):
    import committor_keras.model as model_module

    fit_model = model_module.fit_model

    def diverge_on_two_layers(model, hparams, **kwargs):
        if hparams["hidden_layers"] == 2:
            raise model_module.DivergedError("training diverged at epoch 1: non-finite loss", {})
        return fit_model(model, hparams, **kwargs)

    monkeypatch.setattr(model_module, "fit_model", diverge_on_two_layers)
    with pytest.warns(UserWarning, match="trial 00 of search 1 diverged"):
        summary = retrain_top_k(run["data"], run["split"], run["trials"], run["root"] / "diverged", k=1,
                                config=CONFIG, seed=7)
    assert list(zip(summary["rank"], summary["search_seed"], summary["trial_id"])) == [(1, 0, "00")]
    assert sorted(p.name for p in (run["root"] / "diverged" / "top").iterdir()) == ["01"]
