"""Exact resume: a search interrupted anywhere and resumed proposes, trains and exports what a straight one does."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from committor_keras.data import make_synthetic

CONFIG = """
[search]
max_trials = 5
searches = 1
initial_points = 2
epochs = 4
patience = 2
top_k = 2
[space.hidden_layers]
max = 2
[space.units]
min = 4
max = 16
[space.batch_size]
value = 128
"""


def _oracle(directory, seed=3, max_trials=6, project="search"):
    import keras_tuner

    from committor_keras.search._oracle import CommittorOracle

    space = keras_tuner.HyperParameters()
    space.Int("units", 4, 64, sampling="log")
    space.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    space.Choice("activation", ["relu", "tanh", "elu"])
    # Few candidates and kernel restarts: the test is about state, not fit quality.
    oracle = CommittorOracle(objective=keras_tuner.Objective("score", "min"), max_trials=max_trials,
                             num_initial_points=3, seed=seed, hyperparameters=space, candidates=200, kernel_restarts=1)
    oracle._set_project_dir(str(directory), project)
    if (directory / project / "oracle.json").exists():
        oracle.reload()
    return oracle


def _score(values):
    return (np.log(values["units"]) - 2.5) ** 2 + (np.log10(values["learning_rate"]) + 3) ** 2 \
        + 0.1 * ["relu", "tanh", "elu"].index(values["activation"])


def _run_oracle(directory, crash_after=(), **options):
    """Proposals of a search with a known objective; ``crash_after`` trial numbers are "killed" mid-trial
    (after being created, or after reporting a score but before ending) and the oracle is reloaded from disk.
    ``options`` go to :func:`_oracle`."""
    oracle, proposals = _oracle(directory, **options), {}
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            return proposals
        number = int(trial.trial_id)
        if number in crash_after:
            crash_after = [n for n in crash_after if n != number]
            if number % 2:
                oracle.update_trial(trial.trial_id, {"score": _score(trial.hyperparameters.values)})
            oracle = _oracle(directory, **options)
            continue
        proposals[trial.trial_id] = dict(trial.hyperparameters.values)
        oracle.update_trial(trial.trial_id, {"score": _score(trial.hyperparameters.values)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)


def test_a_reloaded_oracle_proposes_what_an_uninterrupted_one_does(tmp_path):
    straight = _run_oracle(tmp_path / "straight")
    assert len(straight) == 6
    # Interrupted during a random trial (1), the first Gaussian-process proposal (3) and a later one (4).
    assert _run_oracle(tmp_path / "crashed", crash_after=[1, 3, 4]) == straight


def test_a_trial_written_but_not_in_oracle_json_is_rerun(tmp_path):
    """A kill between trial.json and oracle.json (the two writes of create_trial) loses no trial."""
    oracle = _oracle(tmp_path)
    first = oracle.create_trial("tuner0")
    oracle.update_trial(first.trial_id, {"score": 1.0})
    first.status = "COMPLETED"
    oracle.end_trial(first)
    saved = (tmp_path / "search" / "oracle.json").read_text()
    second = oracle.create_trial("tuner0")
    (tmp_path / "search" / "oracle.json").write_text(saved)  # as if killed before oracle.json was rewritten
    again = _oracle(tmp_path).create_trial("tuner0")
    assert again.trial_id == second.trial_id
    assert again.hyperparameters.values == second.hyperparameters.values


def test_a_search_resumed_with_more_trials_names_orders_and_proposes_them_as_a_straight_one(tmp_path):
    from committor_keras.search import collect_trials

    search = {"project": "search-3"}  # where collect_trials looks for the search with seed 3
    straight = _run_oracle(tmp_path / "straight", max_trials=12, **search)
    raised = {**_run_oracle(tmp_path / "raised", max_trials=3, **search),
              **_run_oracle(tmp_path / "raised", max_trials=12, **search)}
    # Keras Tuner's ids would be "0".."2" then "03".."11" here, "00".."11" in the straight search.
    assert list(raised) == list(straight) == [f"{n:02d}" for n in range(12)]
    assert raised == straight
    assert list(_oracle(tmp_path / "raised", max_trials=12, **search).trials) == list(straight)
    tables = [collect_trials(tmp_path / name, [3])[0] for name in ("straight", "raised")]
    pd.testing.assert_frame_equal(tables[1], tables[0])


def test_trials_of_an_older_search_with_narrower_ids_stay_in_number_order(tmp_path, monkeypatch):
    from committor_keras.search import _oracle as oracle_module
    from committor_keras.search import collect_trials, select_top_k

    search = {"project": "search-3"}
    monkeypatch.setattr(oracle_module, "TRIAL_ID_WIDTH", 1)  # as Keras Tuner named trials of max_trials < 10
    _run_oracle(tmp_path, max_trials=3, **search)
    monkeypatch.undo()
    _run_oracle(tmp_path, max_trials=12, **search)
    numbers = [str(n) for n in range(12)]  # the search keeps the width it started with
    assert list(_oracle(tmp_path, max_trials=12, **search).trials) == numbers
    table = collect_trials(tmp_path, [3])[0]
    assert list(table["trial_id"]) == numbers
    # Ties in the objective go to the lower trial number ("9" before "10").
    tied = table.assign(status="COMPLETED", val_kl_per_shot=1.0).iloc[::-1]
    assert list(select_top_k(tied, 12)["trial_id"]) == numbers


def _tune(data, config, out, **popen):
    return subprocess.Popen([sys.executable, "-m", "committor_keras.cli", "tune", str(data), "--out", str(out),
                             "--config", str(config), "--seed", "0", "--quiet"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, **popen)


def _finish(process, timeout=900):
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr
    return stderr


def _weights(model_dir):
    import keras

    return keras.saving.load_model(model_dir / "model.keras", compile=False).get_weights()


@pytest.mark.slow
def test_a_run_killed_five_times_ends_as_an_uninterrupted_run(tmp_path):
    data, config = tmp_path / "data.npz", tmp_path / "search.toml"
    make_synthetic(n_points=300, n_relevant=2, n_decoys=3, shots_per_point=5, seed=5).save(data)
    config.write_text(CONFIG)
    start = time.monotonic()
    _finish(_tune(data, config, tmp_path / "straight"))
    duration = time.monotonic() - start

    rng = np.random.default_rng(12)
    killed = 0
    for moment in rng.uniform(0.15, 0.9, size=5) * duration:
        process = _tune(data, config, tmp_path / "killed")
        try:
            process.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            killed += 1
    _finish(_tune(data, config, tmp_path / "killed"))
    assert killed >= 3, f"only {killed} of 5 kills hit a running search; the moments are too late"

    straight, resumed = tmp_path / "straight", tmp_path / "killed"
    pd.testing.assert_frame_equal(pd.read_csv(resumed / "trials.csv"), pd.read_csv(straight / "trials.csv"))
    assert (pd.read_csv(resumed / "trials.csv")["status"] == "COMPLETED").all()
    histories = [[t["history"] for t in json.loads((run / "trials.json").read_text())["trials"]]
                 for run in (straight, resumed)]
    assert histories[0] == histories[1]
    pd.testing.assert_frame_equal(pd.read_csv(resumed / "summary.csv"), pd.read_csv(straight / "summary.csv"))
    for rank in ("01", "02"):
        for a, b in zip(_weights(straight / "top" / rank), _weights(resumed / "top" / rank)):
            np.testing.assert_array_equal(a, b)
