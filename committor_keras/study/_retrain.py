"""Top-k retraining: rebuild the best trials of all searches, test each once, export them with model cards.

The search ranks trials by validation KL per shot; its numbers are optimistic for the winners (they were
selected on the validation split). So the best ``k`` are retrained from their hyperparameters, early-stopped
on the validation split, and evaluated exactly once on the test split, which no search has seen.
"""

import math
import shutil
import typing
import warnings
from pathlib import Path

import pandas as pd

from committor_keras._provenance import atomic_path, derive_seed, seed_everything, write_json_atomic
from committor_keras.export import export_model
from committor_keras.export._card import CARD_FILE
from committor_keras.model import OBJECTIVE
from committor_keras.validate import evaluate, scalar_metrics
from committor_keras.search import load_config, select_top_k, trial_hparams
from committor_keras.search._tensorboard import top_k_tensorboard
from committor_keras.search._trials import HP_PREFIX
from committor_keras.search._tune import arrays

TOP_DIR = "top"
SUMMARY_CSV = "summary.csv"
HISTORY_JSON = "history.json"
_SELECTION = OBJECTIVE


class Trained(typing.NamedTuple):
    """One retraining of a candidate (what :func:`train_candidate` returns).

    Attributes:
        model: the trained model (best-epoch weights).
        fit: the FitResult (history, best epoch).
        validation: :func:`committor_keras.validate.evaluate` on the validation split.
        test: the same on the test split.
        seed: the training seed.
    """

    model: object
    fit: object
    validation: dict
    test: dict
    seed: int


def retrain_seed(seed, search_seed, trial_id, repeat=0):
    """The seed of retraining ``repeat`` of a trial: ``derive_seed(seed, "retrain", search_seed, trial, repeat)``."""
    return derive_seed(seed, "retrain", int(search_seed), str(trial_id), int(repeat))


def train_candidate(hparams, parts, settings, seed, callbacks=()):
    """Build and train one network from its hyperparameters; evaluate it on the validation and test parts.

    Args:
        hparams: resolved hyperparameters.
        parts: ``{"train": (x, y, w), "validation": ..., "test": ...}``.
        settings: SearchSettings (epochs, patience).
        seed: the initialisation and shuffling seed.
        callbacks: extra Keras callbacks.

    Returns:
        Trained.

    Raises:
        DivergedError: the training diverged.
    """
    from committor_keras.model import build_model, fit_model

    seed_everything(seed)
    model = build_model(hparams, parts["train"][0], seed=seed)
    fit = fit_model(model, hparams, train=parts["train"], validation=parts["validation"], epochs=settings.epochs,
                    patience=settings.patience, callbacks=list(callbacks), seed=seed, verbose=0)
    return Trained(model, fit, evaluate(model, *parts["validation"]), evaluate(model, *parts["test"]), seed)


def split_parts(data, split):
    """``{"train": (x, y, w), "validation": ..., "test": ...}`` of a Split."""
    return {name: arrays(data, getattr(split, name)) for name in ("train", "validation", "test")}


