"""Package a shot work directory as a :class:`~committor_keras.data.CommittorData` ``.npz``.

Features come from :func:`committor_keras.md.featurise` on exactly the coordinates that were shot from
(``configurations.xtc``); labels are the shot counts; per-shot outcomes and commit times ride along as
extras so nothing measured is lost.
"""

import json
from pathlib import Path

import numpy as np

from committor_keras._errors import ConfigError, DataError
from committor_keras._provenance import library_versions, sha256_file
from committor_keras.md._config import load_config
from committor_keras.md._sampling import (
    CONFIGURATIONS_JSON, CONFIGURATIONS_XTC, SYSTEM_PDB, WINDOW_STREAM, load_configurations)
from committor_keras.md._shooting import NOISE_KEY, SHOT_STREAM, pending_batches, read_shots
from committor_keras.md._states import PHI_ATOMS, PSI_ATOMS

# Per-shot outcome codes in extras["shot_outcome"]
OUTCOME_CODES = {"A": 0, "B": 1, None: -1}
NOT_FIRED = -2


def shot_extras(config, table, indices):
    """Per-configuration arrays for ``CommittorData.extras``.

    Returns:
        dict: ``configuration`` (index into configurations.xtc), ``n_uncommitted``, ``shot_outcome``
        (N, S) with 0 = A, 1 = B, -1 = not committed within ``max_steps``, -2 = not fired, and
        ``commit_time_ps`` (N, S), NaN unless the shot committed; S is the most shots of any configuration.
    """
    width = max(config.n_shots, config.topup_shots)
    outcome = np.full((len(indices), width), NOT_FIRED, np.int8)
    commit = np.full((len(indices), width), np.nan)
    for row, i in enumerate(indices):
        for shot, (state, steps) in table.shots[i].items():
            outcome[row, shot] = OUTCOME_CODES[state]
            if state is not None:
                commit[row, shot] = steps * config.timestep_ps
    return {"configuration": np.asarray(indices, np.int64),
            "n_uncommitted": table.n_uncommitted[indices].astype(np.int64),
            "shot_outcome": outcome, "commit_time_ps": commit}


def featurise_frames(config, topology, frames, boxes, distances=False):
    """The data sets' features of ``frames``: torsions (sin/cos), plus the solvent ESP in water.

    Args:
        config: the work directory's :class:`~committor_keras.md.MDConfig`.
        topology: the OpenMM topology of ``system.pdb``.
        frames: (N, n_atoms, 3) positions in nm.
        boxes: (N, 3, 3) box vectors in nm, or None in vacuum.
        distances: add the heavy-atom distances (not in the shipped data sets).

    Returns:
        :class:`~committor_keras.md.Features`.
    """
    from committor_keras.md._features import featurise, universe_from_openmm
    from committor_keras.md._system import SOLUTE_ATOMS

    universe = universe_from_openmm(topology, frames, boxes)
    return featurise(universe, solute=f"index 0:{SOLUTE_ATOMS - 1}", torsions=True,
                     esp=config.solvent == "water", distances=distances)


def make_dataset(workdir, out, require_complete=False, command=None):
    """Featurise ``WORKDIR`` and write the committor data set ``out`` (.npz).

    Vacuum: torsion sin/cos features. Water: torsions plus the solvent electrostatic potential at the 22
    solute atoms. Configurations without a committed shot are left out (counted in the metadata).

    Args:
        workdir: a shot work directory (see :mod:`committor_keras.md`).
        out: the ``.npz`` path.
        require_complete: refuse while shots are pending.
        command: the command line to record (default: ``sys.argv``).

    Returns:
        The written path.

    Raises:
        DataError: when shots are pending and ``require_complete``, or nothing has been shot.
    """
    import sys

    from committor_keras.data import CommittorData
    from committor_keras.md._system import read_pdb

    workdir = Path(workdir)
    config = load_config(workdir)
    if not (workdir / CONFIGURATIONS_JSON).is_file():
        raise ConfigError(f"{workdir}: no configurations sampled yet ({CONFIGURATIONS_JSON} is missing); run "
                          f"`committor-keras md run {workdir}` first")
    table_json = json.loads((workdir / CONFIGURATIONS_JSON).read_text())
    n = table_json["n_configurations"]
    shots = read_shots(workdir, n)
    pending = pending_batches(config, shots, range(n))
    if pending and require_complete:
        raise DataError(workdir, "shots", f"{len(pending)} batches still pending; finish with "
                        f"`committor-keras md run {workdir}` or drop --require-complete")
    keep = np.flatnonzero(shots.n_a + shots.n_b > 0)
    if len(keep) == 0:
        raise DataError(workdir, "shots", "no configuration has a committed shot yet; run the shooting first")
    # In memory from our own XTC reader: MDAnalysis' XTC reader would leave offset caches in WORKDIR.
    frames, boxes, _ = load_configurations(workdir)
    topology, _ = read_pdb(workdir / SYSTEM_PDB)
    feats = featurise_frames(config, topology, frames[keep], None if boxes is None else boxes[keep])
    if len(feats.frames) != len(keep):
        raise DataError(workdir / CONFIGURATIONS_XTC, "frames", f"featurised {len(feats.frames)} frames for "
                        f"{len(keep)} shot configurations; the trajectory may be truncated")
    per = table_json["per_configuration"]
    extras = shot_extras(config, shots, keep)
    extras.update({"window": np.asarray(per["window"])[keep], "phi0_deg": np.asarray(per["phi0"])[keep],
                   "restraint_k": np.asarray(per["k"])[keep]})
    if "psi0" in per:  # windows with psi restraints (NaN where a window restrains phi only)
        extras.update({"psi0_deg": np.asarray([np.nan if v is None else v for v in per["psi0"]])[keep],
                       "restraint_k_psi": np.asarray(per["k_psi"], float)[keep]})
    p_b = shots.p_b[keep]
    low, high = config.topup_range
    metadata = {
        "system": config.system,
        "temperature_K": config.temperature_K,
        "states": config.states.to_metadata(),
        **feats.metadata,
        "provenance": {
            "command": command if command is not None else sys.argv,
            "engine": "committor_keras.md (OpenMM LangevinMiddleIntegrator)",
            "md_config": config.to_dict(),
            "seed": config.seed,
            "seed_derivation": {
                "velocities": f"derive_seed(seed, {SHOT_STREAM}, configuration, shot)",
                "langevin_noise": f"derive_seed(seed, {SHOT_STREAM}, configuration, first shot of the batch, "
                                  f"{NOISE_KEY})",
                "windows": f"derive_seed(seed, {WINDOW_STREAM}, window)"},
            "phi_atoms_0based": list(PHI_ATOMS), "psi_atoms_0based": list(PSI_ATOMS),
            "featurise": feats.settings,
            "configurations_left_out_no_committed_shot": int(n - len(keep)),
            "pending_batches": len(pending),
            "fraction_p_b_in_topup_range": float(np.mean((p_b > low) & (p_b < high))),
            "files_sha256": {name: sha256_file(workdir / name)
                             for name in (SYSTEM_PDB, CONFIGURATIONS_XTC, CONFIGURATIONS_JSON, "md.json")},
            "versions": library_versions(),
        },
    }
    data = CommittorData(feats.features, feats.feature_names, n_a=shots.n_a[keep], n_b=shots.n_b[keep],
                         extras=extras, metadata=metadata, source=out)
    data.save(out)
    return Path(out)
