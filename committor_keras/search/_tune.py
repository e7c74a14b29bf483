"""The search part of a run (``tune`` or ``study``): data -> split -> run.json -> seeded Bayesian searches -> trial
table, in one run directory. What follows the searches (retraining, export, explanation, validation) is in
:mod:`committor_keras.study`.
"""

import concurrent.futures
import json
import multiprocessing
import os
import typing
from pathlib import Path

from committor_keras._errors import ConfigError
from committor_keras._provenance import run_record, write_json_atomic
from committor_keras.data import CommittorData, Split, labels, load, split_indices
from committor_keras.search._trials import write_trial_table
from committor_keras.search._tuner import run_search, search_dir_name

RUN_JSON = "run.json"
SPLIT_FILE = "split.npz"
RUN_DATA_FILE = "data.npz"  # in-memory data sets are saved here


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


def prepare_run(data, out_dir, config, seed, record=None):
    """Load the data, check a resumed run, make (or reuse) the seeded split and write ``RUN/run.json``.

    Args:
        data: a CommittorData or the path of a data set.
        out_dir: the run directory (created if needed).
        config: the SearchConfig.
        seed: the run's seed (split; search seeds unless ``search.seeds`` is set).
        record: extra JSON-ready entries for run.json's ``config`` (a study's own settings).

    Returns:
        SearchRun.

    Raises:
        ConfigError: a run directory made from other data, seed, space or loss.
        DataError: unreadable or invalid data.
    """
    data_path = None
    if not isinstance(data, CommittorData):
        data_path = Path(data)
        data = load(data_path)
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    data_sha256 = data.content_sha256()
    _check_same_run(run_dir, data_sha256, seed, config)
    if data_path is None:
        data_path = _data_file(data, run_dir)
    split = _split(data, run_dir, seed)
    seeds = config.search.search_seeds(seed)
    # Relative to the run directory, so a moved or copied run (with its data beside it) still reads.
    entries = {"data": os.path.relpath(data_path, run_dir), "out": ".", "search_seeds": seeds,
               **config.to_dict(), **(record or {})}
    write_json_atomic(run_dir / RUN_JSON, run_record(entries, data_sha256=data_sha256, seed=seed))
    return SearchRun(run_dir, data, data_path, split, seeds)


def run_searches(run, config, verbose=1, callbacks=(), jobs=1):
    """Run (or resume) every search of a prepared run; write and return the trial table (``RUN/trials.csv``).

    Args:
        run: the SearchRun from :func:`prepare_run`.
        config: the SearchConfig.
        verbose: 0 silent, 1 a line per search and a summary per trial, 2 also per-epoch lines.
        callbacks: extra Keras callbacks for every trial.
        jobs: searches run at once, each in its own process with ``cpu_count // jobs`` TensorFlow threads
            (1: one after another in this process). The results do not depend on it: every search is seeded
            on its own. ``callbacks`` must then be picklable.

    Returns:
        The trial table (DataFrame).

    Raises:
        ConfigError: ``jobs`` below 1.
    """
    if jobs < 1:
        raise ConfigError(f"jobs ({jobs}) must be >= 1")
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
                  f"{run.run_dir / search_dir_name(search_seed)}")
        try:
            run_search(train, validation, run.run_dir, search_seed, config, verbose=verbose, callbacks=callbacks)
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
    """Refuse to resume a run directory made from other data, another seed, space or loss."""
    path = run_dir / RUN_JSON
    if not path.exists():
        return
    previous = json.loads(path.read_text())
    fix = "use a new --out directory (or the original settings to resume)"
    if previous.get("data_sha256") != data_sha256:
        raise ConfigError(f"{path}: this run was made from different data; {fix}")
    if previous.get("seed") != seed:
        raise ConfigError(f"{path}: this run used --seed {previous.get('seed')}, not {seed}; {fix}")
    before = previous.get("config", {})
    if before.get("space") != config.space.to_dict():
        raise ConfigError(f"{path}: key 'space': the search space differs from this run's; {fix}")
    if before.get("search", {}).get("loss") != config.search.loss:
        raise ConfigError(f"{path}: key 'search.loss': the loss differs from this run's; {fix}")