def retrain_top_k(data, split, trials, out_dir, k, config, seed, *, callbacks=(), explain=("ig", "permutation")):
    """Retrain, test and export the ``k`` best trials; write ``RUN/top/NN/`` and ``RUN/summary.csv``.

    Each model is rebuilt with :func:`committor_keras.model.build_model` from its trial's hyperparameters,
    trained with :func:`committor_keras.model.fit_model` on the training split (early stopping on the
    validation split, ``config.search.epochs`` and ``patience``), evaluated once on the test split, and
    exported atomically to ``RUN/top/NN`` (``model.keras``, ``saved_model/1/``, ``card.json``), with its Keras
    training history in ``history.json`` (``best_epoch`` 1-based, ``history``: metric -> value per epoch,
    ``val_``-prefixed on the validation split). Every model's
    seed is :func:`retrain_seed` of ``seed``, its search seed and its trial id, so the step is reproducible. Model
    directories numbered beyond the models retrained (left by an earlier run with a larger ``k``) are
    removed. A trial whose retraining diverges is skipped with a warning and the next one is taken. Each
    exported model is then explained on the test split (``RUN/top/NN/xai/``, see
    :func:`committor_keras.explain.explain_model`).

    Args:
        data: the full CommittorData of the run.
        split: its train/validation/test ``Split``.
        trials: the trial table of all searches (``RUN/trials.csv``).
        out_dir: the run directory.
        k: number of models.
        config: the SearchConfig (or anything :func:`committor_keras.search.load_config` takes).
        seed: the run's seed.
        callbacks: extra Keras callbacks for every retraining (e.g. ``IntegratedGradientsCallback``).
        explain: explanation methods written into each model's ``xai/`` ("ig", "permutation"); empty for none.

    Returns:
        DataFrame, as written to ``RUN/summary.csv``: ``rank``, ``search_seed``, ``trial_id``, ``seed``, the
        trial's ``hp_*`` hyperparameters, ``search_val_kl_per_shot`` (the selection score),
        ``val_kl_per_shot`` / ``val_cross_entropy_per_shot`` / ``val_rmse`` of the retrained model,
        ``best_epoch``, ``epochs``, ``test_cross_entropy_per_shot``, ``test_kl_per_shot``, ``test_rmse``,
        ``test_calibration_error`` and ``model_dir``; one row per model, best first.

    Raises:
        CommittorKerasError: no trial completed.
        ConfigError: invalid hyperparameters in the table.
    """
    from committor_keras.model import DivergedError, resolve_hparams

    settings = load_config(config).search
    out_dir = Path(out_dir)
    # Every usable trial in order, so a retraining that diverges (another seed than the search's) is
    # replaced by the next trial instead of leaving fewer than k models.
    candidates = select_top_k(trials, len(trials))
    width = max(2, len(str(min(k, len(candidates)))))
    parts = split_parts(data, split)
    split_sizes = {name: len(getattr(split, name)) for name in parts}
    hp_columns = [column for column in trials.columns if str(column).startswith(HP_PREFIX)]
    rows = []
    for _, trial in candidates.iterrows():
        if len(rows) == k:
            break
        rank = len(rows) + 1
        source = f"trial {trial['trial_id']} of search {trial['search_seed']}"
        hparams = resolve_hparams(trial_hparams(trial), source=source)
        model_seed = retrain_seed(seed, trial["search_seed"], trial["trial_id"])
        name = f"{rank:0{width}d}"
        try:
            trained = train_candidate(hparams, parts, settings, model_seed,
                                      [*callbacks, top_k_tensorboard(out_dir, name)])
        except DivergedError as error:
            warnings.warn(f"top-k: {source} diverged when retrained ({error}); taking the next trial",
                          stacklevel=2)
            continue
        model, result, validation, test = trained.model, trained.fit, trained.validation, trained.test
        metrics = {
            "selection": {_SELECTION: float(trial[_SELECTION]),
                          "note": "validation KL per shot of the search trial that ranked this model"},
            "validation": scalar_metrics(validation),
            "test": test,
            "training": {"best_epoch": result.best_epoch, "epochs": len(result.history.history[_SELECTION]),
                         "max_epochs": settings.epochs, "patience": settings.patience},
        }
        info = {"rank": rank, "search_seed": _plain(trial["search_seed"]), "trial_id": str(trial["trial_id"]),
                "trial_dir": _plain(trial.get("trial_dir")), "retrain_seed": model_seed}
        export_model(model, out_dir / TOP_DIR / name, data, train_indices=split.train, split_sizes=split_sizes,
                     hyperparameters=hparams, metrics=metrics, seed=model_seed, info=info)
        write_json_atomic(out_dir / TOP_DIR / name / HISTORY_JSON,
                          {"best_epoch": result.best_epoch, "history": result.history.history})
        if explain:
            from committor_keras.explain import explain_model

            explain_model(model, data.subset(split.test), out_dir / TOP_DIR / name / "xai", methods=tuple(explain),
                          seed=model_seed)
        rows.append({
            "rank": rank, "search_seed": info["search_seed"], "trial_id": info["trial_id"], "seed": model_seed,
            **{column: trial[column] for column in hp_columns},
            f"search_{_SELECTION}": float(trial[_SELECTION]),
            **{f"val_{key}": value for key, value in scalar_metrics(validation).items()},
            "best_epoch": result.best_epoch, "epochs": metrics["training"]["epochs"],
            **{f"test_{key}": value for key, value in scalar_metrics(test).items()},
            "model_dir": f"{TOP_DIR}/{name}",
        })
    _remove_stale_models(out_dir / TOP_DIR, len(rows))
    summary = pd.DataFrame(rows)
    with atomic_path(out_dir / SUMMARY_CSV) as tmp:
        summary.to_csv(tmp, index=False)
    return summary


def _plain(value):
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _remove_stale_models(top_dir, count):
    # Only directories this step writes: a numbered name and a model card inside.
    if not top_dir.is_dir():
        return
    for child in top_dir.iterdir():
        if child.is_dir() and child.name.isdigit() and int(child.name) > count and (child / CARD_FILE).is_file():
            shutil.rmtree(child)
