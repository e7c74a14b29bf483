"""MDAnalysis featurisers: solute torsions (sin/cos), solvent electrostatic potential, heavy-atom distances.

Each featuriser is an :class:`MDAnalysis.analysis.base.AnalysisBase` (``run(start, stop, step, frames,
verbose=...)``, progress bars, parallel backends) that knows its feature names and metadata before it runs;
:func:`featurise` stacks them in one pass over the trajectory into a :class:`Features` ready for
``committor_keras.data.CommittorData``. Atom labels use the element and the 1-based position in the solute
(``C5``, ``N7``, ``H18``); conventions are documented in docs/md.md, "Features".
"""

import dataclasses

import MDAnalysis as mda
import numpy as np
from MDAnalysis.analysis.base import AnalysisBase
from MDAnalysis.analysis.results import ResultsGroup
from MDAnalysis.coordinates.memory import MemoryReader
from MDAnalysis.coordinates.memory import MemoryReader
from MDAnalysis.lib.distances import calc_dihedrals, self_distance_array
from MDAnalysis.lib.mdamath import triclinic_box

from .._errors import ConfigError, DataError
from . import _features_esp as _esp
from . import _features_topology as topo

DEFAULT_SOLVENT = "resname HOH WAT SOL TIP3 TIP4 T3P T4P SPC"
"""Water residues under the names Amber/OpenMM (HOH, WAT), GROMACS (SOL) and CHARMM (TIP3) use."""

DEFAULT_SOLUTE = f"not (resname {DEFAULT_SOLVENT[len('resname '):]} or name NA CL SOD CLA)"
"""Everything but water and Na+/Cl- ions."""

_SINCOS_UNIT = "1"


class _FrameFeaturiser(AnalysisBase):
    """A featuriser whose per-frame raw values (``results[_raw_key]``) become ``results.features``.

    Subclasses set ``_raw_key``, ``_n_raw``, the feature metadata, and implement ``_frame_raw`` and
    ``_features_from_raw``. Only the raw per-frame array is filled frame by frame, so parallel backends
    merge it by stacking and ``_conclude`` derives everything else.
    """

    _analysis_algorithm_is_parallelizable = True
    _raw_key = "raw"

    @classmethod
    def get_supported_backends(cls):
        return ("serial", "multiprocessing", "dask")

    def __init__(self, solute, **kwargs):
        self.solute = _solute_group(solute)
        super().__init__(self.solute.universe.trajectory, **kwargs)
        self.labels = tuple(topo.atom_labels(self.solute))
        self.feature_names = ()
        self.feature_groups = {}
        self.feature_aliases = {}
        self.units = {}

    @property
    def metadata(self):
        """The ``feature_groups`` / ``feature_aliases`` / ``units`` fragment of CommittorData metadata."""
        return {"feature_groups": {k: list(v) for k, v in self.feature_groups.items()},
                "feature_aliases": dict(self.feature_aliases), "units": dict(self.units)}

    def _prepare(self):
        self.results[self._raw_key] = np.empty((self.n_frames, self._n_raw))

    def _single_frame(self):
        self.results[self._raw_key][self._frame_index] = self._frame_raw(self._ts)

    def _get_aggregator(self):
        return ResultsGroup(lookup={self._raw_key: ResultsGroup.ndarray_vstack})

    def _conclude(self):
        self.results.features = self._features_from_raw(self.results[self._raw_key])
        self.results.feature_names = self.feature_names

    def _features_from_raw(self, raw):
        return raw


