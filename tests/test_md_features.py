"""MDAnalysis featurisers: torsion enumeration and values, solvent ESP against brute-force periodic sums."""

import itertools
import warnings

import numpy as np
import pytest

mda = pytest.importorskip("MDAnalysis")
app = pytest.importorskip("openmm.app")
unit = pytest.importorskip("openmm.unit")

from MDAnalysis.coordinates.memory import MemoryReader  # noqa: E402
from MDAnalysis.lib.distances import apply_PBC  # noqa: E402
from MDAnalysis.lib.mdamath import triclinic_vectors  # noqa: E402

from committor_keras._errors import CommittorKerasError, DataError  # noqa: E402
from committor_keras.md._features import (  # noqa: E402
    DEFAULT_SOLUTE, DistanceFeatures, SolventPotential, TorsionFeatures, featurise, universe_from_openmm)
from committor_keras.md._features_esp import COULOMB_KJ_NM, WATER_MODELS  # noqa: E402

pytestmark = [pytest.mark.md, pytest.mark.filterwarnings("ignore::UserWarning")]

# ACE-ALA-NME (tleap's extended build) in the seed's numbering, without CONECT records.
ALA_PDB = """\
ATOM      1  H1  ACE     1       2.000   1.000  -0.000  1.00  0.00           H
ATOM      2  CH3 ACE     1       2.000   2.090   0.000  1.00  0.00           C
ATOM      3  H2  ACE     1       1.486   2.454   0.890  1.00  0.00           H
ATOM      4  H3  ACE     1       1.486   2.454  -0.890  1.00  0.00           H
ATOM      5  C   ACE     1       3.427   2.641  -0.000  1.00  0.00           C
ATOM      6  O   ACE     1       4.391   1.877  -0.000  1.00  0.00           O
ATOM      7  N   ALA     2       3.555   3.970  -0.000  1.00  0.00           N
ATOM      8  H   ALA     2       2.733   4.556  -0.000  1.00  0.00           H
ATOM      9  CA  ALA     2       4.853   4.614  -0.000  1.00  0.00           C
ATOM     10  HA  ALA     2       5.408   4.316   0.890  1.00  0.00           H
ATOM     11  CB  ALA     2       5.661   4.221  -1.232  1.00  0.00           C
ATOM     12  HB1 ALA     2       5.123   4.521  -2.131  1.00  0.00           H
ATOM     13  HB2 ALA     2       6.630   4.719  -1.206  1.00  0.00           H
ATOM     14  HB3 ALA     2       5.809   3.141  -1.241  1.00  0.00           H
ATOM     15  C   ALA     2       4.713   6.129   0.000  1.00  0.00           C
ATOM     16  O   ALA     2       3.601   6.653   0.000  1.00  0.00           O
ATOM     17  N   NME     3       5.846   6.835   0.000  1.00  0.00           N
ATOM     18  H   NME     3       6.737   6.359  -0.000  1.00  0.00           H
ATOM     19  C   NME     3       5.846   8.284   0.000  1.00  0.00           C
ATOM     20  H1  NME     3       4.819   8.648   0.000  1.00  0.00           H
ATOM     21  H2  NME     3       6.360   8.648   0.890  1.00  0.00           H
ATOM     22  H3  NME     3       6.360   8.648  -0.890  1.00  0.00           H
END
"""
ALA_BONDS = {(1, 2), (2, 3), (2, 4), (2, 5), (5, 6), (5, 7), (7, 8), (7, 9), (9, 10), (9, 11), (11, 12),
             (11, 13), (11, 14), (9, 15), (15, 16), (15, 17), (17, 18), (17, 19), (19, 20), (19, 21), (19, 22)}
K_E = COULOMB_KJ_NM * 10.0  # kJ/mol/e per (e / Angstrom)


@pytest.fixture(scope="module")
def ala_pdb(tmp_path_factory):
    path = tmp_path_factory.mktemp("ala") / "ala.pdb"
    path.write_text(ALA_PDB)
    return path


