"""Solute topology for the featurisers: atom labels, the bond graph, torsion enumeration, alanine dipeptide.

Everything here works on positions *within the solute group* (0-based in code, 1-based in names), so a
solute selected out of a solvated system is numbered 1..n exactly as in the seed (H1, C2, ..., H22).
"""

import numpy as np
from MDAnalysis.guesser import tables
from MDAnalysis.guesser.default_guesser import DefaultGuesser

from .._errors import DataError

BOND_MODES = ("auto", "topology", "guess")


def universe_source(universe):
    """The file a Universe was read from, for error messages ("<memory>" when it has none)."""
    filename = getattr(universe, "filename", None)
    return filename if filename else "<memory>"


def element_symbols(atoms):
    """Element symbols ("C", "N", "Cl", ...) of ``atoms``, from the topology or guessed from atom names.

    The element, never the force-field atom name, labels an atom: ``CH3`` of ACE is ``C2``.
    """
    if hasattr(atoms, "elements"):
        symbols = [str(e).strip() for e in atoms.elements]
    else:
        symbols = [""] * len(atoms)
    guesser = DefaultGuesser(None)
    symbols = [s if s else guesser.guess_atom_element(name) for s, name in zip(symbols, atoms.names)]
    for symbol, atom in zip(symbols, atoms):
        if not symbol:
            raise DataError(universe_source(atoms.universe), "elements",
                            f"no element for atom {atom.index} (name {atom.name!r}); use a topology "
                            "with elements (PDB element column, PSF, prmtop, OpenMM topology)")
    return [s.capitalize() for s in symbols]


def atom_labels(atoms):
    """Labels ``C5``, ``N7``, ``H18``: element symbol and 1-based position in ``atoms``."""
    return [f"{symbol}{i + 1}" for i, symbol in enumerate(element_symbols(atoms))]


def solute_bonds(atoms, bonds="auto", box=None):
    """Bonds inside ``atoms`` as a sorted (B, 2) int array of 0-based positions in ``atoms`` (i < j).

    Args:
        atoms: the solute AtomGroup (unique atoms).
        bonds: "topology" uses the topology's bonds, "guess" guesses them from the current coordinates
            with MDAnalysis' distance criterion (d < 0.55 (R_i + R_j), van der Waals radii by element),
            "auto" uses the topology when every solute atom has at least one bond there, else guesses
            (PDB files written by OpenMM carry CONECT records for some residues only).
        box: unit cell ``[a, b, c, alpha, beta, gamma]`` for guessing across periodic boundaries.

    Returns:
        (B, 2) int64 array.
    """
    if bonds not in BOND_MODES:
        raise ValueError(f"bonds must be one of {BOND_MODES}, got {bonds!r}")
    source = universe_source(atoms.universe)
    topological = _topology_bonds(atoms)
    if bonds == "topology" and topological is None:
        raise DataError(source, "bonds", "the topology has no bonds; pass bonds='guess' or a topology "
                        "with bonds (PSF, prmtop, OpenMM topology, PDB with CONECT)")
    if bonds == "topology" or (bonds == "auto" and topological is not None
                               and _every_atom_bonded(topological, len(atoms))):
        return topological
    return _guessed_bonds(atoms, box, source)


def _topology_bonds(atoms):
    if not hasattr(atoms, "bonds"):
        return None
    position = {index: i for i, index in enumerate(atoms.indices)}
    pairs = [(position[a], position[b]) for a, b in atoms.bonds.indices
             if a in position and b in position]
    if not pairs:
        return None
    return np.unique(np.sort(np.asarray(pairs, dtype=np.int64), axis=1), axis=0)


def _every_atom_bonded(pairs, n_atoms):
    return n_atoms == 1 or np.unique(pairs).size == n_atoms


def _guessed_bonds(atoms, box, source):
    symbols = element_symbols(atoms)
    types = np.char.upper(np.asarray(atoms.types, dtype=str)) if hasattr(atoms, "types") else None
    if types is None:
        raise DataError(source, "types", "cannot guess bonds without atom types; use a topology with bonds")
    missing = sorted({s for s in symbols if s.upper() not in tables.vdwradii})
    if missing:
        raise DataError(source, "bonds", f"no van der Waals radius for element(s) {missing} to guess bonds; "
                        "use a topology with bonds")
    # The guesser reads radii by atom *type*; keying them by each atom's element makes force-field types
    # (CT, HC, ...) work too.
    radii = {t: tables.vdwradii[s.upper()] for t, s in zip(types, symbols)}
    guesser = DefaultGuesser(None, box=box, vdwradii=radii)
    position = {index: i for i, index in enumerate(atoms.indices)}
    pairs = [(position[a], position[b]) for a, b in guesser.guess_bonds(atoms, atoms.positions)]
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.sort(np.asarray(pairs, dtype=np.int64), axis=1), axis=0)


