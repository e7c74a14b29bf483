"""A committor work directory and its stages: init -> build -> sample -> shoot (-> make-dataset).

Layout of ``WORKDIR``::

    md.json              the recipe (MDConfig); every stage reads it
    system.pdb           the built system (water: NPT-equilibrated, box in CRYST1); the shooting topology
    build.json           build record (water: volume trace, density), versions, timings
    configurations.xtc   the configurations shot from (0.001 nm precision, what users featurise too)
    configurations.json  per configuration: window, phi0, restraint k, phi, psi
    shots/*.jsonl        shooting results, one line per batch of shots of one configuration
    run.log              what each stage did and when

Each stage skips work already on disk, so running ``committor-keras md run WORKDIR`` again resumes.
"""

import datetime
import json
import time
from pathlib import Path

import numpy as np

from committor_keras._errors import ConfigError
from committor_keras._provenance import library_versions, write_json_atomic
from committor_keras.md._config import CONFIG_NAME, load_config, save_config
from committor_keras.md._sampling import CONFIGURATIONS_JSON, CONFIGURATIONS_XTC, SYSTEM_PDB, sample
from committor_keras.md._shooting import needs_topup, pending_batches, read_shots, shoot, shot_timing

BUILD_JSON = "build.json"
LOG_NAME = "run.log"


def logger(workdir, echo=True):
    """A function appending time-stamped lines to ``WORKDIR/run.log`` (and printing them when ``echo``)."""
    path = Path(workdir) / LOG_NAME

    def log(line):
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        with open(path, "a") as handle:
            handle.write(f"{stamp} {line}\n")
        if echo:
            print(line, flush=True)

    return log


def init(workdir, config):
    """Create ``WORKDIR/md.json``; an existing one must hold the same recipe (then nothing is written).

    Raises:
        ConfigError: when ``md.json`` exists with different parameters.
    """
    workdir = Path(workdir)
    path = workdir / CONFIG_NAME
    if path.is_file():
        existing = load_config(workdir).to_dict()
        diff = sorted(k for k, v in config.to_dict().items() if existing[k] != v)
        if diff:
            raise ConfigError(f"{path}: exists with different {diff}; use another work directory")
        return path
    workdir.mkdir(parents=True, exist_ok=True)
    save_config(workdir, config)
    return path


def build(workdir, threads=1, log=print):
    """Build ``system.pdb`` (vacuum: minimised; water: solvated and NPT-equilibrated); skip if present."""
    from committor_keras.md import _system

    workdir = Path(workdir)
    config = load_config(workdir)
    if (workdir / SYSTEM_PDB).is_file():
        return workdir / SYSTEM_PDB
    start = time.perf_counter()
    topology, positions = _system.build_topology(config)
    record = {}
    box = None
    if config.solvent == "water":
        log(f"build: {topology.getNumAtoms()} atoms; equilibrating (NVT {config.nvt_equilibration_ps:g} ps, "
            f"NPT {config.npt_equilibration_ps:g} ps) on {threads} thread(s)")
        positions, box, record = _system.equilibrate_water(config, topology, positions, threads, log)
    else:
        positions = _system.minimise_vacuum(config, topology, positions)
    record.update({"seconds": round(time.perf_counter() - start, 1), "versions": library_versions()})
    write_json_atomic(workdir / BUILD_JSON, record)
    _system.write_pdb(workdir / SYSTEM_PDB, topology, positions, box)
    log(f"build: wrote {SYSTEM_PDB} in {record['seconds']} s")
    return workdir / SYSTEM_PDB


def run(workdir, workers=1, threads=1, max_minutes=None, progress=True, windows=None, finish_started=False):
    """Run every missing stage: build, sample, shoot (``windows`` and ``finish_started`` as for
    :func:`~committor_keras.md.shoot`). Returns True when all shots of the selection are done."""
    log = logger(workdir)
    log(f"run: workers={workers} threads={threads} max_minutes={max_minutes}")
    build(workdir, threads=max(threads, workers), log=log)
    start = time.perf_counter()
    if not (Path(workdir) / CONFIGURATIONS_XTC).is_file():
        sample(workdir, workers=workers, threads=threads, progress=progress)
        log(f"sample: wrote {CONFIGURATIONS_XTC} in {time.perf_counter() - start:.0f} s")
    remaining = None if max_minutes is None else max(0.0, max_minutes - (time.perf_counter() - start) / 60)
    return shoot(workdir, workers=workers, threads=threads, max_minutes=remaining, progress=progress, log=log,
                 windows=windows, finish_started=finish_started)


def status(workdir):
    """A dict summarising how far ``WORKDIR`` is: stage files, shots done and pending, p_B histogram."""
    workdir = Path(workdir)
    config = load_config(workdir)
    out = {"workdir": str(workdir), "system": config.system, "built": (workdir / SYSTEM_PDB).is_file(),
           "sampled": (workdir / CONFIGURATIONS_XTC).is_file()}
    if not out["sampled"]:
        done = len(list((workdir / "configurations").glob("window-*.json")))
        out["windows_done"] = f"{done}/{len(config.windows)}"
        return out
    n = json.loads((workdir / CONFIGURATIONS_JSON).read_text())["n_configurations"]
    table = read_shots(workdir, n)
    pending = pending_batches(config, table, range(n))
    shot = table.n_shots
    seconds, timed_shots, steps = shot_timing(workdir)
    base_done = int(sum((0, config.n_shots) in b for b in table.batches))
    p_b = table.p_b[shot > 0]
    low, high = config.topup_range
    out.update({
        "n_configurations": n,
        "configurations_with_base_shots": base_done,
        "shots_fired": int(shot.sum()),
        "shots_pending_known": int(sum(s - f for _, f, s in pending)),
        "uncommitted": int(table.n_uncommitted.sum()),
        "fraction_in_range": float(np.mean((p_b > low) & (p_b < high))) if len(p_b) else None,
        "p_b_histogram_10_bins": np.histogram(p_b[np.isfinite(p_b)], bins=10, range=(0, 1))[0].tolist(),
        "worker_seconds_per_shot": seconds / timed_shots if timed_shots else None,
        "steps_per_shot": steps / timed_shots if timed_shots else None,
    })
    if timed_shots and base_done:
        # top-ups not yet known: configurations still without shots, topped up as often as so far
        topped = sum(needs_topup(config, table, i) for i in range(n)) / base_done
        expected = (n - base_done) * topped * max(0, config.topup_shots - config.n_shots)
        out["estimated_remaining_worker_hours"] = round(
            (out["shots_pending_known"] + expected) * seconds / timed_shots / 3600, 2)
    return out