@pytest.fixture(scope="module")
def solvated(ala_pdb):
    """OpenMM Modeller water boxes around the dipeptide: {shape: (topology, positions nm, box vectors nm)}."""
    pdb = app.PDBFile(str(ala_pdb))
    forcefield = app.ForceField("amber14-all.xml", "amber14/tip3p.xml")
    boxes = {}
    for shape in ("cube", "dodecahedron"):
        modeller = app.Modeller(pdb.topology, pdb.positions)
        modeller.addSolvent(forcefield, model="tip3p", padding=0.6 * unit.nanometer, boxShape=shape)
        boxes[shape] = (modeller.topology, np.array(modeller.positions.value_in_unit(unit.nanometer)),
                        np.array(modeller.topology.getPeriodicBoxVectors().value_in_unit(unit.nanometer)))
    return boxes


def shaken_frames(positions_nm, box_nm, n_frames, seed, noise_nm=0.03):
    """Perturbed copies of a configuration, translated at random and wrapped atom by atom into the cell,
    so molecules are broken across the boundary as in per-atom-wrapped trajectories."""
    rng = np.random.default_rng(seed)
    frames = positions_nm[None] + rng.normal(0.0, noise_nm, (n_frames, *positions_nm.shape))
    frames += rng.uniform(-2.0, 2.0, (n_frames, 1, 3))
    if box_nm is None:
        return frames
    dimensions = mda.lib.mdamath.triclinic_box(*(10.0 * box_nm))
    return np.array([apply_PBC((10.0 * f).astype(np.float32), dimensions) / 10.0 for f in frames])


def numpy_dihedral(p0, p1, p2, p3):
    """IUPAC dihedral in degrees, (n, 3) arrays; independent of MDAnalysis."""
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1 = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - np.sum(b0 * b1, axis=-1, keepdims=True) * b1
    w = b2 - np.sum(b2 * b1, axis=-1, keepdims=True) * b1
    x = np.sum(v * w, axis=-1)
    y = np.sum(np.cross(b1, v) * w, axis=-1)
    return np.degrees(np.arctan2(y, x))


def angle_difference(a, b):
    return np.abs((a - b + 180.0) % 360.0 - 180.0)


# ------------------------------------------------------------------ torsions


def test_alanine_dipeptide_has_41_proper_and_4_improper_torsions_named_by_element(ala_pdb):
    torsions = TorsionFeatures(mda.Universe(str(ala_pdb)))
    assert torsions.torsion_kinds.count("proper") == 41
    assert torsions.torsion_kinds.count("improper") == 4
    # An acyclic molecule has sum over bonds j-k of (deg j - 1)(deg k - 1) proper dihedrals.
    degree = np.bincount(torsions.bonds.ravel(), minlength=22)
    assert sum((degree[j] - 1) * (degree[k] - 1) for j, k in torsions.bonds) == 41
    assert {tuple(b + 1) for b in torsions.bonds} == ALA_BONDS
    bonded = {frozenset(b) for b in torsions.bonds.tolist()}
    for quad, kind in zip(torsions.torsions, torsions.torsion_kinds):
        if kind == "proper":
            assert all(frozenset(quad[m:m + 2]) in bonded for m in range(3)) and quad[1] < quad[2]
        else:
            assert all(frozenset((quad[0], n)) in bonded for n in quad[1:])
    improper = [n for n, k in zip(torsions.torsion_names, torsions.torsion_kinds) if k == "improper"]
    assert improper == ["C5-C2-O6-N7", "N7-C5-H8-C9", "C15-C9-O16-N17", "N17-C15-H18-C19"]
    assert torsions.feature_aliases == {"C5-N7-C9-C15": "phi", "N7-C9-C15-N17": "psi",
                                        "O6-C5-N7-C9": "theta"}
    assert len(torsions.feature_names) == 90 == len(set(torsions.feature_names))
    assert torsions.feature_groups["C5-N7-C9-C15"] == ["sin(C5-N7-C9-C15)", "cos(C5-N7-C9-C15)"]
    grouped = [name for names in torsions.feature_groups.values() for name in names]
    assert sorted(grouped) == sorted(torsions.feature_names)
    assert set(torsions.units) == set(torsions.feature_names)


