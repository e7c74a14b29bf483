"""Exact resume: a `tune` run killed with SIGKILL at random moments and rerun ends as an uninterrupted run."""

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
