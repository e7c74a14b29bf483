"""Shooting runs killed with SIGKILL at random moments and resumed lose and duplicate no shot."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("openmm")

from committor_keras.md._config import Window, load_config, vacuum_preset  # noqa: E402
from committor_keras.md._sampling import load_configurations, sample  # noqa: E402
from committor_keras.md._shooting import SHOTS_DIR, pending_batches, read_shots, shoot, shots_path  # noqa: E402
from committor_keras.md._workdir import build, init  # noqa: E402

pytestmark = [pytest.mark.md, pytest.mark.slow]


def check_shots(workdir):
    """Count the append-only records of ``WORKDIR/shots``: every batch once, every needed shot present.

    Returns:
        dict: ``records`` (complete lines), ``truncated`` (a cut-off line), ``batches`` (distinct), ``missing``
        (batches still needed by the recipe) and ``shots`` (fired in all).
    """
    config = load_config(workdir)
    records, truncated = [], 0
    for path in sorted((workdir / SHOTS_DIR).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                truncated += 1
    keys = [(r["config"], r["first_shot"], r["stop_shot"]) for r in records]
    n = len(load_configurations(workdir)[0])
    table = read_shots(workdir, n)
    return {"records": len(records), "truncated": truncated, "batches": len(set(keys)),
            "duplicates": len(keys) - len(set(keys)),
            "missing": len(pending_batches(config, table, range(n))), "shots": int(table.n_shots.sum()),
            "outcomes": [sorted(shots.items()) for shots in table.shots]}


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    """A tiny vacuum work directory, built and sampled (10 configurations, top-ups for 0.1 < p_B < 0.9)."""
    workdir = tmp_path_factory.mktemp("kill") / "sampled"
    config = vacuum_preset(seed=21).replace(
        windows=(Window(0.0, 2000.0, 8), Window(-80.0, 0.0, 2)), n_shots=12, topup_shots=24, pull_ps=0.2,
        window_equilibration_ps=0.2, stride_steps=50, max_steps=2000)
    init(workdir, config)
    build(workdir, log=lambda line: None)
    sample(workdir, progress=False)
    return workdir


def _copy(sampled, target):
    shutil.copytree(sampled, target)
    shutil.rmtree(target / SHOTS_DIR, ignore_errors=True)
    return target


def test_five_random_kills_lose_and_duplicate_no_shot(sampled, tmp_path):
    reference = _copy(sampled, tmp_path / "reference")
    start = time.monotonic()
    assert shoot(reference, progress=False)
    duration = time.monotonic() - start
    expected = check_shots(reference)
    assert expected["duplicates"] == expected["missing"] == expected["truncated"] == 0

    workdir = _copy(sampled, tmp_path / "killed")
    rng = np.random.default_rng(7)
    kills = 0
    for moment in rng.uniform(0.0, 0.15, size=5) * duration:
        process = subprocess.Popen([sys.executable, "-m", "committor_keras.cli", "shoot", str(workdir),
                                    "--no-progress"], start_new_session=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        lines = shots_path(workdir).read_text().count("\n") if shots_path(workdir).is_file() else 0
        # Counted from the first new record, so the kill lands while batches are being written.
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline and (
                not shots_path(workdir).is_file() or shots_path(workdir).read_text().count("\n") <= lines):
            time.sleep(0.05)
        time.sleep(moment)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 3, f"only {kills} of 5 kills hit a running shooting run"
    assert shoot(workdir, progress=False)
    found = check_shots(workdir)
    assert found["duplicates"] == 0 and found["missing"] == 0
    assert found["batches"] == expected["batches"] and found["shots"] == expected["shots"]
    assert found["outcomes"] == expected["outcomes"]