def test_element_labels_do_not_depend_on_atom_order_and_aliases_follow_the_chemistry(ala_pdb, tmp_path):
    lines = ALA_PDB.splitlines()[:22]
    order = np.random.default_rng(3).permutation(22)
    shuffled = tmp_path / "shuffled.pdb"
    shuffled.write_text("\n".join(lines[i][:6] + f"{n + 1:5d}" + lines[i][11:] for n, i in enumerate(order))
                        + "\nEND\n")
    reference = TorsionFeatures(mda.Universe(str(ala_pdb))).run()
    permuted = TorsionFeatures(mda.Universe(str(shuffled))).run()
    assert len(permuted.torsions) == 45
    assert sorted(permuted.feature_aliases.values()) == ["phi", "psi", "theta"]
    for name, alias in permuted.feature_aliases.items():
        # The aliased torsion is the same four atoms, numbered by their new positions.
        original = [int(order[int("".join(filter(str.isdigit, label))) - 1]) for label in name.split("-")]
        assert reference.feature_aliases[reference.torsion_names[_find(reference.torsions, original)]] == alias
        assert angle_difference(permuted.results.angles[0, permuted.torsion_names.index(name)],
                                reference.results.angles[0, _find(reference.torsions, original)]) < 1e-4


def _find(torsions, quad):
    for index, row in enumerate(torsions.tolist()):
        if row in (quad, quad[::-1]):
            return index
    raise AssertionError(f"{quad} not found")


def test_a_generic_solute_gets_no_aliases(ala_pdb):
    torsions = TorsionFeatures(mda.Universe(str(ala_pdb)).select_atoms("resname ALA"))
    assert torsions.feature_aliases == {}
    # Numbered within the solute group: N7, C9, C11, H12 of the dipeptide are N1, C3, C5, H6 of ALA.
    assert "N1-C3-C5-H6" in torsions.torsion_names


def test_dihedrals_match_numpy_on_perturbed_frames_and_sin_cos_are_consistent(ala_pdb):
    universe = mda.Universe(str(ala_pdb))
    rng = np.random.default_rng(0)
    frames = universe.atoms.positions[None] + rng.normal(0.0, 0.6, (12, 22, 3))
    frames[0] = universe.atoms.positions  # bonds are guessed on the current (first) frame
    universe.load_new(frames.astype(np.float32), format=MemoryReader)
    torsions = TorsionFeatures(universe).run()
    xyz = universe.trajectory.timeseries(order="fac").astype(np.float64)
    expected = np.stack([numpy_dihedral(*(xyz[:, q[k]] for k in range(4))) for q in torsions.torsions], axis=1)
    assert angle_difference(torsions.results.angles, expected).max() < 1e-3
    assert np.ptp(torsions.results.angles) > 300  # the frames cover the whole circle
    features = torsions.results.features
    assert features.shape == (12, 90) and features.dtype == np.float64
    sin, cos = features[:, 0::2], features[:, 1::2]
    np.testing.assert_allclose(sin ** 2 + cos ** 2, 1.0, atol=1e-12)
    np.testing.assert_allclose(angle_difference(np.degrees(np.arctan2(sin, cos)), torsions.results.angles), 0,
                               atol=1e-9)
    assert torsions.feature_names[0::2] == tuple(f"sin({n})" for n in torsions.torsion_names)


