"""`tune`'s report: each exported model validated on the test split, training curves, landscape, report.md.

The run directory comes from `retrain_top_k` on a small fake trial table (no search, no explanation), so the
report is tested without a tune run; tests/test_search_tune.py checks that `tune` itself writes it.
"""

import json
import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorflow")

from committor_keras.data import make_synthetic, split_indices  # noqa: E402
from committor_keras.export import load_committor_model, read_card  # noqa: E402
from committor_keras.search import load_config, read_trials  # noqa: E402
from committor_keras.study import retrain_top_k  # noqa: E402
from committor_keras.study._tune_report import write_tune_report  # noqa: E402
from committor_keras.validate import parity_table, validate_predictions  # noqa: E402

CONFIG = load_config({"search": {"epochs": 4, "patience": 2}})
VALIDATION_FILES = {"scores.json", "parity.csv", "q_histogram.csv", "predictions.csv", "parity.png",
                    "reliability.png", "q_histogram.png"}


def _trial(search_seed, trial_id, status, val_kl, layers, activation="tanh", lr=3e-3):
    row = {"search_seed": search_seed, "trial_id": trial_id, "status": status, "val_kl_per_shot": val_kl,
           "best_epoch": 3, "epochs": 4, "hp_hidden_layers": layers, "hp_activation": activation,
           "hp_dropout": 0.0, "hp_l2": 1e-6, "hp_learning_rate": lr, "hp_batch_size": 64,
           "hp_loss": "shot_cross_entropy", "trial_dir": f"search-{search_seed}/trial_{trial_id}", "message": None}
    for layer in range(2):
        row[f"hp_units_{layer}"] = (8, 4)[layer] if layer < layers else None
    return row


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune-report")
    data = make_synthetic(300, n_relevant=2, n_decoys=2, shots_per_point=10, seed=4)
    data.save(root / "data.npz")
    split = split_indices(data, seed=0)
    split.save(root / "split.npz")
    (root / "run.json").write_text(json.dumps({"command": ["committor-keras", "tune", "data.npz"], "seed": 7,
                                               "data_sha256": data.content_sha256(),
                                               "config": {"data": "data.npz"}}))
    rows = [_trial(0, "00", "COMPLETED", 0.05, 1), _trial(0, "01", "FAILED", None, 2),
            _trial(1, "00", "COMPLETED", 0.02, 2, activation="swish", lr=1e-2), _trial(1, "01", "COMPLETED", 0.09, 0)]
    pd.DataFrame(rows).to_csv(root / "trials.csv", index=False)
    summary = retrain_top_k(data, split, read_trials(root), root, k=2, config=CONFIG, seed=7, explain=())
    report = write_tune_report(root, data, split, CONFIG)
    return {"dir": root, "data": data, "split": split, "summary": summary, "report": report}


def _files(root):
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file() and (path.name == "report.md" or "figures" in path.parts or "validation" in path.parts)}


def test_writes_the_validation_of_every_model_and_the_figures(run):
    root = run["dir"]
    for model_dir in run["summary"]["model_dir"]:
        assert {p.name for p in (root / model_dir / "validation").iterdir()} == VALIDATION_FILES
        history = json.loads((root / model_dir / "history.json").read_text())
        card = read_card(root / model_dir)
        assert history["best_epoch"] == card["metrics"]["training"]["best_epoch"]
        assert len(history["history"]["val_kl_per_shot"]) == card["metrics"]["training"]["epochs"]
        assert np.argmin(history["history"]["val_kl_per_shot"]) + 1 == history["best_epoch"]
    assert {p.name for p in (root / "figures").iterdir()} == {"landscape.png", "training_curves.png"}
    for png in [*(root / "figures").iterdir(), *root.glob("top/*/validation/*.png")]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Every link of the report is relative and names a file of the run directory.
    text = run["report"].read_text()
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert len(links) >= 2 + 3 * len(run["summary"])
    for link in links:
        assert not link.startswith("/") and (root / link).exists(), link
    for section in ("## Top models", "## Searches", "## Training of the exported models",
                    "## Validation on the test split", "### model 01", "### model 02"):
        assert section in text


def test_scores_are_those_of_the_exported_model_on_the_test_split(run):
    # Independently of the report: the served SavedModel's committor on the test split, through validate/.
    data, test = run["data"], run["data"].subset(run["split"].test)
    for _, row in run["summary"].iterrows():
        directory = run["dir"] / row["model_dir"]
        stored = json.loads((directory / "validation" / "scores.json").read_text())
        logit = load_committor_model(directory / "saved_model").predict_logit(data.features[run["split"].test])
        expected = validate_predictions(1 / (1 + np.exp(-logit)), test, logit=logit)["scores"]
        assert stored["scores"].keys() == expected.keys()
        for key, value in expected.items():
            assert stored["scores"][key] == pytest.approx(value, rel=1e-4, abs=1e-7), key
        # The same test KL as the card (evaluated when the model was trained), and the summary row.
        assert stored["scores"]["kl_per_shot"] == pytest.approx(read_card(directory)["metrics"]["test"]["kl_per_shot"],
                                                                rel=1e-4, abs=1e-7)
        assert stored["scores"]["kl_per_shot"] == pytest.approx(row["test_kl_per_shot"], rel=1e-4, abs=1e-7)
        parity = pd.read_csv(directory / "validation" / "parity.csv")
        q = pd.read_csv(directory / "validation" / "predictions.csv")["q"].to_numpy()
        np.testing.assert_allclose(q, 1 / (1 + np.exp(-logit)), rtol=1e-5, atol=1e-7)
        recomputed = parity_table(q, test.n_a, test.n_b)
        assert parity["shots"].sum() == test.n_shots.sum() == recomputed["shots"].sum()
        filled = parity["shots"] > 0
        assert ((parity.loc[filled, "ci_low"] <= parity.loc[filled, "observed_p_b"])
                & (parity.loc[filled, "observed_p_b"] <= parity.loc[filled, "ci_high"])).all()


def test_rerun_rewrites_the_same_files(run):
    before = _files(run["dir"])
    write_tune_report(run["dir"], run["data"], run["split"], CONFIG)
    assert _files(run["dir"]) == before
    assert not list(run["dir"].rglob("*.tmp")) and not list(run["dir"].rglob("*.old"))


def test_a_failure_while_drawing_leaves_the_previous_files(run, monkeypatch):
    # The reliability diagram fails after the parity figure of model 01 is drawn into its staging directory.
    before = _files(run["dir"])

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr("committor_keras.validate._figures.plot_reliability", broken)
    with pytest.raises(RuntimeError, match="drawing failed"):
        write_tune_report(run["dir"], run["data"], run["split"], CONFIG)
    assert _files(run["dir"]) == before
    assert not list(run["dir"].rglob("*.tmp")) and not list(run["dir"].rglob("*.old"))
