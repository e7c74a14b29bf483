"""Top-k retraining: rebuild the best trials of all searches, test each once, export them with model cards.

The search ranks trials by validation KL per shot; its numbers are optimistic for the winners (they were
selected on the validation split). So the best ``k`` are retrained from their hyperparameters, early-stopped
on the validation split, and evaluated exactly once on the test split, which no search has seen.
"""

import hashlib
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from committor_keras._errors import CommittorKerasError
from committor_keras._provenance import atomic_path, seed_everything
from committor_keras.export import export_model
from committor_keras.export._card import CARD_FILE
from committor_keras.export._load import committor_from_logit
from committor_keras.search._config import load_config
from committor_keras.search._tensorboard import top_k_tensorboard
from committor_keras.search._trials import HP_PREFIX, trial_hparams
from committor_keras.search._tune import _arrays

TOP_DIR = "top"
_EVALUATE_CHUNK = 65536
SUMMARY_CSV = "summary.csv"
_SELECTION = "val_kl_per_shot"
_CALIBRATION_BINS = 10


def select_top_k(trials, k):
    """The ``k`` best completed trials of all searches, best first.

    Trials rank by validation KL per shot; ties go to the lower search seed, then the lower trial id, so the
    choice is deterministic. Failed, running and non-finite trials are left out.

    Args:
        trials: the trial table (``RUN/trials.csv``).
        k: how many to keep (fewer when fewer trials completed).

    Returns:
        DataFrame, a copy of the chosen rows.

    Raises:
        CommittorKerasError: no trial completed.
    """
    score = pd.to_numeric(trials[_SELECTION], errors="coerce")
    usable = trials[(trials["status"] == "COMPLETED") & np.isfinite(score.to_numpy(dtype=float, na_value=np.nan))]
    if usable.empty:
        raise CommittorKerasError(f"no completed trial with a finite {_SELECTION} among {len(trials)} trial(s); "
                                  "see the 'message' column of trials.csv and narrow the search space")
    ranked = usable.assign(_score=score[usable.index]).sort_values(
        ["_score", "search_seed", "trial_id"], kind="stable")
    return ranked.drop(columns="_score").head(k).copy()