def test_planar_centres_have_zero_impropers_and_pyramidalisation_flips_the_sign(ala_pdb):
    universe = mda.Universe(str(ala_pdb), in_memory=True)  # so that edited positions are what run() reads
    torsions = TorsionFeatures(universe).run()
    improper = [i for i, k in enumerate(torsions.torsion_kinds) if k == "improper"]
    assert angle_difference(torsions.results.angles[0, improper], 0.0).max() < 0.5  # tleap builds planar
    xyz = universe.atoms.positions.copy()
    angles = []
    for sign in (1.0, -1.0):
        moved = xyz.copy()
        moved[6, 2] += sign * 0.3  # push N7 out of the plane of C5, H8, C9
        universe.atoms.positions = moved
        angles.append(TorsionFeatures(universe).run().results.angles[0, torsions.torsion_names.index("N7-C5-H8-C9")])
    assert angles[0] * angles[1] < 0
    assert all(1.0 < abs(angle) < 60.0 for angle in angles)


def test_bonds_from_an_openmm_topology_and_guessed_bonds_give_the_same_torsions(ala_pdb, solvated):
    topology, positions, box = solvated["dodecahedron"]
    from_topology = TorsionFeatures(universe_from_openmm(topology, positions, box), bonds="topology")
    guessed = TorsionFeatures(mda.Universe(str(ala_pdb)), bonds="guess")
    assert from_topology.torsion_names == guessed.torsion_names
    np.testing.assert_array_equal(from_topology.bonds, guessed.bonds)


def test_universe_from_openmm_holds_every_frame_and_box_without_warnings(solvated):
    topology, positions, box = solvated["dodecahedron"]
    frames = np.stack([positions, positions + 0.05])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # make-dataset printed "No coordinate reader found" for every data set
        universe = universe_from_openmm(topology, frames, box)
    assert universe.trajectory.n_frames == 2
    for frame, ts in enumerate(universe.trajectory):
        np.testing.assert_allclose(ts.positions, 10 * frames[frame], atol=1e-4)
        np.testing.assert_allclose(triclinic_vectors(ts.dimensions), 10 * box, atol=1e-3)


def test_partial_conect_records_fall_back_to_guessed_bonds(solvated, tmp_path):
    topology, positions, box = solvated["cube"]
    path = tmp_path / "solvated.pdb"
    with open(path, "w") as handle:
        app.PDBFile.writeFile(topology, positions * unit.nanometer, handle)  # CONECT for ACE/NME/HOH only
    universe = mda.Universe(str(path))
    assert TorsionFeatures(universe).torsion_kinds.count("proper") == 41
    with pytest.raises(DataError, match="has no bonds"):
        TorsionFeatures(universe.select_atoms("resname ALA"), bonds="topology")
    with pytest.raises(DataError, match="no torsions"):
        TorsionFeatures(universe.residues[3].atoms)  # one water


# ------------------------------------------------------------------ solvent potential


def brute_force_potential(solute, sites, charges, molecule, reference, box_vectors, cutoff=None,
                          molecule_image=True):
    """ESP by explicit loops over the 125 periodic images n in {-2..2}^3 (Angstrom in, kJ/mol/e out)."""
    shifts = np.array(list(itertools.product(range(-2, 3), repeat=3))) @ box_vectors

    def nearest(vectors):  # (..., 3) -> the image of each vector closest to the origin
        images = vectors[None] + shifts.reshape((len(shifts),) + (1,) * (vectors.ndim - 1) + (3,))
        best = np.argmin(np.linalg.norm(images, axis=-1), axis=0)
        return np.take_along_axis(images, best[None, ..., None], axis=0)[0]

    potential = np.zeros(len(solute))
    for a, x in enumerate(solute):
        if molecule_image:
            whole = nearest(sites - sites[reference][molecule])
            to_reference = nearest(sites[reference] - x)
            vectors = to_reference[molecule] + whole
            inside = np.linalg.norm(to_reference, axis=-1)[molecule] < (cutoff or np.inf)
        else:
            vectors = nearest(sites - x)
            inside = np.linalg.norm(vectors, axis=-1) < (cutoff or np.inf)
        potential[a] = K_E * np.sum(charges * inside / np.linalg.norm(vectors, axis=-1))
    return potential


