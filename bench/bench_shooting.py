"""Shooting-loop throughput vs the raw integrator: how much do state checks and per-shot setup cost?

For each system, fires shots from transition-region configurations with :class:`committor_keras.md.Shooter`
and compares the MD steps per second it achieves (committed steps over wall time, all per-shot work
included: re-seeding, velocities, constraints, a torsion check every ``check_every`` steps) with
``integrator.step`` run in one long call on the same context. Target: >= 85 %.

Run: ``.venv/bin/python -m bench.bench_shooting [--water]``; writes ``bench/results/shooting.json``.
"""

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

from committor_keras._provenance import library_versions, write_json_atomic
from committor_keras.md import _system
from committor_keras.md._config import Window, vacuum_preset, water_preset
from committor_keras.md._sampling import SYSTEM_PDB, load_configurations
from committor_keras.md._shooting import Shooter
from committor_keras.md._workdir import init, run

RESULTS = Path(__file__).resolve().parent / "results" / "shooting.json"


def _configurations(config, workdir, box_pdb=None):
    init(workdir, config)
    if box_pdb is not None:
        shutil.copy(box_pdb, Path(workdir) / SYSTEM_PDB)
    # only build + sample: shoot nothing here
    run(workdir, progress=False, max_minutes=0)
    frames, boxes, _ = load_configurations(workdir)
    return frames, boxes


def measure(config, workdir, shots, box_pdb=None, raw_steps=20000, rounds=5):
    """Steps/s of the shooting loop and of the raw integrator for one system."""
    frames, boxes = _configurations(config, workdir, box_pdb)
    topology, _ = _system.read_pdb(Path(workdir) / SYSTEM_PDB)
    shooter = Shooter(config, topology)
    shooter.shoot(frames[0], None if boxes is None else boxes[0], 0, [10**6])  # warm-up
    context, integrator = shooter._context, shooter._integrator
    # Other jobs share the machine: CPU time of this process, interleaved rounds, best round of each.
    loop_rates, raw_rates, total_steps, total_seconds = [], [], 0, 0.0
    for round_ in range(rounds):
        steps_round, start = 0, time.process_time()
        for i in range(len(frames)):
            _, steps = shooter.shoot(frames[i], None if boxes is None else boxes[i], i,
                                     range(round_ * shots, (round_ + 1) * shots))
            steps_round += sum(steps)
        seconds = time.process_time() - start
        loop_rates.append(steps_round / seconds)
        total_steps += steps_round
        total_seconds += seconds
        start = time.process_time()
        integrator.step(raw_steps)
        raw_rates.append(raw_steps / (time.process_time() - start))
    loop_rate, raw_rate = max(loop_rates), max(raw_rates)
    n_shots = rounds * len(frames) * shots
    return {"platform": config.platform, "atoms": topology.getNumAtoms(), "configurations": len(frames),
            "shots": n_shots, "shot_steps": total_steps, "rounds": rounds,
            "mean_steps_per_shot": round(total_steps / n_shots, 1),
            "check_every": config.check_every, "shooting_steps_per_s": round(loop_rate, 1),
            "raw_steps_per_s": round(raw_rate, 1), "efficiency": round(loop_rate / raw_rate, 3),
            "seconds_per_shot": round(total_seconds / n_shots, 5),
            "all_rounds_shooting": [round(r, 1) for r in loop_rates],
            "all_rounds_raw": [round(r, 1) for r in raw_rates]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--water", action="store_true", help="also measure the water box (slow, ~2 min)")
    args = parser.parse_args(argv)
    results = {"versions": library_versions(), "machine": platform.platform(), "processor": platform.processor(),
               "target_efficiency": 0.85, "systems": {}}
    with tempfile.TemporaryDirectory() as tmp:
        vacuum = vacuum_preset(seed=3).replace(windows=(Window(0.0, 2000.0, 20),), pull_ps=1.0,
                                               window_equilibration_ps=1.0)
        results["systems"]["vacuum"] = measure(vacuum, Path(tmp) / "vacuum", shots=10, raw_steps=60000)
        if args.water:
            water = water_preset(seed=3).replace(windows=(Window(5.0, 2000.0, 4),), pull_ps=1.0,
                                                 window_equilibration_ps=0.5, stride_steps=50)
            results["systems"]["water"] = measure(water, Path(tmp) / "water", shots=3,
                                                  box_pdb=_system.water_box_pdb_path(), raw_steps=600,
                                                  rounds=3)
    write_json_atomic(RESULTS, results)
    print(json.dumps(results["systems"], indent=2))
    return results


if __name__ == "__main__":
    main()
