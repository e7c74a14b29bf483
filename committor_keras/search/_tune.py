"""`tune`: data -> split -> seeded Bayesian searches -> trial table -> top-k retraining, in one run directory."""

import hashlib
import json
import shutil
import sys
import typing
from pathlib import Path

import numpy as np
import pandas as pd

from committor_keras._errors import ConfigError
from committor_keras._paths import output_directory, relative_to
from committor_keras._provenance import run_record, sha256_file, write_json_atomic
from committor_keras.data import CommittorData, Split, labels, load, split_indices
from committor_keras.model._training import OBJECTIVE
from committor_keras.search._config import load_config
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
         patience=None, verbose=1, callbacks=(), top_k_callbacks=(), overwrite=False, chief=None):
    """Tune committor networks with several seeded Bayesian searches and retrain the best k.

    Steps: load the data; make the seeded p_B-stratified split (``RUN/split.npz``, reused when resuming);
    write ``RUN/run.json``; run the searches (``RUN/search-<seed>/``, TensorBoard logs in ``RUN/logs/``);
    write ``RUN/trials.csv``/``trials.json``; retrain and export the top k (``RUN/top/``, ``RUN/summary.csv``).
    Running the same call again resumes: finished trials are kept, interrupted ones rerun, and raising
    ``max_trials`` adds trials to every search. The settings that shape the trials (data, seed, space,
    epochs, patience, loss, initial points, objective, split) are fixed for a run directory: other values
    are refused unless ``overwrite``.

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
        overwrite: start afresh in a run directory made with other settings (its results are deleted).
        chief: a ``committor_keras.search._distributed.Chief`` to serve the searches to workers (which run
            the trials) instead of running them here; None runs them in this process.

    Returns:
        TuneResult.

    Raises:
        ConfigError: invalid configuration, or a run directory made with other data or settings.
        DataError: unreadable or invalid data.
    """
    config = load_config(config).with_overrides(max_trials=max_trials, searches=searches, top_k=top_k,
                                                 epochs=epochs, patience=patience)
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
    if chief is not None:
        chief.search_seeds = seeds
    # Paths relative to the run directory: the run works from any working directory and after a move.
    record = {"data": relative_to(data_path, run_dir), "data_file_sha256": sha256_file(data_path),
              "objective": OBJECTIVE, "split": _split_record(split), "search_seeds": seeds, **config.to_dict()}
    write_json_atomic(run_dir / RUN_JSON, run_record(record, data_sha256=data_sha256, seed=seed))

    train, validation = _arrays(data, split.train), _arrays(data, split.validation)
    for number, search_seed in enumerate(seeds, start=1):
        if verbose:
            print(f"search {number}/{len(seeds)} (seed {search_seed}): {run_dir / search_dir_name(search_seed)}"
                  + ("" if chief is None else f", served to workers on {chief.bind}"))
        try:
            run_search(train, validation, run_dir, search_seed, config, verbose=verbose, callbacks=callbacks,
                       role=chief)
        finally:
            # Keep the table current even when a search stops early or is interrupted.
            trials = write_trial_table(run_dir, seeds)

    from committor_keras.search._topk import retrain_top_k

    _notice_top_k(config.search.top_k, trials)
    if verbose:
        print(f"retraining the best {config.search.top_k} of {len(trials)} trials; exporting to {run_dir / 'top'}")

    summary = retrain_top_k(data, split, trials, out_dir=run_dir, k=config.search.top_k, config=config,
                            seed=seed, callbacks=top_k_callbacks)
    _warn_if_no_better_than_constant(summary, data, split)
    if verbose:
        print(f"\ntop {len(summary)} models (all columns in {run_dir / 'summary.csv'}):")
        print(format_summary(summary).to_string(index=False))
    return TuneResult(run_dir, split, trials, summary)


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


def _notice_top_k(top_k, trials):
    """Say so when fewer trials completed than models were asked for."""
    completed = int((trials["status"] == "COMPLETED").sum())
    if top_k > completed:
        print(f"notice: top_k is {top_k} but only {completed} trial(s) completed; exporting {completed} "
              "model(s) (raise --max-trials for more)", file=sys.stderr)


def _warn_if_no_better_than_constant(summary, data, split):
    """Warn when the best exported model predicts the test split no better than a constant committor.

    The constant is the training split's shot-weighted p_B, the best model that ignores the features.
    """
    if summary.empty:
        return
    from committor_keras.model import kl_per_shot

    y = labels(data)
    weights = np.ones(len(y)) if data.weights is None else data.weights
    train, test = split.train, split.test
    p_b = float(np.clip(np.sum(weights[train] * y[train, 1]) / np.sum(weights[train] * y[train].sum(axis=1)),
                        1e-12, 1 - 1e-12))
    constant = float(kl_per_shot(y[test], np.full(len(test), np.log(p_b / (1 - p_b))), weights[test]))
    best = float(summary["test_kl_per_shot"].min())
    if best >= constant:
        print(f"warning: the best model's test KL per shot ({best:.4g}) is no better than a constant committor "
              f"q = {p_b:.3g} ({constant:.4g}): the features may not predict p_B, or the search was too short "
              "(raise --max-trials and --epochs)", file=sys.stderr)
