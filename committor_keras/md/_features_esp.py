"""Electrostatic potential of the solvent at solute atoms: charges by water model and the periodic kernel.

Positions are in Angstrom (MDAnalysis' unit), potentials in kJ/mol/e. See docs/md.md, "Features", for the
conventions and why each water molecule is taken whole in one periodic image.
"""

import numpy as np
from MDAnalysis.lib.distances import distance_array, minimize_vectors

from .._errors import DataError

COULOMB_KJ_NM = 138.935458
"""Coulomb constant 1/(4 pi eps0) in kJ mol^-1 nm e^-2 (the value OpenMM and GROMACS use)."""

_COULOMB_KJ_ANGSTROM = COULOMB_KJ_NM * 10.0

WATER_MODELS = {
    "tip3p": {"O": -0.834, "H": 0.417},
    "spc": {"O": -0.82, "H": 0.41},
    "spce": {"O": -0.8476, "H": 0.4238},
    "tip4p": {"O": 0.0, "H": 0.52, "M": -1.04},
    "tip4pew": {"O": 0.0, "H": 0.52422, "M": -1.04844},
    "opc": {"O": 0.0, "H": 0.6791, "M": -1.3582},
}
"""Partial charges (e) by water model and site: oxygen ``O``, hydrogens ``H``, the virtual site ``M`` of
four-site models (named M, MW, EPW, OM, LP, ... in topologies)."""

ION_CHARGES = {"NA": 1.0, "NA+": 1.0, "SOD": 1.0, "K": 1.0, "K+": 1.0, "POT": 1.0,
               "CL": -1.0, "CL-": -1.0, "CLA": -1.0}
"""Charges (e) of monatomic ions by atom name (upper case), used with the water-model table."""

_OXYGEN_NAMES = ("O", "OW", "OH2")


def canonical_water_model(name):
    """``"TIP4P-Ew"`` -> ``"tip4pew"``; raises DataError for a model not in :data:`WATER_MODELS`."""
    key = "".join(ch for ch in str(name).lower() if ch.isalnum())
    if key not in WATER_MODELS:
        raise DataError("<arguments>", "water_model",
                        f"unknown water model {name!r}; use one of {sorted(WATER_MODELS)} or a topology "
                        "with charges (PSF, prmtop, TPR) or pass charges=")
    return key


def solvent_charges(solvent, water_model, source):
    """Per-atom charges of ``solvent`` from the topology if it has any, else from the water-model table.

    Args:
        solvent: the solvent AtomGroup.
        water_model: key of :data:`WATER_MODELS` used when the topology has no (non-zero) charges.
        source: file name for error messages.

    Returns:
        (charges float64 array, description of where they came from).
    """
    if hasattr(solvent, "charges") and np.any(np.asarray(solvent.charges) != 0.0):
        return np.asarray(solvent.charges, dtype=np.float64), "topology"
    model = canonical_water_model(water_model)
    table = WATER_MODELS[model]
    elements = solvent.elements if hasattr(solvent, "elements") else [""] * len(solvent)
    charges = np.empty(len(solvent))
    for i, (atom, element) in enumerate(zip(solvent, elements)):
        if len(atom.residue.atoms) == 1:
            charge = ION_CHARGES.get(atom.name.upper())
        else:
            charge = table.get(_water_site(atom.name, str(element)))
        if charge is None:
            raise DataError(source, "charges",
                            f"atom {atom.index} ({atom.resname} {atom.name}) is not a site of water model "
                            f"{model!r} {sorted(table)} nor a known ion; pick the right water_model, "
                            "narrow solvent=, or use a topology with charges")
        charges[i] = charge
    _check_neutral_waters(solvent, charges, model, source)
    return charges, f"water model {model}"