def retrain_top_k(data, split, trials, out_dir, k, config, seed, *, callbacks=(), explain=("ig", "permutation")):
    """Retrain, test and export the ``k`` best trials; write ``RUN/top/NN/`` and ``RUN/summary.csv``.

    Each model is rebuilt with :func:`committor_keras.model.build_model` from its trial's hyperparameters,
    trained with :func:`committor_keras.model.fit_model` on the training split (early stopping on the
    validation split, ``config.search.epochs`` and ``patience``), evaluated once on the test split, and
    exported atomically to ``RUN/top/NN`` (``model.keras``, ``saved_model/1/``, ``card.json``). Every model's
    seed derives from ``seed``, its search seed and its trial id, so the whole step is reproducible. Model
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
    from committor_keras.model import DivergedError, build_model, fit_model, resolve_hparams

    settings = load_config(config).search
    out_dir = Path(out_dir)
    # Every usable trial in order, so a retraining that diverges (another seed than the search's) is
    # replaced by the next trial instead of leaving fewer than k models.
    candidates = select_top_k(trials, len(trials))
    width = max(2, len(str(min(k, len(candidates)))))
    parts = {name: _arrays(data, getattr(split, name)) for name in ("train", "validation", "test")}
    split_sizes = {name: len(getattr(split, name)) for name in parts}
    hp_columns = [column for column in trials.columns if str(column).startswith(HP_PREFIX)]
    rows = []
    for _, trial in candidates.iterrows():
        if len(rows) == k:
            break
        rank = len(rows) + 1
        source = f"trial {trial['trial_id']} of search {trial['search_seed']}"
        hparams = resolve_hparams(trial_hparams(trial), source=source)
        model_seed = derived_seed(seed, trial["search_seed"], trial["trial_id"])
        seed_everything(model_seed)
        model = build_model(hparams, parts["train"][0], seed=model_seed)
        name = f"{rank:0{width}d}"
        try:
            result = fit_model(model, hparams, train=parts["train"], validation=parts["validation"],
                               epochs=settings.epochs, patience=settings.patience,
                               callbacks=[*callbacks, top_k_tensorboard(out_dir, name)], seed=model_seed, verbose=0)
        except DivergedError as error:
            warnings.warn(f"top-k: {source} diverged when retrained ({error}); taking the next trial",
                          stacklevel=2)
            continue
        validation = evaluate(model, *parts["validation"])
        test = evaluate(model, *parts["test"])
        metrics = {
            "selection": {_SELECTION: float(trial[_SELECTION]),
                          "note": "validation KL per shot of the search trial that ranked this model"},
            "validation": _scalars(validation),
            "test": test,
            "training": {"best_epoch": result.best_epoch, "epochs": len(result.history.history[_SELECTION]),
                         "max_epochs": settings.epochs, "patience": settings.patience},
        }
        info = {"rank": rank, "search_seed": _plain(trial["search_seed"]), "trial_id": str(trial["trial_id"]),
                "trial_dir": _plain(trial.get("trial_dir")), "retrain_seed": model_seed}
        export_model(model, out_dir / TOP_DIR / name, data, train_indices=split.train, split_sizes=split_sizes,
                     hyperparameters=hparams, metrics=metrics, seed=model_seed, info=info)
        if explain:
            from committor_keras.explain import explain_model

            explain_model(model, data.subset(split.test), out_dir / TOP_DIR / name / "xai", methods=tuple(explain),
                          seed=model_seed)
        rows.append({
            "rank": rank, "search_seed": info["search_seed"], "trial_id": info["trial_id"], "seed": model_seed,
            **{column: trial[column] for column in hp_columns},
            f"search_{_SELECTION}": float(trial[_SELECTION]),
            **{f"val_{key}": value for key, value in _scalars(validation).items()},
            "best_epoch": result.best_epoch, "epochs": metrics["training"]["epochs"],
            **{f"test_{key}": value for key, value in _scalars(test).items()},
            "model_dir": f"{TOP_DIR}/{name}",
        })
    _remove_stale_models(out_dir / TOP_DIR, len(rows))
    summary = pd.DataFrame(rows)
    with atomic_path(out_dir / SUMMARY_CSV) as tmp:
        summary.to_csv(tmp, index=False)
    return summary


def evaluate(model, x, y, w=None):
    """Test metrics of a committor model on one set, from a single prediction pass.

    Args:
        model: the model (raw features -> logit).
        x: ``(N, F)`` features.
        y: ``(N, 2)`` shot counts ``[n_a, n_b]``.
        w: optional ``(N,)`` sample weights (weighting every metric, as in training).

    Returns:
        dict: ``kl_per_shot``, ``cross_entropy_per_shot``, ``rmse`` (q against p_B), ``calibration_error``
        and ``calibration`` (the reliability table, see :func:`calibration_table`).
    """
    from committor_keras.model import committor_rmse, cross_entropy_per_shot, kl_per_shot

    # A direct call per chunk: model.predict would trace a new tf.function for every retrained model.
    x = np.asarray(x, dtype=np.float32)
    logits = np.concatenate([np.asarray(model(x[start:start + _EVALUATE_CHUNK], training=False)).reshape(-1)
                             for start in range(0, len(x), _EVALUATE_CHUNK)]).astype(np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = None if w is None else np.asarray(w, dtype=np.float64)
    table = calibration_table(committor_from_logit(logits), y[:, 0], y[:, 1], w)
    return {
        "kl_per_shot": float(kl_per_shot(y, logits, w)),
        "cross_entropy_per_shot": float(cross_entropy_per_shot(y, logits, w)),
        "rmse": float(committor_rmse(y, logits, w)),
        "calibration_error": table["calibration_error"],
        "calibration": table,
    }


def calibration_table(q, n_a, n_b, w=None, bins=_CALIBRATION_BINS):
    """Reliability of predicted committors: shots binned by q, observed fraction reaching B per bin.

    Args:
        q: ``(N,)`` predicted committors.
        n_a: ``(N,)`` shots ending in A.
        n_b: ``(N,)`` shots ending in B.
        w: optional ``(N,)`` sample weights (multiplying each point's shots).
        bins: equal-width bins on [0, 1].

    Returns:
        dict: ``edges``, per bin ``points``, ``shots``, ``mean_q`` and ``observed_p_b`` (shot-weighted;
        ``None`` for empty bins), and ``calibration_error``: the shot-weighted mean over bins of
        ``|observed_p_b - mean_q|`` (0 for a perfectly calibrated model in the limit of many shots).
    """
    weight = np.ones_like(q) if w is None else w
    shots = weight * (n_a + n_b)
    index = np.clip((q * bins).astype(int), 0, bins - 1)
    table = {"edges": np.round(np.linspace(0, 1, bins + 1), 12).tolist(), "points": [], "shots": [], "mean_q": [],
             "observed_p_b": []}
    error = 0.0
    for b in range(bins):
        member = index == b
        total = float(shots[member].sum())
        table["points"].append(int(member.sum()))
        table["shots"].append(total)
        if total <= 0:
            table["mean_q"].append(None)
            table["observed_p_b"].append(None)
            continue
        mean_q = float((shots[member] * q[member]).sum() / total)
        observed = float((weight[member] * n_b[member]).sum() / total)
        table["mean_q"].append(mean_q)
        table["observed_p_b"].append(observed)
        error += total * abs(observed - mean_q)
    table["calibration_error"] = error / float(shots.sum())
    return table


def derived_seed(seed, search_seed, trial_id):
    """A seed in [0, 2**31 - 1) from the run seed, a search seed and a trial id (stable across processes)."""
    digest = hashlib.sha256(f"top-k:{int(seed)}:{int(search_seed)}:{trial_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") % (2**31 - 1)


def _scalars(metrics):
    return {key: value for key, value in metrics.items() if isinstance(value, float)}


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
