"""The shooting engine: n trajectories per configuration until they commit to A or B.

Seeds: the Maxwell-Boltzmann velocities of a shot are seeded by (config seed, configuration, shot); the
Langevin noise stream by (config seed, configuration, first shot of the batch), re-seeded by re-initialising
the context at the start of every batch (once per batch, not per shot: it costs as much as ~25 vacuum steps).
A batch always runs whole, in order, in one process, so results do not depend on workers or scheduling.

Results go to JSON-lines files under ``WORKDIR/shots/``, one line per batch of shots of one configuration,
flushed and fsynced as it completes: a killed run loses at most the batches in flight and never writes a
batch twice.
"""

import concurrent.futures
import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

from committor_keras._errors import ConfigError, DataError
from committor_keras._provenance import derive_seed
from committor_keras.md._config import load_config
from committor_keras.md._states import PHI_ATOMS, PSI_ATOMS, torsion_deg

SHOT_STREAM = 2
NOISE_KEY = 1  # appended to a batch's (configuration, first shot) key: the noise seed differs from velocities'
SHOTS_DIR = "shots"
# phi and psi share three atoms: fetch the five backbone atoms once per check
_BACKBONE = [*PHI_ATOMS, PSI_ATOMS[-1]]


class Shooter:
    """One OpenMM context that fires shots from given configurations.

    Args:
        config: the :class:`~committor_keras.md.MDConfig`.
        topology: OpenMM topology of the system (from ``system.pdb``).
        threads: CPU threads (CPU platform only).
    """

    def __init__(self, config, topology, threads=1):
        from committor_keras.md import _system

        self.config = config
        self._system = _system.create_system(config, topology)
        self._integrator = _system.create_integrator(config, 1)
        self._context = _system.create_context(config, self._system, self._integrator, threads)
        self._read_positions = _positions_reader(self._context, self._system.getNumParticles())

    def shoot(self, positions, box, index, shots):
        """Fire ``shots`` (shot numbers) from one configuration.

        Args:
            positions: (n_atoms, 3) nm.
            box: (3, 3) nm box vectors (rows) or None in vacuum.
            index: the configuration's number (part of every shot's seed).
            shots: iterable of shot numbers.

        Returns:
            ``(outcomes, steps)``: lists with ``"A"``, ``"B"`` or ``None`` (not committed within
            ``max_steps``) and the step at which each shot committed (``max_steps`` when it did not).
        """
        config = self.config
        states, every, max_steps = config.states, config.check_every, config.max_steps
        context, integrator = self._context, self._integrator
        shots = list(shots)
        start_state = states.classify(*_phi_psi(positions))
        if not shots or start_state is not None:
            return [start_state] * len(shots), [0] * len(shots)
        outcomes, steps = [], []
        integrator.setRandomNumberSeed(derive_seed(config.seed, SHOT_STREAM, index, shots[0], NOISE_KEY))
        context.reinitialize()
        for shot in shots:
            seed = derive_seed(config.seed, SHOT_STREAM, index, shot)
            if box is not None:
                context.setPeriodicBoxVectors(*box)
            context.setPositions(positions)
            context.applyConstraints(1e-6)
            context.setVelocitiesToTemperature(config.temperature_K, seed)
            outcome, step = None, 0
            while step < max_steps:
                integrator.step(every)
                step += every
                outcome = states.classify(*_phi_psi(self._read_positions()))
                if outcome is not None:
                    break
            outcomes.append(outcome)
            steps.append(step)
        return outcomes, steps


def _positions_reader(context, n_atoms):
    """A function returning the context's positions (nm, float64 (n_atoms, 3)) as fast as OpenMM allows.

    The public ``getState(positions=True).getPositions(asNumpy=True)`` spends ~6 us per call on units and
    attribute look-ups, 8 % of a 10-step vacuum check interval; OpenMM's own private fill-a-buffer call takes
    ~1.5 us. The public path is the fallback for OpenMM versions without it.
    """
    import openmm

    if not hasattr(openmm.State, "_getVectorAsNumpy"):
        return lambda: context.getState(positions=True).getPositions(asNumpy=True)._value
    from openmm import _openmm

    buffer = np.empty((n_atoms, 3))
    kind = openmm.State.Positions

    def read():
        _openmm.Context_getState(context, kind, False, -1)._getVectorAsNumpy(kind, buffer)
        return buffer

    return read