class TorsionFeatures(_FrameFeaturiser):
    """Sine and cosine of every torsion of the solute, enumerated from its bonded topology.

    Proper dihedrals: every bonded path i-j-k-l (named with j < k). Impropers: one per atom with exactly
    three bonded neighbours, centre first then its neighbours in ascending order (``C5-C2-O6-N7``; 0 degrees
    when planar). For alanine dipeptide this gives 41 proper + 4 improper = 45 torsions, 90 features.

    Args:
        solute: AtomGroup, or a Universe (then :data:`DEFAULT_SOLUTE` is selected).
        impropers: include the improper dihedrals.
        bonds: "auto", "topology" or "guess" (see ``_features_topology.solute_bonds``); guessed bonds use the
            coordinates of the trajectory's current frame.
        aliases: "auto" (phi/psi/theta when the solute is alanine dipeptide, none otherwise), a dict
            torsion name -> short name, or None.
        **kwargs: ``verbose`` and other AnalysisBase options.

    Attributes:
        torsions: (T, 4) int array, 0-based positions in the solute. torsion_names, torsion_kinds
            ("proper"/"improper"): tuples of length T. feature_names: ``sin(name)``, ``cos(name)`` per torsion.
        results.angles: (n_frames, T) angles in degrees in (-180, 180]; results.features: (n_frames, 2T)
            float64 (sin, cos interleaved per torsion); results.feature_names.
    """

    _raw_key = "angles"

    def __init__(self, solute, impropers=True, bonds="auto", aliases="auto", **kwargs):
        super().__init__(solute, **kwargs)
        pairs = topo.solute_bonds(self.solute, bonds=bonds, box=_box(self.solute.universe.trajectory.ts))
        n_atoms = len(self.solute)
        proper = topo.proper_torsions(pairs, n_atoms)
        improper = topo.improper_torsions(pairs, n_atoms) if impropers else np.empty((0, 4), np.int64)
        if len(proper) + len(improper) == 0:
            raise DataError(topo.universe_source(self.solute.universe), "bonds",
                            f"the solute ({n_atoms} atoms, {len(pairs)} bonds) has no torsions; check the "
                            "solute selection and its bonds")
        self.bonds = pairs
        self.torsions = np.concatenate([proper, improper])
        self.torsion_kinds = ("proper",) * len(proper) + ("improper",) * len(improper)
        self.torsion_names = tuple(topo.torsion_name(self.labels, q) for q in self.torsions)
        used = np.unique(self.torsions)
        self._atoms, self._quads = self.solute[used], np.searchsorted(used, self.torsions)
        self._n_raw = len(self.torsions)
        self.feature_names = tuple(f"{f}({name})" for name in self.torsion_names for f in ("sin", "cos"))
        self.feature_groups = {name: [f"sin({name})", f"cos({name})"] for name in self.torsion_names}
        self.feature_aliases = self._aliases(aliases, pairs)
        self.units = dict.fromkeys(self.feature_names, _SINCOS_UNIT)

    def _aliases(self, aliases, pairs):
        if aliases is None:
            return {}
        if aliases == "auto":
            found = topo.alanine_dipeptide_torsions(topo.element_symbols(self.solute), pairs)
            if found is None:
                return {}
            return {topo.torsion_name(self.labels, _canonical(q)): alias for alias, q in found.items()}
        unknown = sorted(set(aliases) - set(self.torsion_names))
        if unknown:
            raise ConfigError(f"aliases name torsions {unknown} that the solute does not have; "
                              f"torsions are named like {self.torsion_names[0]!r}")
        return dict(aliases)

    # The frames' coordinates are gathered first and the angles computed at the end, in one calc_dihedrals
    # call for all frames that share a box (every frame, at constant volume): one call per frame costs ten
    # times more than the arithmetic (bench/bench_features.py). The values are the same, element for element.
    def _prepare(self):
        self.results.torsion_xyz = np.empty((self.n_frames, len(self._atoms), 3), np.float32)
        self.results.torsion_box = np.zeros((self.n_frames, 6), np.float32)  # zeros: no box

    def _single_frame(self):
        self.results.torsion_xyz[self._frame_index] = self._atoms.positions
        box = _box(self._ts)
        if box is not None:
            self.results.torsion_box[self._frame_index] = box

    def _get_aggregator(self):
        return ResultsGroup(lookup={key: ResultsGroup.ndarray_vstack for key in ("torsion_xyz", "torsion_box")})

    def _fill_from_memory(self, trajectory, frames):
        """Fill the buffers of ``frames`` of an in-memory trajectory at once, without visiting each frame."""
        self.results.torsion_xyz[:] = trajectory.timeseries(asel=self._atoms, order="fac")[frames]
        if trajectory.dimensions_array is not None:
            boxes = trajectory.dimensions_array[frames]
            valid = np.all(boxes[:, :3] > 0, axis=1)
            self.results.torsion_box[valid] = boxes[valid]

    def _conclude(self):
        xyz, boxes = self.results.pop("torsion_xyz"), self.results.pop("torsion_box")
        self.results.angles = _dihedrals(xyz, self._quads, boxes)
        super()._conclude()

    def angles_of(self, coordinates, boxes=None):
        """The torsion angles of coordinate frames, with the set-up (bonds, torsions, selection) done once.

        The featuriser's torsions applied to a coordinate array, as ``mdtraj.compute_dihedrals`` applies
        precomputed indices: no trajectory, no AnalysisBase run. The values are those of :meth:`run` and
        :func:`featurise` on the same frames, element for element.

        Args:
            coordinates: ``(n_frames, n_atoms, 3)`` positions in Angstrom of all the universe's atoms, e.g.
                ``universe.trajectory.coordinate_array`` of an in-memory trajectory.
            boxes: None, or ``(n_frames, 6)`` MDAnalysis boxes (zeros: no box) for the minimum image.

        Returns:
            ``(n_frames, T)`` angles in degrees in (-180, 180].
        """
        coordinates = np.asarray(coordinates, dtype=np.float32)
        xyz = coordinates[:, self._atoms.indices]
        boxes = np.zeros((len(xyz), 6), np.float32) if boxes is None else np.asarray(boxes, dtype=np.float32)
        return _dihedrals(xyz, self._quads, boxes)

    def _features_from_raw(self, raw):
        radians = np.radians(raw)
        return np.stack([np.sin(radians), np.cos(radians)], axis=-1).reshape(len(raw), -1)


