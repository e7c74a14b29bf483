"""The search part of a run (``tune`` or ``study``): data -> split -> run.json -> seeded Bayesian searches -> trial
table, in one run directory. What follows the searches (retraining, export, explanation, validation) is in
:mod:`committor_keras.study`.
"""

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import shutil
import typing
from pathlib import Path

import numpy as np

from committor_keras._errors import ConfigError
from committor_keras._paths import output_directory, relative_to
from committor_keras._provenance import run_record, sha256_file, write_json_atomic
from committor_keras.data import CommittorData, Split, labels, load, split_indices
from committor_keras.model import OBJECTIVE
from committor_keras.search._trials import write_trial_table
from committor_keras.search._tuner import run_search, search_dir_name

RUN_JSON = "run.json"
SPLIT_FILE = "split.npz"
RUN_DATA_FILE = "data.npz"  # in-memory data sets are saved here
# Settings that change a search's trials: a run directory keeps the ones it was made with. max_trials, top_k,
# searches and max_consecutive_failures may change: they add trials, searches or exported models.
RESULT_SETTINGS = ("epochs", "patience", "loss", "initial_points")
# What `--overwrite` removes: everything `tune` writes into a run directory.
_RUN_OUTPUTS = (RUN_JSON, SPLIT_FILE, "trials.csv", "trials.json", "summary.csv", "top", "logs")


class SearchRun(typing.NamedTuple):
    """A prepared run directory (what :func:`prepare_run` returns).

    Attributes:
        run_dir: the run directory.
        data: the CommittorData.
        data_path: the data file the run reads (``RUN/data.npz`` for in-memory data).
        split: the train/validation/test Split (``RUN/split.npz``).
        seeds: the search seeds.
    """

    run_dir: Path
    data: CommittorData
    data_path: Path
    split: Split
    seeds: list


def prepare_run(data, out_dir, config, seed, record=None, overwrite=False):
    """Load the data, check a resumed run, make (or reuse) the seeded split and write ``RUN/run.json``.

    The settings that shape the trials (data, seed, space, epochs, patience, loss, initial points, objective,
    split) are fixed for a run directory: other values are refused unless ``overwrite``.

    Args:
        data: a CommittorData or the path of a data set.
        out_dir: the run directory (created if needed).
        config: the SearchConfig.
        seed: the run's seed (split; search seeds unless ``search.seeds`` is set).
        record: extra JSON-ready entries for run.json's ``config`` (a study's own settings).
        overwrite: start afresh in a run directory made with other settings (what `tune` wrote there is
            deleted first).

    Returns:
        SearchRun.

    Raises:
        ConfigError: a run directory made with other data or settings, or an unusable ``out_dir``.
        DataError: unreadable or invalid data.
    """
    data_path = None
    if not isinstance(data, CommittorData):
        data_path = Path(data)
        data = load(data_path)
    run_dir = output_directory(out_dir)
    data_sha256 = data.content_sha256()
    if overwrite:
        _clear_run(run_dir)
    _check_same_run(run_dir, data_sha256, seed, config)
    if data_path is None:
        data_path = _data_file(data, run_dir)
    split = _split(data, run_dir, seed)
    seeds = config.search.search_seeds(seed)
    # Paths relative to the run directory: the run works from any working directory and after a move (with
    # its data beside it).
    entries = {"data": relative_to(data_path, run_dir), "data_file_sha256": sha256_file(data_path), "out": ".",
               "objective": OBJECTIVE, "split": _split_record(split), "search_seeds": seeds, **config.to_dict(),
               **(record or {})}
    write_json_atomic(run_dir / RUN_JSON, run_record(entries, data_sha256=data_sha256, seed=seed))
    return SearchRun(run_dir, data, data_path, split, seeds)


def run_searches(run, config, verbose=1, callbacks=(), jobs=1, chief=None):
    """Run (or resume) every search of a prepared run; write and return the trial table (``RUN/trials.csv``).

    Args:
        run: the SearchRun from :func:`prepare_run`.
        config: the SearchConfig.
        verbose: 0 silent, 1 a line per search and a summary per trial, 2 also per-epoch lines.
        callbacks: extra Keras callbacks for every trial.
        jobs: searches run at once, each in its own process with ``cpu_count // jobs`` TensorFlow threads
            (1: one after another in this process). The results do not depend on it: every search is seeded
            on its own. ``callbacks`` must then be picklable.
        chief: a ``committor_keras.search._distributed.Chief`` to serve the searches, one after another, to
            workers (which run the trials) instead of running them here; None runs them in this process.

    Returns:
        The trial table (DataFrame).

    Raises:
        ConfigError: ``jobs`` below 1, or above 1 with a ``chief``.
    """
    if jobs < 1:
        raise ConfigError(f"jobs ({jobs}) must be >= 1")
    if jobs > 1 and chief is not None:
        raise ConfigError(f"--jobs {jobs} with --chief: a chief serves the searches one at a time and runs no "
                          "trial; start more workers instead")
    if chief is not None:
        chief.search_seeds = run.seeds
    train, validation = arrays(run.data, run.split.train), arrays(run.data, run.split.validation)
    if jobs > 1 and len(run.seeds) > 1:
        try:
            _parallel_searches(train, validation, run.run_dir, run.seeds, config, verbose, callbacks, jobs)
        finally:
            trials = write_trial_table(run.run_dir, run.seeds)
        return trials
    for number, search_seed in enumerate(run.seeds, start=1):
        if verbose:
            print(f"search {number}/{len(run.seeds)} (seed {search_seed}): "
                  f"{run.run_dir / search_dir_name(search_seed)}"
                  + ("" if chief is None else f", served to workers on {chief.bind}"))
        try:
            run_search(train, validation, run.run_dir, search_seed, config, verbose=verbose, callbacks=callbacks,
                       role=chief)
        finally:
            # Keep the table current even when a search stops early or is interrupted.
            trials = write_trial_table(run.run_dir, run.seeds)
    return trials


