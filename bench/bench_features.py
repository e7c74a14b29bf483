"""Time the MDAnalysis featurisers on ~1,000 frames of solvated alanine dipeptide (~1,800 atoms).

The frames are random perturbations (0.02 nm) of one OpenMM-solvated configuration in a rhombic
dodecahedron, written to DCD and XTC in a temporary folder: the cost of featurising does not depend on the
physics of the frames. Writes bench/results/bench_features.json.

Usage: python -m bench.bench_features [--frames 1000] [--waters 593] [--out bench/results/bench_features.json]
"""

import argparse
import importlib.resources
import os
import platform
import tempfile
import warnings
from pathlib import Path

import numpy as np

from bench._common import timed
from committor_keras._provenance import library_versions, write_json_atomic

def solvated_system(n_waters):
    """(OpenMM topology, frames nm, box vectors nm) of ACE-ALA-NME in TIP3P."""
    from openmm import app, unit

    structure = importlib.resources.files("committor_keras.md") / "structures" / "alanine_dipeptide.pdb"
    with importlib.resources.as_file(structure) as path:
        pdb = app.PDBFile(str(path))
    forcefield = app.ForceField("amber14-all.xml", "amber14/tip3p.xml")
    modeller = app.Modeller(pdb.topology, pdb.positions)
    modeller.addSolvent(forcefield, model="tip3p", numAdded=n_waters, boxShape="dodecahedron")
    positions = np.array(modeller.positions.value_in_unit(unit.nanometer))
    box = np.array(modeller.topology.getPeriodicBoxVectors().value_in_unit(unit.nanometer))
    return modeller.topology, positions, box


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--waters", type=int, default=593)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench/results/bench_features.json")
    args = parser.parse_args(argv)

    import MDAnalysis as mda

    from committor_keras.md._features import featurise, universe_from_openmm

    warnings.simplefilter("ignore")
    topology, positions, box = solvated_system(args.waters)
    rng = np.random.default_rng(args.seed)
    frames = positions[None] + rng.normal(0.0, 0.02, (args.frames, *positions.shape))
    memory = universe_from_openmm(topology, frames, box)
    cases = {
        "torsions": {},
        "torsions+esp": {"esp": True},
        "torsions+esp+distances": {"esp": True, "distances": True},
        "esp(cutoff 1.0 nm)": {"torsions": False, "esp": True, "esp_cutoff": 1.0},
        "distances": {"torsions": False, "distances": True},
    }
    results = {"n_frames": args.frames, "n_atoms": int(memory.atoms.n_atoms), "box": "rhombic dodecahedron",
               "box_vectors_nm": box.tolist(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
               "versions": library_versions(), "seconds": {}}
    with tempfile.TemporaryDirectory() as folder:
        pdb = Path(folder) / "top.pdb"
        memory.atoms.write(str(pdb))
        for extension in ("dcd", "xtc"):
            trajectory = Path(folder) / f"traj.{extension}"
            with mda.Writer(str(trajectory), memory.atoms.n_atoms) as writer:
                for _ in memory.trajectory:
                    writer.write(memory.atoms)
            universe = mda.Universe(str(pdb), str(trajectory))
            read, _ = timed(lambda u=universe: [ts.frame for ts in u.trajectory])
            results["seconds"][f"{extension}: read only"] = read
            for name, options in cases.items():
                seconds, features = timed(lambda u=universe, o=options: featurise(u, **o))
                results["seconds"][f"{extension}: {name}"] = seconds
                results.setdefault("n_features", {})[name] = features.features.shape[1]
    results["frames_per_second"] = {k: args.frames / v for k, v in results["seconds"].items()}
    write_json_atomic(args.out, results)
    for name, seconds in results["seconds"].items():
        print(f"{name:36s} {seconds:7.2f} s  {args.frames / seconds:8.0f} frames/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