class SolventPotential(_FrameFeaturiser):
    """Electrostatic potential of the solvent at every solute atom, features ``ESP(H18)`` in kJ/mol/e.

    ``ESP_a = k_e sum_j q_j / |r_j - r_a|`` with ``k_e = 138.935458 kJ mol^-1 nm e^-2`` over the solvent
    charge sites j. By default each solvent molecule (residue) is made whole and placed in the minimum image
    of its reference atom (the water oxygen) relative to atom a, using MDAnalysis' exact minimum image for
    orthorhombic and triclinic cells; every molecule then contributes as a neutral whole.

    Args:
        solute: AtomGroup, or a Universe (then :data:`DEFAULT_SOLUTE` is selected).
        solvent: AtomGroup or selection string on the same Universe (default :data:`DEFAULT_SOLVENT`).
        water_model: charge table used when the topology has no charges (:data:`WATER_MODELS`).
        charges: explicit (n_solvent,) charges in e, overriding topology and table.
        cutoff: nm, or None (default) for every molecule in its minimum image.
        molecule_image: True (default) per-molecule minimum image; False per-site minimum image.
        **kwargs: ``verbose`` and other AnalysisBase options.

    Attributes:
        charge_source: "topology", "water model tip3p" or "explicit".
        results.potential = results.features: (n_frames, n_solute) float64, kJ/mol/e.
    """

    _raw_key = "potential"

    def __init__(self, solute, solvent=DEFAULT_SOLVENT, water_model="tip3p", charges=None, cutoff=None,
                 molecule_image=True, **kwargs):
        super().__init__(solute, **kwargs)
        universe = self.solute.universe
        source = topo.universe_source(universe)
        self.solvent = universe.select_atoms(solvent) if isinstance(solvent, str) else solvent
        if self.solvent.universe is not universe:
            raise DataError(source, "solvent", "the solvent AtomGroup belongs to another Universe than the solute")
        if len(self.solvent) == 0:
            raise DataError(source, "solvent", f"selection {solvent!r} matched no atoms; pass solvent=")
        if len(np.intersect1d(self.solvent.indices, self.solute.indices)):
            raise DataError(source, "solvent", "solvent and solute share atoms; make the selections disjoint")
        if charges is None:
            self.charges, self.charge_source = _esp.solvent_charges(self.solvent, water_model, source)
        else:
            self.charges = np.asarray(charges, dtype=np.float64)
            self.charge_source = "explicit"
            if self.charges.shape != (len(self.solvent),):
                raise DataError(source, "charges", f"expected {len(self.solvent)} charges (one per solvent "
                                f"atom), got shape {self.charges.shape}")
        if cutoff is not None and not cutoff > 0:
            raise ConfigError(f"cutoff must be a positive number of nm or None, got {cutoff!r}")
        self.cutoff_nm = cutoff
        self.molecule_image = bool(molecule_image)
        self._molecule, self._reference = _esp.molecule_layout(self.solvent)
        self._n_raw = len(self.solute)
        self.feature_names = tuple(f"ESP({label})" for label in self.labels)
        self.units = dict.fromkeys(self.feature_names, "kJ/mol/e")

    @property
    def settings(self):
        """The convention used, JSON-serialisable, for provenance."""
        return {"cutoff_nm": self.cutoff_nm, "image": "molecule" if self.molecule_image else "atom",
                "charges": self.charge_source, "n_solvent_atoms": len(self.solvent),
                "coulomb_kJ_nm_per_mol_e2": _esp.COULOMB_KJ_NM}

    def _frame_raw(self, ts):
        return _esp.solvent_potential(
            self.solute.positions, self.solvent.positions, self.charges, self._molecule, self._reference,
            box=_box(ts), cutoff=None if self.cutoff_nm is None else 10.0 * self.cutoff_nm,
            molecule_image=self.molecule_image)


