"""`tune`: data -> split -> seeded Bayesian searches -> trial table -> top-k retraining, in one run directory."""

import concurrent.futures
import json
import multiprocessing
import os
import typing
from pathlib import Path

import pandas as pd

from committor_keras._errors import ConfigError
from committor_keras._provenance import run_record, write_json_atomic
from committor_keras.data import CommittorData, Split, labels, load, split_indices
from committor_keras.search._config import load_config
from committor_keras.search._trials import write_trial_table
from committor_keras.search._tuner import run_search, search_dir_name

RUN_JSON = "run.json"
SPLIT_FILE = "split.npz"
RUN_DATA_FILE = "data.npz"  # in-memory data sets are saved here


class TuneResult(typing.NamedTuple):
    """What :func:`tune` returns.

    Attributes:
        run_dir: the run directory.
        split: the train/validation/test Split.
        trials: the trial table (as in ``RUN/trials.csv``).
        summary: the top-k table from the retraining (as in ``RUN/summary.csv``).
    """

    run_dir: Path
    split: Split
    trials: pd.DataFrame
    summary: pd.DataFrame


def tune(data, out_dir, config=None, max_trials=None, searches=None, top_k=None, seed=0, epochs=None,
         patience=None, verbose=1, callbacks=(), top_k_callbacks=(), jobs=1):
    """Tune committor networks with several seeded Bayesian searches and retrain the best k.

    Steps: load the data; make the seeded p_B-stratified split (``RUN/split.npz``, reused when resuming);
    write ``RUN/run.json``; run the searches (``RUN/search-<seed>/``, TensorBoard logs in ``RUN/logs/``);
    write ``RUN/trials.csv``/``trials.json``; retrain and export the top k (``RUN/top/``, ``RUN/summary.csv``).
    Running the same call again resumes: finished trials are kept, interrupted ones rerun, and raising
    ``max_trials`` adds trials to every search.

    Args:
        data: a CommittorData or the path of a ``.npz``/``.csv`` data set.
        out_dir: the run directory (created if needed).
        config: a search TOML path, a SearchConfig, a mapping, or None for the defaults.
        max_trials: trials per search (overrides ``search.max_trials``).
        searches: number of searches (overrides ``search.searches`` and ``search.seeds``).
        top_k: models to retrain and export (overrides ``search.top_k``).
        seed: the run's seed: the split and, unless ``search.seeds`` is set, searches ``seed, seed + 1, ...``.
        epochs: maximum epochs per trial (overrides ``search.epochs``).
        patience: early-stopping patience (overrides ``search.patience``).
        verbose: 0 silent, 1 a summary per trial and the final table, 2 also per-epoch lines.
        callbacks: extra Keras callbacks for every search trial (e.g. an ``IntegratedGradientsCallback``).
        top_k_callbacks: extra Keras callbacks for every top-k retraining.
        jobs: searches run at once, each in its own process with ``cpu_count // jobs`` TensorFlow threads
            (1: one after another in this process). The results do not depend on it: every search is seeded
            on its own. ``callbacks`` must then be picklable.

    Returns:
        TuneResult.

    Raises:
        ConfigError: invalid configuration, or a run directory made from other data, seed or space.
        DataError: unreadable or invalid data.
    """
    if jobs < 1:
        raise ConfigError(f"jobs ({jobs}) must be >= 1")
    config = load_config(config).with_overrides(max_trials=max_trials, searches=searches, top_k=top_k,
                                                 epochs=epochs, patience=patience)
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
    record = {"data": str(data_path), "out": str(run_dir), "search_seeds": seeds, **config.to_dict()}
    write_json_atomic(run_dir / RUN_JSON, run_record(record, data_sha256=data_sha256, seed=seed))

    train, validation = _arrays(data, split.train), _arrays(data, split.validation)
    if jobs > 1 and len(seeds) > 1:
        try:
            _parallel_searches(train, validation, run_dir, seeds, config, verbose, callbacks, jobs)
        finally:
            trials = write_trial_table(run_dir, seeds)
    else:
        for number, search_seed in enumerate(seeds, start=1):
            if verbose:
                print(f"search {number}/{len(seeds)} (seed {search_seed}): "
                      f"{run_dir / search_dir_name(search_seed)}")
            try:
                run_search(train, validation, run_dir, search_seed, config, verbose=verbose, callbacks=callbacks)
            finally:
                # Keep the table current even when a search stops early or is interrupted.
                trials = write_trial_table(run_dir, seeds)

    from committor_keras.search._topk import retrain_top_k

    if verbose:
        print(f"retraining the best {config.search.top_k} of {len(trials)} trials; exporting to {run_dir / 'top'}")

    summary = retrain_top_k(data, split, trials, out_dir=run_dir, k=config.search.top_k, config=config,
                            seed=seed, callbacks=top_k_callbacks)
    if verbose:
        print(f"\ntop {len(summary)} models (all columns in {run_dir / 'summary.csv'}):")
        print(format_summary(summary).to_string(index=False))
    return TuneResult(run_dir, split, trials, summary)


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


def format_summary(summary):
    """The top-k table as a person reads it: architecture, training settings, validation and test metrics.

    Args:
        summary: the DataFrame returned by ``retrain_top_k`` (``RUN/summary.csv``).

    Returns:
        DataFrame with one row per model and short column names.
    """
    def units(row):
        layers = int(row["hp_hidden_layers"])
        return "-".join(str(int(row[f"hp_units_{i}"])) for i in range(layers))

    return pd.DataFrame({
        "rank": summary["rank"],
        "search": summary["search_seed"],
        "trial": summary["trial_id"],
        "layers": summary.apply(units, axis=1),
        "activation": summary["hp_activation"],
        "dropout": summary["hp_dropout"].map("{:.2f}".format),
        "l2": summary["hp_l2"].map("{:.1e}".format),
        "lr": summary["hp_learning_rate"].map("{:.1e}".format),
        "batch": summary["hp_batch_size"].astype(int),
        "val KL/shot": summary["val_kl_per_shot"].map("{:.4f}".format),
        "test KL/shot": summary["test_kl_per_shot"].map("{:.4f}".format),
        "test CE/shot": summary["test_cross_entropy_per_shot"].map("{:.4f}".format),
        "test RMSE": summary["test_rmse"].map("{:.3f}".format),
    })


def _data_file(data, run_dir):
    """The file behind ``data``; data made in memory are saved as ``RUN/data.npz`` so the run stands alone."""
    source = Path(data.source)
    if source.is_file():
        return source
    path = run_dir / RUN_DATA_FILE
    data.save(path)
    return path


def _arrays(data, indices):
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