@pytest.mark.parametrize("shape", ["cube", "dodecahedron"])
@pytest.mark.parametrize("molecule_image,cutoff_nm", [(True, None), (True, 0.8), (False, None)])
def test_esp_matches_brute_force_periodic_images(solvated, shape, molecule_image, cutoff_nm):
    topology, positions, box = solvated[shape]
    frames = shaken_frames(positions, box, n_frames=3, seed=1)
    universe = universe_from_openmm(topology, frames, box)
    esp = SolventPotential(universe, cutoff=cutoff_nm, molecule_image=molecule_image).run()
    assert esp.feature_names[17] == "ESP(H18)" and esp.units["ESP(H18)"] == "kJ/mol/e"
    assert esp.charge_source == "water model tip3p"
    np.testing.assert_allclose(np.unique(esp.charges), [WATER_MODELS["tip3p"]["O"], WATER_MODELS["tip3p"]["H"]])
    for frame, ts in enumerate(universe.trajectory):
        expected = brute_force_potential(
            esp.solute.positions.astype(np.float64), esp.solvent.positions.astype(np.float64), esp.charges,
            esp._molecule, esp._reference, triclinic_vectors(ts.dimensions).astype(np.float64),
            cutoff=None if cutoff_nm is None else 10 * cutoff_nm, molecule_image=molecule_image)
        # distance_array (per-site images) works in float32, minimize_vectors in float64.
        np.testing.assert_allclose(esp.results.potential[frame], expected, rtol=1e-6, atol=1e-3)
    assert np.abs(esp.results.features).max() > 10.0  # the sums are not trivially zero


def test_naive_rounding_is_wrong_in_a_triclinic_cell(solvated):
    """Rounding fractional coordinates is exact for a rectangular cell only: in a rhombic dodecahedron it
    picks wrong images for many pairs, and the potential is off by tens of kJ/mol/e."""
    errors = {}
    for shape in ("cube", "dodecahedron"):
        topology, positions, box = solvated[shape]
        universe = universe_from_openmm(topology, positions, box)
        esp = SolventPotential(universe).run()
        vectors = triclinic_vectors(universe.dimensions).astype(np.float64)
        solute, sites = esp.solute.positions.astype(np.float64), esp.solvent.positions.astype(np.float64)

        def rounded(v):
            return v - np.round(v @ np.linalg.inv(vectors)) @ vectors

        whole = rounded(sites - sites[esp._reference][esp._molecule])
        to_reference = rounded(sites[esp._reference][None] - solute[:, None])
        naive = K_E * (1.0 / np.linalg.norm(to_reference[:, esp._molecule] + whole, axis=-1)) @ esp.charges
        errors[shape] = np.abs(naive - esp.results.potential[0]).max()
    assert errors["cube"] < 1e-6
    assert errors["dodecahedron"] > 10.0


def test_per_molecule_images_keep_waters_neutral_and_ignore_how_atoms_were_wrapped(solvated):
    topology, positions, box = solvated["dodecahedron"]
    whole = universe_from_openmm(topology, positions, box)
    wrapped = universe_from_openmm(topology, shaken_frames(positions, box, 1, seed=5, noise_nm=0.0), box)
    by_molecule = [SolventPotential(u).run().results.potential[0] for u in (whole, wrapped)]
    np.testing.assert_allclose(by_molecule[0], by_molecule[1], atol=1e-3)
    esp = SolventPotential(whole)
    assert np.allclose(np.bincount(esp._molecule, weights=esp.charges), 0.0)
    # Per-site images split the waters near the image boundary into charged fragments: a different answer.
    by_atom = SolventPotential(whole, molecule_image=False).run().results.potential[0]
    assert np.abs(by_atom - by_molecule[0]).max() > 10.0


def test_esp_charges_come_from_the_topology_when_present(solvated):
    topology, positions, box = solvated["cube"]
    universe = universe_from_openmm(topology, positions, box)
    table = SolventPotential(universe, water_model="spce").run()
    assert table.charge_source == "water model spce"
    charges = np.where(np.char.startswith(universe.atoms.names.astype(str), "O"), -0.8476, 0.4238)
    universe.add_TopologyAttr("charges", charges)
    from_topology = SolventPotential(universe, water_model="tip3p").run()
    assert from_topology.charge_source == "topology"
    np.testing.assert_allclose(from_topology.results.potential, table.results.potential, rtol=1e-10)
    scaled = SolventPotential(universe, charges=2.0 * from_topology.charges).run()
    np.testing.assert_allclose(scaled.results.potential, 2.0 * table.results.potential, rtol=1e-10)