class DistanceFeatures(_FrameFeaturiser):
    """Minimum-image distances between all pairs of solute heavy (non-hydrogen) atoms, in nm.

    Features ``d(C5-N7)`` for pairs i < j in solute order; alanine dipeptide has 10 heavy atoms, 45 pairs.

    Args:
        solute: AtomGroup, or a Universe (then :data:`DEFAULT_SOLUTE` is selected).
        **kwargs: ``verbose`` and other AnalysisBase options.

    Attributes:
        pairs: (D, 2) int array of 0-based solute positions. results.distances = results.features (nm).
    """

    _raw_key = "distances"

    def __init__(self, solute, **kwargs):
        super().__init__(solute, **kwargs)
        heavy = np.flatnonzero(np.asarray(topo.element_symbols(self.solute)) != "H")
        if len(heavy) < 2:
            raise DataError(topo.universe_source(self.solute.universe), "solute",
                            "fewer than two heavy atoms: no distances to compute")
        self._heavy = self.solute[heavy]
        first, second = np.triu_indices(len(heavy), k=1)
        self.pairs = np.stack([heavy[first], heavy[second]], axis=1)
        self._n_raw = len(self.pairs)
        self.feature_names = tuple(f"d({self.labels[i]}-{self.labels[j]})" for i, j in self.pairs)
        self.units = dict.fromkeys(self.feature_names, "nm")

    def _frame_raw(self, ts):
        # self_distance_array returns i < j pairs in the same row-major order as np.triu_indices.
        return 0.1 * self_distance_array(self._heavy.positions, box=_box(ts))


@dataclasses.dataclass(frozen=True)
class Features:
    """Featurised frames, ready for ``CommittorData(features, feature_names, n_a=..., n_b=..., metadata=...)``.

    Attributes:
        features: (N, F) float64. feature_names: F unique strings.
        metadata: ``{"feature_groups", "feature_aliases", "units"}`` fragment to merge into CommittorData.
        frames: (N,) int64 trajectory frame indices; times: (N,) float64 trajectory times in ps.
        torsion_names: names of the T torsions (empty without torsions); angles: (N, T) degrees or None.
        settings: JSON-serialisable description of what was computed and how, for provenance.
    """

    features: np.ndarray
    feature_names: tuple
    metadata: dict
    frames: np.ndarray
    times: np.ndarray
    torsion_names: tuple = ()
    angles: np.ndarray = None
    settings: dict = dataclasses.field(default_factory=dict)


