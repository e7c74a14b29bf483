"""Distributed searches on loopback: a chief and workers over Keras Tuner's gRPC engine."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from committor_keras.cli import main
from committor_keras.data import make_synthetic, split_indices
from committor_keras.search import load_config
from committor_keras.search._distributed import DEFAULT_TIMEOUT_S, free_port

CONFIG = """
[search]
max_trials = {max_trials}
searches = {searches}
initial_points = 2
epochs = 3
patience = 2
top_k = 1
[space.hidden_layers]
max = 2
[space.units]
min = 4
max = 16
[space.batch_size]
value = 128
"""


@pytest.fixture
def files(tmp_path):
    data = tmp_path / "data.npz"
    make_synthetic(n_points=300, n_relevant=2, n_decoys=3, shots_per_point=5, seed=5).save(data)
    return tmp_path, data


def _start(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "committor_keras.cli", "tune", *map(str, args), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def _oracle_state(run, seed=0):
    path = run / f"search-{seed}" / "oracle.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _check_complete(chief, run, trials):
    _, stderr = chief.communicate(timeout=900)
    assert chief.returncode == 0, stderr
    table = pd.read_csv(run / "trials.csv", dtype={"trial_id": str})
    assert len(table) == trials and (table["status"] == "COMPLETED").all()
    assert (run / "top" / "01" / "model.keras").is_file()
    return table


def test_a_worker_without_a_chief_gives_up_after_its_timeout(files, capsys):
    tmp, data = files
    run = tmp / "run"
    run.mkdir()
    config = load_config({"search": {"max_trials": 2, "searches": 1, "epochs": 1}})
    # What a chief writes before it serves: run.json and the split.
    from committor_keras.data import load

    loaded = load(data)
    split_indices(loaded, 0).save(run / "split.npz")
    (run / "run.json").write_text(json.dumps({"data_sha256": loaded.content_sha256(),
                                              "config": {"search_seeds": [0], **config.to_dict()}}))
    assert DEFAULT_TIMEOUT_S == 60
    start = time.monotonic()
    status = main(["tune", str(data), "--out", str(run), "--worker", "--chief-address",
                   f"127.0.0.1:{free_port()}", "--timeout", "2"])
    elapsed = time.monotonic() - start
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no chief answered within 2 s" in err[0]
    assert elapsed < 60, "the worker waited far longer than its timeout"


@pytest.mark.slow
def test_a_chief_and_two_workers_run_every_trial_exactly_once(files):
    tmp, data = files
    config, run = tmp / "search.toml", tmp / "run"
    config.write_text(CONFIG.format(max_trials=3, searches=2))
    address = f"127.0.0.1:{free_port()}"
    chief = _start(data, "--out", run, "--config", config, "--chief", "--bind", address)
    workers = [_start(data, "--out", run, "--worker", "--chief-address", address, env={"KERASTUNER_TUNER_ID": name})
               for name in ("w1", "w2")]
    table = _check_complete(chief, run, trials=6)
    for worker in workers:
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
    assert sorted(set(table["search_seed"])) == [0, 1]
    for seed in (0, 1):
        state = _oracle_state(run, seed)
        # Each trial ended once: Keras Tuner counts the runs of every trial.
        assert state["run_times"] == {trial_id: 1 for trial_id in ("00", "01", "02")}
        assert sorted(state["end_order"]) == ["00", "01", "02"]


@pytest.mark.slow
def test_a_worker_killed_mid_trial_does_not_stop_the_search(files):
    tmp, data = files
    config, run = tmp / "search.toml", tmp / "run"
    config.write_text(CONFIG.format(max_trials=4, searches=1))
    address = f"127.0.0.1:{free_port()}"
    chief = _start(data, "--out", run, "--config", config, "--chief", "--bind", address,
                   env={"COMMITTOR_KERAS_WORKER_LEASE_S": "8"})
    doomed = _start(data, "--out", run, "--worker", "--chief-address", address,
                    env={"KERASTUNER_TUNER_ID": "doomed"})
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        state = _oracle_state(run)
        held = (state or {}).get("ongoing_trials", {}).get("doomed@search-0")
        if held is not None and held not in state["end_order"]:
            break
        assert doomed.poll() is None, doomed.communicate()[1]
        time.sleep(0.2)
    else:
        pytest.fail("the worker never started a trial")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    survivor = _start(data, "--out", run, "--worker", "--chief-address", address,
                      env={"KERASTUNER_TUNER_ID": "survivor"})
    _check_complete(chief, run, trials=4)
    _, stderr = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, stderr
    state = _oracle_state(run)
    assert state["run_times"][held] == 1 and sorted(state["end_order"]) == ["00", "01", "02", "03"]


def test_the_oracle_moves_workers_of_other_searches_along(tmp_path):
    import keras_tuner

    from committor_keras.search._oracle import CommittorOracle

    space = keras_tuner.HyperParameters()
    space.Int("units", 4, 64)
    oracle = CommittorOracle(objective=keras_tuner.Objective("score", "min"), max_trials=2, seed=1,
                             hyperparameters=space, search_tag="search-7",
                             search_order=["search-3", "search-7", "search-5"])
    oracle._set_project_dir(str(tmp_path), "search-7")
    assert oracle.create_trial("w1@search-3").status == "STOPPED"  # behind: its search ended without it
    assert oracle.create_trial("w1@search-5").status == "IDLE"  # ahead: its search is not served yet
    assert not oracle.tuner_ids and not oracle.trials
    first = oracle.create_trial("w1@search-7")
    second = oracle.create_trial("w2@search-7")
    assert first.status == second.status == "RUNNING" and first.trial_id != second.trial_id
    # The budget is spent while w2 still trains: w1 waits (to take over w2's trial should w2 die).
    oracle.update_trial(first.trial_id, {"score": 1.0})
    first.status = "COMPLETED"
    oracle.end_trial(first)
    assert oracle.create_trial("w1@search-7").status == "IDLE"
