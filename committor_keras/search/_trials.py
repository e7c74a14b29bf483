"""The trial table: every trial of every search, read from the Keras Tuner project directories.

It is built from the files on disk (``search-<seed>/trial_<id>/trial.json`` and our ``history.json``), so it
also describes an interrupted run, and rewriting it is idempotent.
"""

import json
import math
from pathlib import Path

import pandas as pd

from committor_keras._provenance import atomic_path, write_json_atomic
from committor_keras.model import OBJECTIVE, hparam_names, is_integer_hparam
from committor_keras.search._oracle import trial_number
from committor_keras.search._tuner import HISTORY_FILE, search_dir_name

TRIALS_CSV = "trials.csv"
TRIALS_JSON = "trials.json"
HP_PREFIX = "hp_"
_METRICS = ("kl_per_shot", "cross_entropy_per_shot", "rmse", "loss")
_BEST_COLUMNS = tuple(f"val_{m}" for m in _METRICS) + _METRICS


def collect_trials(run_dir, seeds):
    """All trials of the searches with these seeds, as a table and as records with histories.

    Args:
        run_dir: the run directory.
        seeds: the search seeds.

    Returns:
        ``(table, records)``: a DataFrame with one row per trial (see :func:`write_trial_table`) and a list
        of dicts holding the same fields plus ``hyperparameters`` (dict) and ``history`` (metric -> list).
    """
    records = []
    for seed in seeds:
        project = Path(run_dir) / search_dir_name(seed)
        # By number: ids of different widths ("9", "10") sort wrongly as text.
        for trial_file in sorted(project.glob("trial_*/trial.json"),
                                 key=lambda path: trial_number(path.parent.name.partition("_")[2])):
            records.append(_record(seed, trial_file, Path(run_dir)))
    max_layers = max((r["hyperparameters"].get("hidden_layers", 0) for r in records), default=0)
    hp_names = hparam_names(max_layers)
    rows = []
    for record in records:
        row = {key: record[key] for key in ("search_seed", "trial_id", "status", OBJECTIVE)}
        row.update({key: record[key] for key in _BEST_COLUMNS if key != OBJECTIVE})
        row.update({key: record[key] for key in ("best_epoch", "epochs")})
        row.update({HP_PREFIX + name: record["hyperparameters"].get(name) for name in hp_names})
        row.update({key: record[key] for key in ("trial_dir", "message")})
        rows.append(row)
    return _typed(pd.DataFrame(rows, columns=_columns(hp_names))), records


def write_trial_table(run_dir, seeds):
    """Write ``RUN/trials.csv`` and ``RUN/trials.json`` atomically and return the table.

    Columns: ``search_seed``, ``trial_id`` (Keras Tuner's id, a string), ``status`` (COMPLETED, FAILED for
    diverged or broken trials, RUNNING for one interrupted), the best epoch's validation metrics
    (``val_kl_per_shot`` is the objective) and training metrics, ``best_epoch`` (1-based), ``epochs`` run,
    ``hp_<name>`` per hyperparameter (widths of absent layers empty), ``trial_dir`` (relative to RUN) and
    ``message`` (why a trial failed).

    Args:
        run_dir: the run directory.
        seeds: the search seeds.

    Returns:
        The DataFrame written to trials.csv.
    """
    table, records = collect_trials(run_dir, seeds)
    with atomic_path(Path(run_dir) / TRIALS_CSV) as tmp:
        table.to_csv(tmp, index=False)
    write_json_atomic(Path(run_dir) / TRIALS_JSON, {"objective": OBJECTIVE, "trials": records})
    return table


def read_trials(run_dir):
    """Read ``RUN/trials.csv`` back with its dtypes (trial ids stay strings such as ``"03"``)."""
    return _typed(pd.read_csv(Path(run_dir) / TRIALS_CSV, dtype={"trial_id": str}))


def trial_hparams(row):
    """The hyperparameters of one trial-table row, as build_model/fit_model take them (absent layers dropped).

    Args:
        row: a row (Series or dict) of the table from :func:`write_trial_table` or :func:`read_trials`.

    Returns:
        dict name -> value.
    """
    hparams = {}
    for column, value in dict(row).items():
        if not str(column).startswith(HP_PREFIX) or value is None or value is pd.NA:
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        hparams[column[len(HP_PREFIX):]] = value.item() if hasattr(value, "item") else value
    return hparams


def _typed(table):
    """The same dtypes whether built in memory or read from CSV: counts as nullable ints, text as str."""
    counts = ["best_epoch", "epochs", *(c for c in table.columns
                                        if c.startswith(HP_PREFIX) and is_integer_hparam(c[len(HP_PREFIX):]))]
    text = ["trial_id", "status", "trial_dir", "message", HP_PREFIX + "activation", HP_PREFIX + "loss"]
    floats = [c for c in table.columns if c not in [*counts, *text, "search_seed"]]
    return table.astype({**dict.fromkeys(counts, "Int64"), **dict.fromkeys(text, "str"),
                         **dict.fromkeys(floats, "float64"), "search_seed": "int64"})


def _columns(hp_names):
    return ["search_seed", "trial_id", "status", *_BEST_COLUMNS, "best_epoch", "epochs",
            *(HP_PREFIX + n for n in hp_names), "trial_dir", "message"]


def _record(seed, trial_file, run_dir):
    trial = json.loads(trial_file.read_text())
    history_file = trial_file.parent / HISTORY_FILE
    history = json.loads(history_file.read_text())["history"] if history_file.exists() else {}
    observed = trial.get("metrics", {}).get("metrics", {})
    best = {name: _best_value(observed.get(name)) for name in _BEST_COLUMNS}
    if trial["status"] != "COMPLETED":
        # A failed trial has no score; keep its partial history but report no best metrics.
        best = dict.fromkeys(_BEST_COLUMNS)
    best_step = trial.get("best_step")
    return {
        "search_seed": seed,
        "trial_id": trial["trial_id"],
        "status": trial["status"],
        **best,
        "best_epoch": None if best_step is None or trial["status"] != "COMPLETED" else int(best_step) + 1,
        "epochs": len(next(iter(history.values()), [])) if history else None,
        "hyperparameters": trial["hyperparameters"]["values"],
        "trial_dir": str(trial_file.parent.relative_to(run_dir)),
        "message": _last_line(trial.get("message")),
        "history": history,
    }


def _best_value(metric):
    if not metric or not metric.get("observations"):
        return None
    value = metric["observations"][-1]["value"]
    return float(value[0] if isinstance(value, list) else value)


def _last_line(message):
    """The informative line of a stored traceback (the exception itself), or None."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[-1] if lines else None