def test_esp_errors_name_the_fix(solvated, ala_pdb):
    topology, positions, box = solvated["cube"]
    universe = universe_from_openmm(topology, positions, box)
    with pytest.raises(CommittorKerasError, match="unknown water model 'tip5p'"):
        SolventPotential(universe, water_model="tip5p")
    with pytest.raises(DataError, match="'M'"):  # TIP4P charges sit on a virtual site this water lacks
        SolventPotential(universe, water_model="tip4p-ew")
    with pytest.raises(DataError, match="matched no atoms"):
        SolventPotential(mda.Universe(str(ala_pdb)))
    with pytest.raises(DataError, match="share atoms"):
        SolventPotential(universe, solvent="all")


# ------------------------------------------------------------------ distances, featurise, file formats


def test_heavy_atom_distances_in_nm_match_numpy(ala_pdb):
    distances = DistanceFeatures(mda.Universe(str(ala_pdb))).run()
    assert len(distances.feature_names) == 45 and distances.feature_names[0] == "d(C2-C5)"
    xyz = mda.Universe(str(ala_pdb)).atoms.positions.astype(np.float64)
    expected = np.linalg.norm(xyz[distances.pairs[:, 0]] - xyz[distances.pairs[:, 1]], axis=-1) / 10.0
    np.testing.assert_allclose(distances.results.distances[0], expected, rtol=1e-6)
    assert set(distances.units.values()) == {"nm"}