def _phi_psi(positions):
    a, b, c, d, e = np.asarray(positions)[_BACKBONE].tolist()
    return torsion_deg(a, b, c, d), torsion_deg(b, c, d, e)


class ShotTable:
    """Shots recorded so far, per configuration.

    Attributes:
        n_a, n_b, n_uncommitted: int arrays (n_configurations,).
        batches: per configuration, a dict ``(first_shot, stop_shot) -> (n_a, n_b, n_uncommitted)``.
        shots: per configuration, a dict ``shot number -> (outcome, steps)``.
    """

    def __init__(self, n_configurations):
        self.n_a = np.zeros(n_configurations, int)
        self.n_b = np.zeros(n_configurations, int)
        self.n_uncommitted = np.zeros(n_configurations, int)
        self.batches = [{} for _ in range(n_configurations)]
        self.shots = [{} for _ in range(n_configurations)]

    def add(self, index, first, stop, outcomes, steps, source="<memory>"):
        """Record one batch; a batch seen before is ignored, one overlapping another is an error.

        Returns:
            True when the batch was new.

        Raises:
            DataError: on overlapping batches or an out-of-range configuration.
        """
        if not 0 <= index < len(self.n_a):
            raise DataError(source, "config", f"configuration {index} is outside 0..{len(self.n_a) - 1}")
        done = self.batches[index]
        if (first, stop) in done:
            return False
        if any(first < b and a < stop for a, b in done):
            raise DataError(source, "first_shot", f"configuration {index}: shots {first}..{stop} overlap "
                            f"{sorted(done)}; remove the duplicate batch")
        n_a = sum(o == "A" for o in outcomes)
        n_b = sum(o == "B" for o in outcomes)
        done[(first, stop)] = (n_a, n_b, len(outcomes) - n_a - n_b)
        self.n_a[index] += n_a
        self.n_b[index] += n_b
        self.n_uncommitted[index] += len(outcomes) - n_a - n_b
        self.shots[index].update(zip(range(first, stop), zip(outcomes, steps)))
        return True

    @property
    def n_shots(self):
        """Shots fired per configuration (committed or not)."""
        return self.n_a + self.n_b + self.n_uncommitted

    @property
    def p_b(self):
        """n_b / (n_a + n_b); NaN where nothing committed."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.n_b / (self.n_a + self.n_b)


def read_shots(workdir, n_configurations):
    """Merge every ``WORKDIR/shots/*.jsonl`` into a :class:`ShotTable`.

    A truncated last line (a run killed while writing) is ignored; a batch present twice (e.g. in two
    slice files) is counted once; overlapping different batches are an error.

    Raises:
        DataError: on overlapping batches or out-of-range configurations.
    """
    table = ShotTable(n_configurations)
    for path, record in _shot_records(workdir):
        table.add(record["config"], record["first_shot"], record["stop_shot"], record["to"], record["steps"],
                  source=path)
    return table


def shot_timing(workdir):
    """``(worker_seconds, shots, steps)`` summed over batches that integrated at least one step."""
    seconds = shots = steps = 0
    for _, record in _shot_records(workdir):
        if max(record["steps"], default=0) > 0:
            seconds += record["seconds"]
            shots += len(record["to"])
            steps += sum(record["steps"])
    return seconds, shots, steps


def _shot_records(workdir):
    """``(path, record)`` for every complete line of ``WORKDIR/shots/*.jsonl``; a truncated line is skipped."""
    for path in sorted((Path(workdir) / SHOTS_DIR).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                yield path, json.loads(line)
            except json.JSONDecodeError:
                continue


def pending_batches(config, table, indices):
    """The ``(config, first_shot, stop_shot)`` batches still to fire for configurations ``indices``.

    A configuration needs ``n_shots``; with ``topup_shots`` set, one whose p_B from its first ``n_shots``
    lies strictly inside ``topup_range`` then needs ``topup_shots`` in all.
    """
    todo = []
    base, topup = (0, config.n_shots), (config.n_shots, config.topup_shots)
    for i in indices:
        done = table.batches[i]
        if base not in done:
            todo.append((int(i), *base))
        elif config.topup_shots and needs_topup(config, table, i) and topup not in done:
            todo.append((int(i), *topup))
    return todo


def needs_topup(config, table, index):
    """True when the configuration's p_B from its base batch lies strictly inside ``topup_range``."""
    counts = table.batches[index].get((0, config.n_shots))
    if counts is None or not config.topup_shots or counts[0] + counts[1] == 0:
        return False
    low, high = config.topup_range
    return low < counts[1] / (counts[0] + counts[1]) < high


_WORKER = {}


def _ranges(numbers):
    """``[0, 1, 2, 5]`` -> ``"0-2,5"`` (sorted distinct integers)."""
    runs = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _worker_init(workdir, threads):
    from committor_keras.md import _system
    from committor_keras.md._sampling import SYSTEM_PDB

    config = load_config(workdir)
    topology, _ = _system.read_pdb(Path(workdir) / SYSTEM_PDB)
    _WORKER["shooter"] = Shooter(config, topology, threads)


def _worker_shoot(positions, box, index, first, stop):
    start = time.perf_counter()
    outcomes, steps = _WORKER["shooter"].shoot(positions, box, index, range(first, stop))
    return index, first, stop, outcomes, steps, time.perf_counter() - start


def _append_record(handle, record):
    handle.write(json.dumps(record, separators=(",", ":")) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def _lock(handle, path):
    """Hold an exclusive lock on the results file: a second run on the same file stops at once."""
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ConfigError(f"{path}: another shooting run is writing this file; wait for it or stop it "
                          "(cluster tasks: give each its own --slice)") from None


def _repair_tail(path):
    """Cut a partial last line left by a kill, so the next record starts on its own line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with open(path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def shots_path(workdir, part=None):
    """The JSON-lines file a run writes to: ``shots/shots.jsonl`` or ``shots/slice-K-of-N.jsonl``."""
    name = "shots.jsonl" if part is None else f"slice-{part[0]}-of-{part[1]}.jsonl"
    return Path(workdir) / SHOTS_DIR / name


def _fire(workdir, config, frames, boxes, todo, table, handle, bar, workers, threads, deadline, log):
    """Run the batches in ``todo`` (and the top-ups they call for), appending one record per batch."""
    started = time.monotonic()
    last_log = [started]
    fired = [0]  # the bar counts nothing when disabled

    def box_of(i):
        return None if boxes is None else boxes[i]

    def record(result):
        index, first, stop, outcomes, steps, seconds = result
        _append_record(handle, {"config": int(index), "first_shot": first, "stop_shot": stop,
                                "to": outcomes, "steps": steps, "seconds": round(seconds, 3)})
        table.add(index, first, stop, outcomes, steps)
        bar.update(stop - first)
        fired[0] += stop - first
        if time.monotonic() - last_log[0] > 300:
            last_log[0] = time.monotonic()
            log(f"shoot: {fired[0]}/{bar.total} shots of this run, "
                f"{fired[0] / (last_log[0] - started):.2f} shots/s")
        follow = pending_batches(config, table, [index])
        bar.total += sum(s - f for _, f, s in follow)
        return follow

    def out_of_time():
        return deadline is not None and time.monotonic() > deadline

    queue = list(todo)
    if workers <= 1:
        _worker_init(str(workdir), threads)
        while queue and not out_of_time():
            i, first, stop = queue.pop(0)
            queue[:0] = record(_worker_shoot(frames[i], box_of(i), i, first, stop))
        return not queue
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                                initargs=(str(workdir), threads)) as pool:
        running = set()
        while queue or running:
            while queue and len(running) < 2 * workers and not out_of_time():
                i, first, stop = queue.pop(0)
                running.add(pool.submit(_worker_shoot, frames[i], box_of(i), i, first, stop))
            if not running:
                break
            done, running = concurrent.futures.wait(running, return_when="FIRST_COMPLETED")
            for future in done:
                queue[:0] = record(future.result())
    return not queue


def shoot(workdir, workers=1, threads=1, part=None, max_minutes=None, progress=True, log=None, windows=None,
          finish_started=False):
    """Fire every missing shot of ``WORKDIR`` (resumable), writing ``shots/*.jsonl``.

    Configurations are visited in a seeded random order so that a partial run covers every window; the
    missing top-ups of configurations already started come first, so a stopped run leaves as few
    half-shot configurations as it can. Which configurations are shot, and in what order, never changes a
    shot's outcome (its seeds depend on the configuration and shot numbers only).

    Args:
        workdir: a work directory with ``md.json``, ``system.pdb`` and ``configurations.xtc``.
        workers: processes (each with its own OpenMM context); 1 runs in this process.
        threads: CPU threads per worker.
        part: ``(k, n)`` to handle only configurations with ``index % n == k`` (a cluster array task).
        max_minutes: stop submitting new batches after this long and return once in-flight ones finish.
        progress: show a tqdm bar.
        log: callable taking a line of text, for the run log.
        windows: window numbers (0-based, in md.json's order) to handle only the configurations sampled in
            them, e.g. the windows nearest the barrier first; None for all.
        finish_started: handle only configurations that already have shots (their top-ups): finish what
            was started and start nothing new.

    Returns:
        True when no shots remain for this selection, False when stopped by ``max_minutes``.

    Raises:
        ConfigError: on a window number that md.json does not have.
    """
    from tqdm.auto import tqdm

    from committor_keras.md._sampling import load_configurations

    workdir = Path(workdir)
    config = load_config(workdir)
    frames, boxes, per_configuration = load_configurations(workdir)
    n = len(frames)
    order = np.random.default_rng(config.seed).permutation(n)
    if part is not None:
        order = order[order % part[1] == part[0]]
    selection = []
    if windows is not None:
        windows = sorted(set(windows))
        unknown = [w for w in windows if not 0 <= w < len(config.windows)]
        if unknown:
            raise ConfigError(f"{workdir / 'md.json'}: windows {unknown} do not exist; it has windows "
                              f"0..{len(config.windows) - 1}")
        order = order[np.isin(np.asarray(per_configuration["window"])[order], windows)]
        selection.append(f"windows {_ranges(windows)}")
    path = shots_path(workdir, part)
    path.parent.mkdir(parents=True, exist_ok=True)
    log = log or (lambda line: None)
    with open(path, "a") as handle:
        _lock(handle, path)
        _repair_tail(path)
        table = read_shots(workdir, n)
        if finish_started:
            order = order[table.n_shots[order] > 0]
            selection.append("configurations already started")
        # a stable sort: top-ups (first shot > 0) first, each group in the seeded order
        todo = sorted(pending_batches(config, table, order), key=lambda batch: batch[1] == 0)
        total = sum(stop - first for _, first, stop in todo)
        log(f"shoot: {len(todo)} batches ({total} shots) pending over {n} configurations"
            + "".join(f"; only {item}" for item in selection))
        with tqdm(total=total, unit="shot", disable=not progress, smoothing=0.05) as bar:
            finished = _fire(workdir, config, frames, boxes, todo, table, handle, bar, workers, threads,
                             deadline=None if max_minutes is None else time.monotonic() + 60 * max_minutes,
                             log=log)
    log(f"shoot: {'finished' if finished else 'stopped for time'}; wrote {path.name}")
    return finished