def _parallel_searches(train, validation, run_dir, seeds, config, verbose, callbacks, jobs):
    """Run the searches ``jobs`` at a time in worker processes (spawned: TensorFlow does not survive a fork)."""
    workers = min(jobs, len(seeds))
    threads = max(1, (os.cpu_count() or 1) // workers)
    if verbose:
        print(f"{len(seeds)} searches, {workers} at a time ({threads} thread(s) each): "
              + ", ".join(str(run_dir / search_dir_name(s)) for s in seeds))
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_limit_threads,
                                                initargs=(threads,)) as pool:
        futures = [pool.submit(_search_in_worker, train, validation, run_dir, search_seed, config, verbose,
                               callbacks) for search_seed in seeds]
        for future in futures:
            future.result()


def _limit_threads(threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _search_in_worker(*args):
    train, validation, run_dir, seed, config, verbose, callbacks = args
    run_search(train, validation, run_dir, seed, config, verbose=verbose, callbacks=callbacks)


def _data_file(data, run_dir):
    """The file behind ``data``; data made in memory are saved as ``RUN/data.npz`` so the run stands alone."""
    source = Path(data.source)
    if source.is_file():
        return source
    path = run_dir / RUN_DATA_FILE
    data.save(path)
    return path


def arrays(data, indices):
    """``(x, y, w)`` of the points at ``indices``, as fit_model takes them."""
    weights = None if data.weights is None else data.weights[indices]
    return data.features[indices], labels(data)[indices], weights


def _split(data, run_dir, seed):
    """The run's split: the saved one when resuming, else a fresh seeded one (saved)."""
    path = run_dir / SPLIT_FILE
    if path.exists():
        split = Split.load(path)
        if len(split.train) + len(split.validation) + len(split.test) != len(data):
            raise ConfigError(f"{path}: the split covers a different number of points than the data; "
                              "use a new --out directory")
        return split
    split = split_indices(data, seed)
    split.save(path)
    return split


def _check_same_run(run_dir, data_sha256, seed, config):
    """Refuse to resume a run directory made from other data or with settings that change its trials."""
    path = run_dir / RUN_JSON
    if not path.exists():
        return
    try:
        previous = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON ({error}); restore it or start afresh with --overwrite") from None
    fix = "use a new --out directory, the run's own settings to resume it, or --overwrite to start it afresh"
    if previous.get("data_sha256") != data_sha256:
        raise ConfigError(f"{path}: this run was made from different data; {fix}")
    if previous.get("seed") != seed:
        raise ConfigError(f"{path}: this run used --seed {previous.get('seed')}, not {seed}; {fix}")
    before = previous.get("config", {})
    if before.get("objective", OBJECTIVE) != OBJECTIVE:
        raise ConfigError(f"{path}: key 'objective': this run optimised {before['objective']}, not {OBJECTIVE}; {fix}")
    if before.get("space") != config.space.to_dict():
        raise ConfigError(f"{path}: key 'space': the search space differs from this run's; {fix}")
    settings = config.search.to_dict()
    for name in RESULT_SETTINGS:
        old = before.get("search", {}).get(name)
        if old is not None and old != settings[name]:
            raise ConfigError(f"{path}: key 'search.{name}': this run used {old!r}, not {settings[name]!r}; {fix}")
    split_file = run_dir / SPLIT_FILE
    recorded = before.get("split", {}).get("sha256")
    if recorded and split_file.is_file() and _split_record(Split.load(split_file))["sha256"] != recorded:
        raise ConfigError(f"{split_file}: the split differs from the one recorded in {path}; {fix}")


def _split_record(split):
    """The split as run.json records it: its file, sizes and a hash of the indices."""
    digest = hashlib.sha256()
    for part in (split.train, split.validation, split.test):
        digest.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
    return {"file": SPLIT_FILE, "seed": split.seed, "sizes": [len(split.train), len(split.validation),
                                                                len(split.test)], "sha256": digest.hexdigest()}


def _clear_run(run_dir):
    """Delete what `tune` wrote into ``run_dir`` (for ``--overwrite``); other files stay."""
    for entry in [*(run_dir / name for name in _RUN_OUTPUTS), *run_dir.glob(search_dir_name("*"))]:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()