class _Stack(AnalysisBase):
    """Runs several featurisers of one trajectory in a single pass (each frame is read once)."""

    def __init__(self, featurisers, **kwargs):
        super().__init__(featurisers[0]._trajectory, **kwargs)
        self._featurisers = featurisers

    def _prepare(self):
        for featuriser in self._featurisers:
            featuriser.n_frames = self.n_frames
            featuriser._prepare()

    def _compute(self, indexed_frames, verbose=None, *, progressbar_kwargs=None):
        # Torsions of an in-memory trajectory (e.g. universe_from_openmm) need no pass over the frames.
        trajectory = self._trajectory
        if not (isinstance(trajectory, MemoryReader)
                and all(isinstance(f, TorsionFeatures) for f in self._featurisers)):
            return super()._compute(indexed_frames, verbose, progressbar_kwargs=progressbar_kwargs)
        frames = indexed_frames[:, 1]
        self._prepare()
        self.frames[:len(frames)] = frames
        # MemoryReader's ts.time: frame * dt plus the time offset of its Timestep.
        self.times[:len(frames)] = frames * trajectory.dt + trajectory.ts.data.get("time_offset", 0.0)
        for featuriser in self._featurisers:
            featuriser._fill_from_memory(trajectory, frames)
        return self

    def _single_frame(self):
        for featuriser in self._featurisers:
            featuriser._frame_index = self._frame_index
            featuriser._ts = self._ts
            featuriser._single_frame()

    def _conclude(self):
        for featuriser in self._featurisers:
            featuriser.frames, featuriser.times = self.frames, self.times
            featuriser._conclude()


def featurise(universe, solute=DEFAULT_SOLUTE, torsions=True, esp=False, distances=False, start=None,
              stop=None, step=None, frames=None, verbose=False, solvent=DEFAULT_SOLVENT, water_model="tip3p",
              esp_cutoff=None, impropers=True, bonds="auto", aliases="auto"):
    """Featurise the frames of a trajectory: torsion sin/cos, then solvent ESP, then heavy-atom distances.

    Args:
        universe: an MDAnalysis Universe (any topology + trajectory MDAnalysis reads).
        solute: selection string or AtomGroup (default: everything but water and Na+/Cl-).
        torsions, esp, distances: which feature blocks to compute (in this column order).
        start, stop, step, frames: which frames (as ``AnalysisBase.run``).
        verbose: show a progress bar.
        solvent, water_model, esp_cutoff: for the ESP block (see :class:`SolventPotential`; cutoff in nm).
        impropers, bonds, aliases: for the torsion block (see :class:`TorsionFeatures`).

    Returns:
        :class:`Features`.
    """
    solute = universe.select_atoms(solute) if isinstance(solute, str) else solute
    featurisers = []
    if torsions:
        featurisers.append(TorsionFeatures(solute, impropers=impropers, bonds=bonds, aliases=aliases))
    if esp:
        featurisers.append(SolventPotential(solute, solvent=solvent, water_model=water_model,
                                            cutoff=esp_cutoff))
    if distances:
        featurisers.append(DistanceFeatures(solute))
    if not featurisers:
        raise ConfigError("featurise: nothing to compute; enable torsions, esp or distances")
    stack = _Stack(featurisers).run(start=start, stop=stop, step=step, frames=frames, verbose=verbose)
    metadata = {"feature_groups": {}, "feature_aliases": {}, "units": {}}
    settings = {"solute_atoms": len(featurisers[0].solute), "blocks": []}
    for featuriser in featurisers:
        for key, value in featuriser.metadata.items():
            metadata[key].update(value)
        settings["blocks"].append(type(featuriser).__name__)
        if isinstance(featuriser, SolventPotential):
            settings["esp"] = featuriser.settings
    torsion = featurisers[0] if torsions else None
    return Features(
        features=np.hstack([f.results.features for f in featurisers]).astype(np.float64, copy=False),
        feature_names=tuple(name for f in featurisers for name in f.feature_names),
        metadata=metadata, frames=np.asarray(stack.frames, dtype=np.int64),
        times=np.asarray(stack.times, dtype=np.float64),
        torsion_names=torsion.torsion_names if torsion else (),
        angles=torsion.results.angles if torsion else None, settings=settings)


