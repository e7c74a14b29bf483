"""Torsion featurisation (45 torsions of alanine dipeptide) against mdtraj, before and after issue 11.

The vacuum set's 2,000 shooting configurations (``configurations.xtc``) are loaded into memory once, by
MDAnalysis (``transfer_to_memory``) and by mdtraj (``mdtraj.load``); then the best of ``--repeats`` times
of ``committor_keras.md.featurise(universe)`` (this checkout, ``after``, and ``--before`` in its own
process) is compared with ``mdtraj.compute_dihedrals`` of the same 45 atom quadruples. The angles are
compared too (largest difference in degrees, on the circle). Writes bench/results/torsions.json.

Usage: python -m bench.bench_torsions [--repeats 5]
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

from bench._common import BEFORE, ROOT, before_dir, record, run_worker

FOLDER = ROOT / "data" / "alanine_dipeptide_vacuum"


def _best(function, repeats):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _universe():
    import MDAnalysis as mda

    warnings.simplefilter("ignore")
    universe = mda.Universe(str(FOLDER / "system.pdb"), str(FOLDER / "configurations.xtc"))
    universe.transfer_to_memory()
    return universe


def worker(repeats, with_mdtraj):
    """Seconds of featurise (and of mdtraj); angles saved for the comparison (run in its own process)."""
    from committor_keras.md import featurise

    universe = _universe()
    seconds, features = _best(lambda: featurise(universe), repeats)
    result = {"featurise_s": seconds, "frames": len(features.features), "torsions": len(features.torsion_names)}
    if with_mdtraj:
        import mdtraj

        from committor_keras.md._features import TorsionFeatures

        torsions = TorsionFeatures(universe)
        quads = torsions.solute.indices[torsions.torsions]
        trajectory = mdtraj.load(str(FOLDER / "configurations.xtc"), top=str(FOLDER / "system.pdb"))
        result["mdtraj_s"], reference = _best(lambda: mdtraj.compute_dihedrals(trajectory, quads, periodic=False),
                                              repeats)
        difference = (features.angles - np.degrees(reference) + 180.0) % 360.0 - 180.0
        result["max_abs_difference_deg"] = float(np.abs(difference).max())
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", default=str(BEFORE))
    parser.add_argument("--out", default="bench/results/torsions.json")
    parser.add_argument("--worker", choices=("after", "before"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.repeats, with_mdtraj=args.worker == "after")))
        return 0
    load = os.getloadavg()
    runs = {name: run_worker([sys.executable, "-m", "bench.bench_torsions", "--worker", name, "--repeats",
                              str(args.repeats)], before_dir(args.before) if name == "before" else ROOT)
            for name in ("after", "before")}
    after, before = runs["after"], runs["before"]
    print(f"featurise: after {after['featurise_s']:.4f} s, before {before['featurise_s']:.4f} s; mdtraj "
          f"{after['mdtraj_s']:.4f} s; largest difference {after['max_abs_difference_deg']:.2e} degrees")
    record(args.out, {
        "benchmark": f"torsions ({after['torsions']}) of {after['frames']} in-memory frames: featurise vs mdtraj",
        "goal": "after <= mdtraj, same angles", "after": after, "before": before,
        "after_over_mdtraj_time": after["featurise_s"] / after["mdtraj_s"],
        "met": after["featurise_s"] <= after["mdtraj_s"], "load_average_start": load,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
