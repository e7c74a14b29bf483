"""Seeded Bayesian searches: the trial table, failed (diverged) trials, resuming, and the `tune` command."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from committor_keras._errors import ConfigError
from committor_keras.data import labels, make_synthetic, split_indices
from committor_keras.model import _hypermodel, kl_per_shot
from committor_keras.search import load_config, read_trials, run_search, trial_hparams, write_trial_table
from committor_keras.study._cli import register

FAST = {"epochs": 3, "patience": 2, "initial_points": 2, "searches": 1}
SMALL_SPACE = {"hidden_layers": {"min": 1, "max": 2}, "units": {"min": 4, "max": 16}, "batch_size": {"value": 128}}


@pytest.fixture(scope="module")
def data():
    return make_synthetic(n_points=400, n_relevant=2, n_decoys=3, shots_per_point=5, seed=5)


@pytest.fixture(scope="module")
def arrays(data):
    split = split_indices(data, seed=0)
    y = labels(data)
    return tuple((data.features[i], y[i], None) for i in (split.train, split.validation))


def _config(max_trials, space=SMALL_SPACE, **search):
    return load_config({"search": {**FAST, "max_trials": max_trials, **search}, "space": space})


def _trial_files(project):
    return {path.parent.name: path.read_text() for path in sorted(project.glob("trial_*/trial.json"))}


def test_tune_command_writes_the_run_directory(data, tmp_path, capsys):
    data_path = tmp_path / "data.npz"
    data.save(data_path)
    config = tmp_path / "search.toml"
    config.write_text("[search]\nepochs = 3\npatience = 2\ninitial_points = 2\n"
                      "[space.hidden_layers]\nmax = 1\n[space.batch_size]\nvalue = 128\n")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    run = tmp_path / "run"
    args = parser.parse_args(["tune", str(data_path), "--out", str(run), "--config", str(config),
                              "--max-trials", "2", "--searches", "2", "--top-k", "1", "--seed", "3", "--quiet"])
    assert args.func(args) == 0
    assert "val_kl_per_shot" in capsys.readouterr().out
    trials = read_trials(run)
    assert len(trials) == 4 and sorted(set(trials["search_seed"])) == [3, 4]
    assert (trials["status"] == "COMPLETED").all()
    assert trials["val_kl_per_shot"].notna().all() and (trials["best_epoch"] <= trials["epochs"]).all()
    records = json.loads((run / "trials.json").read_text())["trials"]
    assert [len(r["history"]["val_kl_per_shot"]) for r in records] == trials["epochs"].tolist()
    record = json.loads((run / "run.json").read_text())
    assert record["seed"] == 3 and record["data_sha256"] == data.content_sha256()
    assert record["config"]["search"]["max_trials"] == 2 and record["config"]["search_seeds"] == [3, 4]
    with np.load(run / "split.npz") as split:
        assert len(split["train"]) + len(split["validation"]) + len(split["test"]) == len(data)
    assert any((run / "logs" / "search-3").rglob("events.out.tfevents.*"))
    assert any((run / "logs" / "top" / "01").rglob("events.out.tfevents.*"))   # the top-k retraining's curves
    assert (run / "summary.csv").exists()
    # The report: each exported model validated on the test split, curves, landscape (tests/test_tune_report.py).
    report_files = ("report.md", "figures/landscape.png", "figures/training_curves.png", "top/01/history.json",
                    "top/01/validation/scores.json", "top/01/validation/parity.png",
                    "top/01/validation/reliability.png", "top/01/validation/q_histogram.png")
    assert all((run / name).is_file() for name in report_files)
    # The run directory remembers its data and seed: another seed is refused instead of mixing runs.
    with pytest.raises(ConfigError, match="--seed 3"):
        args.func(parser.parse_args(["tune", str(data_path), "--out", str(run), "--seed", "4",
                                     "--config", str(config)]))
    # The same command with a larger budget resumes: one new trial per search, the old ones untouched.
    old = _trial_files(run / "search-3")
    args = parser.parse_args(["tune", str(data_path), "--out", str(run), "--config", str(config), "--max-trials",
                              "3", "--searches", "2", "--top-k", "1", "--seed", "3", "--quiet"])
    assert args.func(args) == 0
    resumed = read_trials(run)
    assert len(resumed) == 6 and (resumed["status"] == "COMPLETED").all()
    assert {k: v for k, v in _trial_files(run / "search-3").items() if k in old} == old
    # The resumed run rewrote the report for its (possibly new) top model.
    assert all((run / name).is_file() for name in report_files)
    scores = json.loads((run / "top" / "01" / "validation" / "scores.json").read_text())["scores"]
    assert scores["kl_per_shot"] == pytest.approx(pd.read_csv(run / "summary.csv")["test_kl_per_shot"][0], rel=1e-4)
    assert not list(run.rglob("*.tmp"))


def test_trial_table_round_trips_and_rebuilds_hyperparameters(arrays, tmp_path):
    run_search(*arrays, tmp_path, seed=0, config=_config(2), verbose=0)
    table = write_trial_table(tmp_path, [0])
    assert len(table) == 2 and list(table["trial_id"]) == ["00", "01"]
    back = read_trials(tmp_path)
    pd.testing.assert_frame_equal(back, table)
    records = json.loads((tmp_path / "trials.json").read_text())["trials"]
    for (_, row), record in zip(back.iterrows(), records):
        assert trial_hparams(row) == record["hyperparameters"]
        assert set(trial_hparams(row)) >= {"hidden_layers", "units_0", "learning_rate", "batch_size", "loss"}


def test_diverging_trials_are_failed_and_never_best(arrays, tmp_path):
    # Adam with a 1e30 learning rate makes weights ~1e30 after one step: relu logits overflow float32.
    space = {**SMALL_SPACE, "activation": {"value": "relu"}, "learning_rate": {"choices": [1e-3, 1e30]}}
    # Random draws only; with this seed Keras Tuner's seeded sampler picks 1e30 for one trial of four.
    config = _config(4, space=space, initial_points=4, max_consecutive_failures=10)
    tuner = run_search(*arrays, tmp_path, seed=4, config=config, verbose=0)
    table = write_trial_table(tmp_path, [4])
    diverged = table["hp_learning_rate"] == 1e30
    assert diverged.any() and (~diverged).any(), "the seeded draws should include both learning rates"
    assert (table.loc[diverged, "status"] == "FAILED").all()
    assert table.loc[diverged, "val_kl_per_shot"].isna().all()
    assert table.loc[diverged, "message"].str.contains("diverged at epoch 1").all()
    assert (table.loc[~diverged, "status"] == "COMPLETED").all()
    best = tuner.oracle.get_best_trials(1)[0]
    assert best.status == "COMPLETED" and best.hyperparameters.values["learning_rate"] == 1e-3
    records = json.loads((tmp_path / "trials.json").read_text())["trials"]
    assert all(len(r["history"]["loss"]) == 1 for r, d in zip(records, diverged) if d)


def test_resume_runs_only_the_missing_trials(arrays, tmp_path):
    run_search(*arrays, tmp_path, seed=2, config=_config(2), verbose=0)
    project = tmp_path / "search-2"
    before = _trial_files(project)
    assert len(before) == 2
    run_search(*arrays, tmp_path, seed=2, config=_config(3), verbose=0)
    after = _trial_files(project)
    assert len(after) == 3 and {k: after[k] for k in before} == before
    assert json.loads(after["trial_02"])["status"] == "COMPLETED"
    # Nothing left to do: running again with the same budget trains nothing.
    run_search(*arrays, tmp_path, seed=2, config=_config(3), verbose=0)
    assert _trial_files(project) == after


def test_resume_reruns_an_interrupted_trial(arrays, tmp_path, monkeypatch):
    real_fit = _hypermodel.fit_model
    calls = []

    def interrupted_second_fit(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(_hypermodel, "fit_model", interrupted_second_fit)
    with pytest.raises(KeyboardInterrupt):
        run_search(*arrays, tmp_path, seed=3, config=_config(2), verbose=0)
    table = write_trial_table(tmp_path, [3])
    assert list(table["status"]) == ["COMPLETED", "RUNNING"]
    monkeypatch.setattr(_hypermodel, "fit_model", real_fit)
    run_search(*arrays, tmp_path, seed=3, config=_config(2), verbose=0)
    table = write_trial_table(tmp_path, [3])
    assert list(table["status"]) == ["COMPLETED", "COMPLETED"] and len(table) == 2


def test_explanation_callbacks_attach_to_trials_and_top_k(data, tmp_path):
    from committor_keras.explain import IntegratedGradientsCallback
    from committor_keras.study import tune

    points = data.subset(np.arange(50))
    trial_cb = IntegratedGradientsCallback(points, tmp_path / "trial-xai" / "{fit}", steps=8)
    top_cb = IntegratedGradientsCallback(points, tmp_path / "top-xai" / "{fit}", steps=8)
    run = tmp_path / "run"
    tune(data, run, config=_config(2, searches=1, top_k=1), verbose=0, callbacks=[trial_cb],
         top_k_callbacks=[top_cb])
    assert len(list((tmp_path / "trial-xai").glob("*/ig.csv"))) == 2
    assert len(list((tmp_path / "top-xai").glob("*/ig.csv"))) == 1
    assert (run / "top" / "01" / "xai" / "ig.csv").is_file()


@pytest.mark.slow
def test_parallel_searches_give_the_trials_of_sequential_ones(data, tmp_path):
    from committor_keras.study import tune

    config = _config(3, searches=2, top_k=1)
    tables = [tune(data, tmp_path / f"jobs-{jobs}", config=config, verbose=0, jobs=jobs).trials
              for jobs in (1, 2)]
    columns = [c for c in tables[0].columns if c.startswith("hp_")] + ["search_seed", "trial_id", "status"]
    pd.testing.assert_frame_equal(tables[0][columns], tables[1][columns])
    np.testing.assert_allclose(tables[0]["val_kl_per_shot"], tables[1]["val_kl_per_shot"], rtol=1e-5)


def test_guided_trials_are_reproducible_and_checkpointed_once(arrays, tmp_path):
    # Past the two random trials the Gaussian process proposes; the same seed proposes the same trials.
    tables, tuners = [], []
    for run in ("a", "b"):
        tuners.append(run_search(*arrays, tmp_path / run, seed=1, config=_config(4), verbose=0))
        tables.append(write_trial_table(tmp_path / run, [1]))
    hp = [c for c in tables[0].columns if c.startswith("hp_")]
    pd.testing.assert_frame_equal(tables[0][hp], tables[1][hp])
    assert tables[0]["hp_units_0"].nunique() > 1
    # One weights file per trial, holding its best epoch: the loaded model scores the trial's validation KL.
    assert len(list((tmp_path / "a" / "search-1").glob("trial_*/checkpoint.weights.h5"))) == 4
    trial = tuners[0].oracle.get_best_trials(1)[0]
    model = tuners[0].load_model(trial)
    x, y, _ = arrays[1]
    assert float(kl_per_shot(y, model(x.astype(np.float32)))) == pytest.approx(trial.score, rel=1e-4)