@pytest.mark.parametrize("extension", ["dcd", "xtc"])
def test_featurise_a_trajectory_written_to_disk(solvated, tmp_path, extension):
    topology, positions, box = solvated["dodecahedron"]
    frames = shaken_frames(positions, box, n_frames=6, seed=2)
    memory = universe_from_openmm(topology, frames, box)
    pdb, trajectory = tmp_path / "top.pdb", tmp_path / f"traj.{extension}"
    memory.atoms.write(str(pdb))
    with mda.Writer(str(trajectory), memory.atoms.n_atoms) as writer:
        for _ in memory.trajectory:
            writer.write(memory.atoms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        universe = mda.Universe(str(pdb), str(trajectory))
    result = featurise(universe, esp=True, distances=True, step=2)
    assert result.features.shape == (3, 90 + 22 + 45) and result.features.dtype == np.float64
    np.testing.assert_array_equal(result.frames, [0, 2, 4])
    assert len(set(result.feature_names)) == 157 and result.feature_names[90 + 17] == "ESP(H18)"
    assert result.metadata["feature_aliases"] == {"C5-N7-C9-C15": "phi", "N7-C9-C15-N17": "psi",
                                                  "O6-C5-N7-C9": "theta"}
    assert set(result.metadata["units"]) == set(result.feature_names)
    assert len(result.metadata["feature_groups"]) == 45 and result.angles.shape == (3, 45)
    assert result.settings["esp"]["image"] == "molecule"
    # The file's own (rounded: XTC keeps 0.001 nm) coordinates, in memory, give the same features.
    stored = universe.trajectory.timeseries(order="fac") / 10.0
    reference = featurise(universe_from_openmm(topology, stored, box), esp=True, distances=True, step=2)
    assert result.feature_names == reference.feature_names
    np.testing.assert_allclose(result.features, reference.features, rtol=1e-6, atol=1e-4)
    assert angle_difference(result.angles, featurise(memory, step=2).angles).max() < 2.0


def test_featurise_in_one_pass_equals_the_separate_analyses(solvated):
    topology, positions, box = solvated["cube"]
    universe = universe_from_openmm(topology, shaken_frames(positions, box, n_frames=4, seed=4), box)
    stacked = featurise(universe, esp=True, frames=[3, 1])
    np.testing.assert_array_equal(stacked.frames, [3, 1])
    torsions = TorsionFeatures(universe).run(frames=[3, 1])
    esp = SolventPotential(universe.select_atoms(DEFAULT_SOLUTE)).run(frames=[3, 1])
    np.testing.assert_array_equal(stacked.features, np.hstack([torsions.results.features,
                                                               esp.results.features]))
    assert stacked.metadata == {"feature_groups": torsions.metadata["feature_groups"],
                                "feature_aliases": torsions.metadata["feature_aliases"],
                                "units": {**torsions.units, **esp.units}}


def test_parallel_backend_matches_serial(solvated):
    topology, positions, box = solvated["cube"]
    universe = universe_from_openmm(topology, shaken_frames(positions, box, n_frames=4, seed=6), box)
    serial = TorsionFeatures(universe).run()
    parallel = TorsionFeatures(universe).run(backend="multiprocessing", n_workers=2)
    np.testing.assert_array_equal(serial.results.features, parallel.results.features)


def test_the_shipped_alanine_dipeptide_structure_is_recognised():
    import importlib.resources

    structure = importlib.resources.files("committor_keras.md") / "structures" / "alanine_dipeptide.pdb"
    if not structure.is_file():
        pytest.skip("committor_keras/md/structures/alanine_dipeptide.pdb is not shipped")
    with importlib.resources.as_file(structure) as path:
        torsions = TorsionFeatures(mda.Universe(str(path))).run()
    assert torsions.feature_aliases == {"C5-N7-C9-C15": "phi", "N7-C9-C15-N17": "psi", "O6-C5-N7-C9": "theta"}
    assert len(torsions.torsions) == 45


@pytest.mark.parametrize("selection", [{}, {"start": 5, "stop": 900, "step": 7}, {"frames": [3, 1, 1999, 40]}])
def test_in_memory_torsions_equal_those_read_frame_by_frame(selection):
    """An in-memory trajectory skips the pass over the frames; the shipped file read frame by frame agrees."""
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "data" / "alanine_dipeptide_vacuum"
    on_disk = mda.Universe(str(folder / "system.pdb"), str(folder / "configurations.xtc"))
    in_memory = mda.Universe(str(folder / "system.pdb"), str(folder / "configurations.xtc"))
    in_memory.transfer_to_memory()
    assert isinstance(in_memory.trajectory, MemoryReader)
    read, fast = featurise(on_disk, **selection), featurise(in_memory, **selection)
    np.testing.assert_array_equal(fast.features, read.features)
    np.testing.assert_array_equal(fast.angles, read.angles)
    np.testing.assert_array_equal(fast.frames, read.frames)
    np.testing.assert_array_equal(fast.times, read.times)


def test_angles_of_coordinates_equal_featurise_with_the_set_up_done_once():
    """A featuriser built once applies its torsions to coordinate arrays (as mdtraj.compute_dihedrals takes
    indices): the same values as featurise, also for the minimum image of a boxed trajectory."""
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "data" / "alanine_dipeptide_vacuum"
    universe = mda.Universe(str(folder / "system.pdb"), str(folder / "configurations.xtc"))
    universe.transfer_to_memory()
    torsions = TorsionFeatures(universe)
    coordinates = universe.trajectory.coordinate_array
    np.testing.assert_array_equal(torsions.angles_of(coordinates), featurise(universe).angles)
    np.testing.assert_array_equal(torsions.angles_of(coordinates[[7, 3]]), featurise(universe, frames=[7, 3]).angles)
    boxed = mda.Universe(str(folder / "system.pdb"), coordinates[:5].copy(), dimensions=[12.0, 12.0, 12.0, 90, 90, 90])
    boxes = boxed.trajectory.dimensions_array
    np.testing.assert_array_equal(TorsionFeatures(boxed).angles_of(coordinates[:5], boxes), featurise(boxed).angles)
