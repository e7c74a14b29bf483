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


def _served_oracle(directory, max_trials):
    import keras_tuner

    from committor_keras.search._oracle import CommittorOracle

    space = keras_tuner.HyperParameters()
    space.Int("units", 4, 64)
    oracle = CommittorOracle(objective=keras_tuner.Objective("score", "min"), max_trials=max_trials, seed=1,
                             hyperparameters=space, search_tag="search-7", search_order=["search-7"])
    oracle._set_project_dir(str(directory), "search-7")
    return oracle


def _lapse_leases(monkeypatch):
    """Every worker's lease lapses at the next request for a trial (as after a SIGSTOP longer than the lease)."""
    from committor_keras.search import _oracle as oracle_module

    monkeypatch.setattr(oracle_module, "LEASE_S", 0.0)
    time.sleep(0.01)
    return lambda: monkeypatch.setattr(oracle_module, "LEASE_S", 30.0)


def test_over_grpc_a_worker_that_froze_past_its_lease_cannot_report_its_trial(tmp_path, monkeypatch):
    import threading

    from committor_keras.search._distributed import _worker_client, serve_oracle

    oracle, address = _served_oracle(tmp_path, max_trials=1), ("127.0.0.1", free_port())
    server = threading.Thread(target=serve_oracle, args=(oracle, "%s:%d" % address), daemon=True)
    server.start()
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", address[0])
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(address[1]))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "unused")
    frozen, taker = _worker_client(None, timeout=20), _worker_client(None, timeout=20)
    trial = frozen.create_trial("frozen@search-7")
    frozen._stop_heartbeat()  # frozen: it sends nothing
    restore = _lapse_leases(monkeypatch)
    taken = taker.create_trial("taker@search-7")
    restore()
    assert taken.trial_id == trial.trial_id
    # The frozen worker wakes up and reports: ignored, whether before or after the taker ends the trial.
    frozen.update_trial(trial.trial_id, {"score": 5.0})
    trial.status = "COMPLETED"
    frozen.end_trial(trial)
    assert oracle.trials[trial.trial_id].status == "RUNNING" and not oracle.end_order
    assert not oracle.trials[trial.trial_id].metrics.exists("score")
    # What each asks before writing the trial's files.
    assert taker.holds_lease(trial.trial_id) and not frozen.holds_lease(trial.trial_id)
    taker.update_trial(taken.trial_id, {"score": 1.0})
    taken.status = "COMPLETED"
    taker.end_trial(taken)
    frozen.update_trial(trial.trial_id, {"score": 5.0})
    frozen.end_trial(trial)
    assert oracle.end_order == [trial.trial_id] and oracle._run_times[trial.trial_id] == 1
    assert oracle.trials[trial.trial_id].score == 1.0
    assert not frozen.holds_lease(trial.trial_id)
    for client, name in ((frozen, "frozen"), (taker, "taker")):
        assert client.create_trial(f"{name}@search-7").status == "STOPPED"
    server.join(timeout=30)
    assert not server.is_alive()


def test_each_hand_over_of_a_trial_voids_the_lease_before(tmp_path, monkeypatch):
    oracle = _served_oracle(tmp_path, max_trials=1)
    trial, first = oracle.lease_trial("w1@search-7")
    assert oracle.beat(trial.trial_id, first)
    # A restarted worker of the same name gets its trial back, under a new lease; the old process's is void.
    again, second = oracle.lease_trial("w1@search-7")
    assert again.trial_id == trial.trial_id and second != first
    assert not oracle.beat(trial.trial_id, first) and oracle.beat(trial.trial_id, second)
    # Requeued but not yet handed on: the lapsed lease is refused, and the trial waits for the next worker.
    restore = _lapse_leases(monkeypatch)
    oracle._requeue_lost_trials()
    restore()
    trial.status = "COMPLETED"
    assert not oracle.end_leased_trial(second, trial) and oracle._retry_queue == [trial.trial_id]
    back, third = oracle.lease_trial("w1@search-7")
    oracle.update_leased_trial(third, back.trial_id, {"score": 2.0})
    back.status = "COMPLETED"
    assert oracle.end_leased_trial(third, back) and oracle.trials[back.trial_id].score == 2.0