def _check_neutral_waters(solvent, charges, model, source):
    # A four-site model applied to three-site waters (no virtual site M) would leave each water charged.
    for residue, total in zip(solvent.residues, np.bincount(molecule_layout(solvent)[0], weights=charges)):
        if len(residue.atoms) > 1 and abs(total) > 1e-6:
            raise DataError(source, "charges",
                            f"water model {model!r} gives residue {residue.resname} {residue.resid} (atoms "
                            f"{list(residue.atoms.names)}) a net charge {total:+.4f} e: the model's sites "
                            f"{sorted(WATER_MODELS[model])} do not match this water ('M' is the virtual site); "
                            "pick the matching water_model")


def _water_site(name, element):
    element = element.strip().upper()
    name = name.strip().upper()
    if element == "O" or name in _OXYGEN_NAMES:
        return "O"
    if element == "H" or name.lstrip("0123456789").startswith("H"):
        return "H"
    return "M"


def molecule_layout(solvent):
    """(molecule index of each solvent atom, reference atom of each molecule) as int arrays.

    A molecule is a residue; its reference atom (the oxygen of a water) is its first atom in ``solvent``.
    """
    _, reference, molecule = np.unique(solvent.resindices, return_index=True, return_inverse=True)
    return molecule.astype(np.int64), reference.astype(np.int64)


def solvent_potential(solute_xyz, site_xyz, charges, molecule, reference, box=None, cutoff=None,
                      molecule_image=True, chunk_pairs=2_000_000):
    """Electrostatic potential (kJ/mol/e) of point charges at each solute position.

    Args:
        solute_xyz: (n, 3) solute positions, Angstrom.
        site_xyz: (m, 3) solvent charge sites, Angstrom.
        charges: (m,) charges, e.
        molecule: (m,) molecule index of each site; reference: (M,) site index of each molecule's reference.
        box: ``[a, b, c, alpha, beta, gamma]`` or None for no periodicity.
        cutoff: Angstrom, or None for every molecule (in its minimum image). With ``molecule_image`` the
            distance to the molecule's reference atom decides, so whole molecules enter or leave.
        molecule_image: True: each molecule is made whole and placed in the minimum image of its reference
            atom relative to the solute atom (neutral molecules stay neutral). False: every site in its own
            minimum image (one ``distance_array`` call).
        chunk_pairs: bound on solute x site pairs held in memory at once.

    Returns:
        (n,) float64 potentials.
    """
    solute_xyz = np.asarray(solute_xyz, dtype=np.float64)
    site_xyz = np.asarray(site_xyz, dtype=np.float64)
    if not molecule_image:
        distances = distance_array(solute_xyz, site_xyz, box=box)
        inverse = 1.0 / distances
        if cutoff is not None:
            inverse[distances >= cutoff] = 0.0
        return _COULOMB_KJ_ANGSTROM * inverse @ charges
    minimise = (lambda v: minimize_vectors(v, box)) if box is not None else (lambda v: v)
    # Whole molecules: every site relative to its molecule's reference atom.
    offsets = minimise(site_xyz - site_xyz[reference][molecule])
    references = site_xyz[reference]
    potential = np.empty(len(solute_xyz))
    rows = max(1, chunk_pairs // max(1, len(site_xyz)))
    for start in range(0, len(solute_xyz), rows):
        block = solute_xyz[start:start + rows]
        to_reference = minimise((references[None, :, :] - block[:, None, :]).reshape(-1, 3))
        to_reference = to_reference.reshape(len(block), len(references), 3)
        vectors = to_reference[:, molecule, :]
        vectors += offsets[None, :, :]
        inverse = 1.0 / _norm(vectors)
        if cutoff is not None:
            inverse *= (_norm(to_reference) < cutoff)[:, molecule]
        potential[start:start + rows] = _COULOMB_KJ_ANGSTROM * inverse @ charges
    return potential


def _norm(vectors):
    # einsum avoids the temporaries of np.linalg.norm (three times faster on (n, m, 3) arrays)
    return np.sqrt(np.einsum("...k,...k->...", vectors, vectors))