def neighbours(pairs, n_atoms):
    """Sorted neighbour lists from a (B, 2) bond array."""
    adjacent = [[] for _ in range(n_atoms)]
    for a, b in pairs:
        adjacent[a].append(int(b))
        adjacent[b].append(int(a))
    return [sorted(n) for n in adjacent]


def proper_torsions(pairs, n_atoms):
    """Every proper dihedral i-j-k-l along bonds, once each, as an (P, 4) int array.

    Written with the central bond in ascending order (j < k; a dihedral does not change when reversed),
    sorted by (j, k, i, l). Paths that close a three-membered ring (i == l) are left out.
    """
    adjacent = neighbours(pairs, n_atoms)
    quads = [(i, j, k, l) for j, k in pairs for i in adjacent[j] if i != k
             for l in adjacent[k] if l not in (j, i)]
    quads.sort(key=lambda q: (q[1], q[2], q[0], q[3]))
    return np.asarray(quads, dtype=np.int64).reshape(-1, 4)


def improper_torsions(pairs, n_atoms):
    """One out-of-plane dihedral per atom with exactly three bonded neighbours, as an (I, 4) int array.

    Convention: centre first, then its three neighbours in ascending order, ``c-a-b-d``: the angle between
    the planes (c, a, b) and (a, b, d). It is 0 degrees for a planar (trigonal) centre, whatever the
    neighbour order, and its sign tells on which side of the plane (a, b, d) the centre lies.
    """
    adjacent = neighbours(pairs, n_atoms)
    quads = [(c, *adjacent[c]) for c in range(n_atoms) if len(adjacent[c]) == 3]
    return np.asarray(quads, dtype=np.int64).reshape(-1, 4)


def torsion_name(labels, quad):
    """``C5-N7-C9-C15`` from atom labels and a 4-tuple of positions."""
    return "-".join(labels[i] for i in quad)


def alanine_dipeptide_torsions(symbols, pairs):
    """The (phi, psi, theta) quadruples if the solute is alanine dipeptide (ACE-ALA-NME), else None.

    Recognised by chemistry, not by atom order: formula C6H12N2O2 with 21 bonds, and the backbone pattern
    C(=O)-N-CA-C(=O)-N where CA is the only carbon bonded both to an amide N and to a carbonyl C that is
    itself bonded to a second N. Then phi = C-N-CA-C, psi = N-CA-C-N, theta = O-C-N-CA (ACE carbonyl),
    in the seed's numbering C5-N7-C9-C15, N7-C9-C15-N17, O6-C5-N7-C9.
    """
    formula = {e: symbols.count(e) for e in set(symbols)}
    if formula != {"C": 6, "H": 12, "N": 2, "O": 2} or len(pairs) != 21:
        return None
    adjacent = neighbours(pairs, len(symbols))

    def bonded(atom, element):
        return [n for n in adjacent[atom] if symbols[n] == element]

    def carbonyl(atom):
        return symbols[atom] == "C" and len(adjacent[atom]) == 3 and len(bonded(atom, "O")) == 1

    matches = []
    for ca in (i for i, s in enumerate(symbols) if s == "C" and len(adjacent[i]) == 4):
        for n in bonded(ca, "N"):
            for c in (x for x in bonded(ca, "C") if carbonyl(x)):
                n_next = [x for x in bonded(c, "N") if x != n]
                c_prev = [x for x in bonded(n, "C") if x != ca and carbonyl(x)]
                if len(n_next) == 1 and len(c_prev) == 1:
                    matches.append((c_prev[0], n, ca, c, n_next[0]))
    if len(matches) != 1:
        return None
    c_prev, n, ca, c, n_next = matches[0]
    o_prev = bonded(c_prev, "O")[0]
    return {"phi": (c_prev, n, ca, c), "psi": (n, ca, c, n_next), "theta": (o_prev, c_prev, n, ca)}
