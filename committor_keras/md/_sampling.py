"""Configurations for shooting: phi- (or phi- and psi-) restrained windows across the barrier plus free basins.

Each window is pulled from the starting structure to its ``phi0``, equilibrated, then sampled every
``stride_steps``. A finished window is written atomically to ``configurations/window-NN.xtc`` (+ ``.json``),
so a killed run redoes at most the windows in flight. When every window is there they are joined into
``configurations.xtc`` + ``configurations.json``, the files shooting reads.
"""

import concurrent.futures
import json
import math
import multiprocessing
import time
from pathlib import Path

import numpy as np

from committor_keras._errors import DataError
from committor_keras._provenance import derive_seed, write_json_atomic
from committor_keras.md._config import load_config
from committor_keras.md._states import phi_psi
from committor_keras.md._xtc import read_xtc, write_xtc

WINDOW_STREAM = 1
CONFIGURATIONS_XTC = "configurations.xtc"
CONFIGURATIONS_JSON = "configurations.json"
SYSTEM_PDB = "system.pdb"


def _window_paths(workdir, index):
    base = Path(workdir) / "configurations" / f"window-{index:02d}"
    return base.with_suffix(".xtc"), base.with_suffix(".json")


def sample_window(workdir, index, threads=1):
    """Run window ``index`` of ``WORKDIR/md.json`` and write its files; returns its record.

    Args:
        workdir: the work directory (holds ``md.json`` and ``system.pdb``).
        index: the window's position in ``config.windows``.
        threads: CPU threads (CPU platform only).
    """
    from openmm import unit

    from committor_keras.md import _system

    started = time.perf_counter()
    config = load_config(workdir)
    window = config.windows[index]
    seed = derive_seed(config.seed, WINDOW_STREAM, index)
    topology, positions = _system.read_pdb(Path(workdir) / SYSTEM_PDB)
    system = _system.create_system(config, topology)
    _system.add_phi_restraint(system)
    restrain_psi = window.psi0 is not None
    if restrain_psi:  # only then: a phi-only window runs exactly the system it always ran
        _system.add_psi_restraint(system)
    integrator = _system.create_integrator(config, seed)
    context = _system.create_context(config, system, integrator, threads)
    periodic = config.solvent == "water"
    if periodic:
        context.setPeriodicBoxVectors(*topology.getPeriodicBoxVectors())
    context.setPositions(positions)
    context.applyConstraints(1e-6)
    context.setVelocitiesToTemperature(config.temperature_K * unit.kelvin, seed)
    steps_per_ps = round(1.0 / config.timestep_ps)

    def current_phi_psi():
        pos = context.getState(positions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        return phi_psi(pos[:_system.SOLUTE_ATOMS].tolist())

    # Pull to the centre along the shorter arc in 100 pieces: a sudden restraint far away would blow up.
    pulls = [("phi", window.phi0, window.k)]
    if restrain_psi:
        pulls.append(("psi", window.psi0, window.k_psi))
    now = current_phi_psi()
    arcs = []
    for (name, centre, _), angle in zip(pulls, now):
        start = math.radians(angle)
        arcs.append((name, start, math.remainder(math.radians(centre) - start, 2 * math.pi)))
        context.setParameter(f"k_{name}", config.pull_k)
    pull_steps = max(1, round(config.pull_ps * steps_per_ps / 100))
    for piece in range(1, 101):
        for name, start, arc in arcs:
            context.setParameter(f"{name}0", math.remainder(start + arc * piece / 100, 2 * math.pi))
        integrator.step(pull_steps)
    for name, _, k in pulls:
        context.setParameter(f"k_{name}", k)
    integrator.step(round(config.window_equilibration_ps * steps_per_ps))

    frames, boxes, angles = [], [], []
    for _ in range(window.n):
        integrator.step(config.stride_steps)
        state = context.getState(positions=True, enforcePeriodicBox=periodic)
        pos = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        frames.append(pos.astype(np.float32))
        boxes.append(np.asarray(state.getPeriodicBoxVectors().value_in_unit(unit.nanometer), np.float32))
        angles.append(phi_psi(pos[:_system.SOLUTE_ATOMS].tolist()))
    xtc, meta = _window_paths(workdir, index)
    write_xtc(xtc, frames, boxes if periodic else None, dt_ps=config.stride_steps * config.timestep_ps)
    record = {"window": index, "phi0": window.phi0, "k": window.k, "n": window.n, "seed": seed,
              **({"psi0": window.psi0, "k_psi": window.k_psi} if restrain_psi else {}),
              "phi": [round(a[0], 3) for a in angles], "psi": [round(a[1], 3) for a in angles],
              "seconds": round(time.perf_counter() - started, 1)}
    write_json_atomic(meta, record)
    return record


def _window_done(workdir, index, n):
    xtc, meta = _window_paths(workdir, index)
    if not (xtc.is_file() and meta.is_file()):
        return False
    return json.loads(meta.read_text())["n"] == n


def sample(workdir, workers=1, threads=1, progress=True):
    """Sample every missing window of ``WORKDIR/md.json``, then join them into ``configurations.xtc``.

    Resumable: finished windows are kept; the join happens once all windows exist.

    Args:
        workdir: the work directory.
        workers: windows run in parallel (one process each).
        threads: CPU threads per worker.
        progress: show a tqdm bar.

    Returns:
        The path of ``configurations.xtc``.
    """
    from tqdm.auto import tqdm

    workdir = Path(workdir)
    config = load_config(workdir)
    final = workdir / CONFIGURATIONS_XTC
    if final.is_file() and (workdir / CONFIGURATIONS_JSON).is_file():
        _remove_window_files(workdir, config)
        return final
    todo = [i for i, w in enumerate(config.windows) if not _window_done(workdir, i, w.n)]
    with tqdm(total=len(config.windows), initial=len(config.windows) - len(todo), desc="windows",
              disable=not progress) as bar:
        if workers <= 1:
            for i in todo:
                sample_window(workdir, i, threads)
                bar.update()
        else:
            ctx = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                futures = [pool.submit(sample_window, str(workdir), i, threads) for i in todo]
                for future in concurrent.futures.as_completed(futures):
                    future.result()
                    bar.update()
    _join_windows(workdir, config)
    _remove_window_files(workdir, config)
    return final


def _join_windows(workdir, config):
    frames, boxes, records = [], [], []
    for i, window in enumerate(config.windows):
        xtc, meta = _window_paths(workdir, i)
        f, b = read_xtc(xtc)
        frames.append(f)
        boxes.append(b)
        records.append(json.loads(meta.read_text()))
    frames = np.concatenate(frames)
    boxes = np.concatenate(boxes)
    periodic = config.solvent == "water"
    write_xtc(workdir / CONFIGURATIONS_XTC, frames, boxes if periodic else None,
              dt_ps=config.stride_steps * config.timestep_ps)
    table = {"window": [], "frame_in_window": [], "phi0": [], "k": [], "phi": [], "psi": []}
    for rec in records:
        for j in range(rec["n"]):
            table["window"].append(rec["window"])
            table["frame_in_window"].append(j)
            table["phi0"].append(rec["phi0"])
            table["k"].append(rec["k"])
            table["phi"].append(rec["phi"][j])
            table["psi"].append(rec["psi"][j])
    if any(w.psi0 is not None for w in config.windows):
        # columns only with psi restraints: a phi-only recipe writes the table it always wrote
        table["psi0"] = [rec.get("psi0") for rec in records for _ in range(rec["n"])]
        table["k_psi"] = [rec.get("k_psi", 0.0) for rec in records for _ in range(rec["n"])]
    write_json_atomic(workdir / CONFIGURATIONS_JSON,
                      {"n_configurations": len(frames), "window_seeds": [r["seed"] for r in records],
                       "window_seconds": [r.get("seconds") for r in records],
                       "per_configuration": table})


def _remove_window_files(workdir, config):
    for i in range(len(config.windows)):
        for path in _window_paths(workdir, i):
            path.unlink(missing_ok=True)
    directory = Path(workdir) / "configurations"
    if directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()


def load_configurations(workdir):
    """``(frames, boxes, table)`` of ``WORKDIR/configurations.xtc``; ``boxes`` is None in vacuum.

    Raises:
        DataError: when the trajectory and its table disagree.
    """
    workdir = Path(workdir)
    frames, boxes = read_xtc(workdir / CONFIGURATIONS_XTC)
    table = json.loads((workdir / CONFIGURATIONS_JSON).read_text())
    if table["n_configurations"] != len(frames):
        raise DataError(workdir / CONFIGURATIONS_XTC, "frames",
                        f"{len(frames)} frames but configurations.json lists {table['n_configurations']}; "
                        "delete both and run `committor-keras md sample` again")
    if not np.any(boxes):
        boxes = None
    return frames, boxes, table["per_configuration"]
