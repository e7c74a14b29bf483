"""Featurisation against reference implementations, before and after issue 11: torsions and solvent ESP.

Torsions: the vacuum set's 2,000 shooting configurations (``configurations.xtc``) are loaded into memory
once, by MDAnalysis (``transfer_to_memory``) and by mdtraj (``mdtraj.load``); loading is timed on neither
side. Best of ``--repeats`` times of:

- ``featurise_s``: ``committor_keras.md.featurise(universe)`` (this checkout, ``after``, and ``--before``
  in its own process), everything a call does: the solute selection, the bond and torsion enumeration
  from the topology (the set-up), AnalysisBase's run machinery, the 45 angles and their 90 sin/cos;
- ``setup_s``: the set-up alone, ``TorsionFeatures(universe)`` (selection, bonds, torsions, names);
- ``angles_s``: the angles alone with the set-up done once, ``torsions.angles_of(coordinate_array)``
  (degrees; indices precomputed, no trajectory machinery);
- ``mdtraj_s``: ``mdtraj.compute_dihedrals(trajectory, quadruples, periodic=False)`` with the same
  quadruples, precomputed (radians; mdtraj has no enumeration of all torsions to time).

The fair pair is ``angles_s`` against ``mdtraj_s`` (both: indices given, angles of every frame); both are
reported, with and without the set-up, and the angles are compared (largest difference in degrees, on the
circle).

ESP: the 22 solvent ESP values of the water set's 1,045 configurations (truncated-octahedron cell, ~520
waters), ``featurise(universe, torsions=False, esp=True)`` against a vectorised NumPy reference of the same
convention (each water whole, in the minimum image of its oxygen, found among the 27 neighbouring images
after wrapping; the same charges), and the largest difference of the values.
Writes bench/results/featurisation.json.

Usage: python -m bench.bench_featurisation [--repeats 5]
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np

from bench._common import BEFORE, ROOT, before_dir, record, run_worker, timed

FOLDER = ROOT / "data" / "alanine_dipeptide_vacuum"
WATER = ROOT / "data" / "alanine_dipeptide_water"


def _universe(folder=FOLDER):
    import MDAnalysis as mda

    warnings.simplefilter("ignore")
    universe = mda.Universe(str(folder / "system.pdb"), str(folder / "configurations.xtc"))
    universe.transfer_to_memory()
    return universe


def reference_esp(universe, solute, solvent, charges):
    """ESP (kJ/mol/e) at the solute atoms of every frame, in NumPy: whole waters, 27-image minimum image."""
    import itertools

    from MDAnalysis.lib.mdamath import triclinic_vectors

    _, reference, molecule = np.unique(solvent.resindices, return_index=True, return_inverse=True)
    images = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=np.float64)
    potentials = []
    for ts in universe.trajectory:
        box = triclinic_vectors(ts.dimensions).astype(np.float64)
        inverse, shifts = np.linalg.inv(box), images @ box

        def minimum_image(vectors):
            vectors = vectors - np.round(vectors @ inverse) @ box
            candidates = vectors[..., None, :] + shifts
            nearest = np.argmin(np.einsum("...k,...k->...", candidates, candidates), axis=-1)
            return np.take_along_axis(candidates, nearest[..., None, None], axis=-2)[..., 0, :]

        sites, atoms = solvent.positions.astype(np.float64), solute.positions.astype(np.float64)
        offsets = minimum_image(sites - sites[reference][molecule])
        vectors = minimum_image(sites[reference][None] - atoms[:, None])[:, molecule] + offsets[None]
        potentials.append(1389.35458 / np.sqrt(np.einsum("...k,...k->...", vectors, vectors)) @ charges)
    return np.array(potentials)


def worker(repeats, with_mdtraj):
    """Seconds of featurise (and of mdtraj); angles saved for the comparison (run in its own process)."""
    from committor_keras.md import featurise

    universe = _universe()
    seconds, features = timed(lambda: featurise(universe), repeats)
    result = {"featurise_s": seconds, "frames": len(features.features), "torsions": len(features.torsion_names)}
    try:
        from committor_keras.md._features import TorsionFeatures

        result["setup_s"], torsions = timed(lambda: TorsionFeatures(universe), repeats)
        coordinates = universe.trajectory.coordinate_array
        result["angles_s"], angles = timed(lambda: torsions.angles_of(coordinates), repeats)
        result["angles_max_abs_difference_to_featurise_deg"] = float(np.abs(angles - features.angles).max())
    except AttributeError:  # the code before has no angles_of
        pass
    water = _universe(WATER)
    result["esp_s"], esp = timed(lambda: featurise(water, torsions=False, esp=True), max(1, repeats // 2))
    result["esp_frames"], result["esp_values"] = esp.features.shape
    if with_mdtraj:
        import mdtraj

        from committor_keras.md._features import TorsionFeatures

        torsions = TorsionFeatures(universe)
        quads = torsions.solute.indices[torsions.torsions]
        trajectory = mdtraj.load(str(FOLDER / "configurations.xtc"), top=str(FOLDER / "system.pdb"))
        result["mdtraj_s"], reference = timed(lambda: mdtraj.compute_dihedrals(trajectory, quads, periodic=False),
                                              repeats)
        difference = (features.angles - np.degrees(reference) + 180.0) % 360.0 - 180.0
        result["max_abs_difference_deg"] = float(np.abs(difference).max())

        from committor_keras.md import SolventPotential

        potential = SolventPotential(water)
        result["esp_reference_s"], values = timed(
            lambda: reference_esp(water, potential.solute, potential.solvent, potential.charges), max(1, repeats // 2))
        result["esp_max_abs_difference"] = float(np.abs(values - esp.features).max())
        result["esp_max_abs_value"] = float(np.abs(values).max())
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", default=str(BEFORE))
    parser.add_argument("--out", default="bench/results/featurisation.json")
    parser.add_argument("--worker", choices=("after", "before"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.repeats, with_mdtraj=args.worker == "after")))
        return 0
    load = os.getloadavg()
    runs = {name: run_worker([sys.executable, "-m", "bench.bench_featurisation", "--worker", name, "--repeats",
                              str(args.repeats)], before_dir(args.before) if name == "before" else ROOT)
            for name in ("after", "before")}
    after, before = runs["after"], runs["before"]
    print(f"torsions: featurise after {after['featurise_s']:.4f} s, before {before['featurise_s']:.4f} s; set-up "
          f"{after['setup_s']:.4f} s; angles with the set-up done once {after['angles_s']:.4f} s; mdtraj "
          f"{after['mdtraj_s']:.4f} s; largest difference {after['max_abs_difference_deg']:.2e} degrees; load "
          f"{os.getloadavg()[0]:.1f}")
    print(f"ESP: after {after['esp_s']:.2f} s, before {before['esp_s']:.2f} s; NumPy reference "
          f"{after['esp_reference_s']:.2f} s; largest difference {after['esp_max_abs_difference']:.2e} kJ/mol/e")
    record(args.out, {
        "benchmark": f"torsions ({after['torsions']}) of {after['frames']} in-memory frames vs mdtraj; "
                     f"{after['esp_values']} solvent ESP values of {after['esp_frames']} water frames vs NumPy",
        "goal": "after <= mdtraj and <= the NumPy ESP, same values", "after": after, "before": before,
        "after_over_mdtraj_time": after["featurise_s"] / after["mdtraj_s"],
        "angles_over_mdtraj_time": after["angles_s"] / after["mdtraj_s"],
        "includes": {"featurise_s": "selection, bond and torsion enumeration, run machinery, angles, sin/cos",
                     "setup_s": "selection, bond and torsion enumeration (TorsionFeatures(universe))",
                     "angles_s": "angles only, set-up done once (TorsionFeatures.angles_of(coordinate_array))",
                     "mdtraj_s": "angles only, indices given (mdtraj.compute_dihedrals)"},
        "esp_after_over_reference_time": after["esp_s"] / after["esp_reference_s"],
        "met": {"torsions": after["angles_s"] <= after["mdtraj_s"],
                "torsions_with_setup": after["featurise_s"] <= after["mdtraj_s"],
                "esp": after["esp_s"] <= after["esp_reference_s"]},
        "load_averages": [load, os.getloadavg()],
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
