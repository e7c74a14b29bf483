"""`tune`, the smallest study: data -> split -> seeded Bayesian searches -> trial table -> top-k retraining and
export, in one run directory."""

import sys
import typing
from pathlib import Path

import numpy as np
import pandas as pd

from committor_keras.data import Split, labels
from committor_keras.search import load_config, prepare_run, run_searches
from committor_keras.study._retrain import retrain_top_k


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
         patience=None, verbose=1, callbacks=(), top_k_callbacks=(), jobs=1, overwrite=False, chief=None):
    """Tune committor networks with several seeded Bayesian searches and retrain the best k.

    Steps: load the data; make the seeded p_B-stratified split (``RUN/split.npz``, reused when resuming);
    write ``RUN/run.json``; run the searches (``RUN/search-<seed>/``, TensorBoard logs in ``RUN/logs/``);
    write ``RUN/trials.csv``/``trials.json``; retrain and export the top k (``RUN/top/``, ``RUN/summary.csv``);
    validate each exported model on the test split (``RUN/top/NN/validation/``: parity with binomial
    intervals, reliability diagram, q histogram by state, Brier score, KL) and write ``RUN/report.md`` with
    ``RUN/figures/landscape.png`` and ``training_curves.png``.
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
        jobs: searches run at once in separate processes (see
            :func:`committor_keras.search.run_searches`); the results do not depend on it.
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
    run = prepare_run(data, out_dir, config, seed, overwrite=overwrite)
    run_dir, split = run.run_dir, run.split
    trials = run_searches(run, config, verbose=verbose, callbacks=callbacks, jobs=jobs, chief=chief)
    _notice_top_k(config.search.top_k, trials)
    if verbose:
        print(f"retraining the best {config.search.top_k} of {len(trials)} trials; exporting to {run_dir / 'top'}")

    summary = retrain_top_k(run.data, split, trials, out_dir=run_dir, k=config.search.top_k, config=config,
                            seed=seed, callbacks=top_k_callbacks)
    _warn_if_no_better_than_constant(summary, run.data, split)
    from committor_keras.search._tuner import quiet_library_warnings
    from committor_keras.study._tune_report import write_tune_report

    with quiet_library_warnings():
        report = write_tune_report(run_dir, run.data, split, config)
    if verbose:
        print(f"\ntop {len(summary)} models (all columns in {run_dir / 'summary.csv'}):")
        print(format_summary(summary).to_string(index=False))
        print(f"report (test-split validation, training curves, landscape): {report}")
    return TuneResult(run_dir, split, trials, summary)


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