def _dihedrals(xyz, quads, boxes):
    """Angles in degrees of the torsions ``quads`` (indices into the atoms of ``xyz``, ``(F, A, 3)``).

    One calc_dihedrals call for all frames that share a box (every frame, at constant volume): one call per
    frame costs ten times more than the arithmetic (bench/bench_features.py). ``boxes``: ``(F, 6)``, zeros
    for none.
    """
    angles = np.empty((len(xyz), len(quads)))
    if np.all(boxes == boxes[:1]):  # constant volume: skip sorting the boxes
        unique, group = boxes[:1], np.zeros(len(boxes), np.int64)
    else:
        unique, group = np.unique(boxes, axis=0, return_inverse=True)
    for index, box in enumerate(unique):
        frames = np.flatnonzero(group.ravel() == index)
        # Atoms first, (atoms, frames, 3): each quadruple's atoms are then gathered as whole rows, 1.5x
        # faster in all than gathering (frames, torsions) elements (bench/notes.md); same values.
        by_atom = np.ascontiguousarray((xyz if len(unique) == 1 else xyz[frames]).transpose(1, 0, 2))
        a, b, c, d = (by_atom[quads[:, k]].reshape(-1, 3) for k in range(4))
        radians = calc_dihedrals(a, b, c, d, box=box if box.any() else None)
        angles[frames] = np.degrees(radians).reshape(len(quads), len(frames)).T
    return angles


def universe_from_openmm(topology, positions, box_vectors=None):
    """An in-memory Universe from an OpenMM topology and coordinates (e.g. shot configurations).

    Args:
        topology: ``openmm.app.Topology`` (bonds and elements come from it).
        positions: (n_atoms, 3) or (n_frames, n_atoms, 3) in nm, a numpy array or an OpenMM Quantity.
        box_vectors: None, (3, 3) or (n_frames, 3, 3) periodic box vectors (rows a, b, c) in nm.

    Returns:
        MDAnalysis Universe whose trajectory is a MemoryReader over the frames.
    """
    xyz = _nanometres(positions, "positions")
    xyz = xyz[None] if xyz.ndim == 2 else xyz
    if xyz.ndim != 3 or xyz.shape[1:] != (topology.getNumAtoms(), 3):
        raise DataError("<memory>", "positions", f"expected (n_frames, {topology.getNumAtoms()}, 3) nm, "
                        f"got shape {xyz.shape}")
    dimensions = None
    if box_vectors is not None:
        vectors = _nanometres(box_vectors, "box_vectors") * 10.0
        vectors = np.broadcast_to(vectors, (len(xyz), 3, 3)) if vectors.ndim == 2 else vectors
        if vectors.shape != (len(xyz), 3, 3):
            raise DataError("<memory>", "box_vectors", f"expected (3, 3) or ({len(xyz)}, 3, 3) nm, got "
                            f"shape {vectors.shape}")
        dimensions = np.array([triclinic_box(*v) for v in vectors])
    # coordinates given with the topology: a bare OpenMM topology makes MDAnalysis warn "no coordinate reader"
    return mda.Universe(topology, xyz * 10.0, format=MemoryReader, dimensions=dimensions)


def _nanometres(value, field):
    if hasattr(value, "value_in_unit"):
        from openmm import unit  # only Quantities need OpenMM itself

        value = value.value_in_unit(unit.nanometer)
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise DataError("<memory>", field, "contains NaN or infinite values")
    return array


def _solute_group(solute):
    if isinstance(solute, mda.Universe):
        solute = solute.select_atoms(DEFAULT_SOLUTE)
    if len(solute) == 0:
        raise DataError(topo.universe_source(solute.universe), "solute",
                        "the solute selection matched no atoms; pass solute=")
    if len(np.unique(solute.indices)) != len(solute):
        raise DataError(topo.universe_source(solute.universe), "solute", "the solute has repeated atoms")
    return solute


def _box(ts):
    dimensions = ts.dimensions
    if dimensions is None or not np.all(dimensions[:3] > 0):
        return None
    return dimensions


def _canonical(quad):
    return tuple(quad) if quad[1] < quad[2] else tuple(reversed(quad))
