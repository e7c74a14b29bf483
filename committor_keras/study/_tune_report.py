"""`tune`'s report: the exported models validated on the test split, their training curves, the searches'
hyperparameter landscape, and ``RUN/report.md`` linking them.

Like the study's report it reads only what earlier steps wrote (``run.json``, ``trials.csv``, ``summary.csv``,
``top/NN/model.keras`` and ``top/NN/history.json``), so it can be rerun on a finished run directory and then
rewrites the same files. Every file goes through a temporary name and a rename (each model's ``validation/``
as one directory), and figures are standalone matplotlib Figures drawn with the Agg canvas (no pyplot state,
nothing to close).

Files::

    RUN/report.md                          the report (relative links, reads on GitHub from a copy of RUN)
    RUN/figures/landscape.png              objective of every completed trial against its hyperparameters
    RUN/figures/training_curves.png        training and validation KL per epoch of every exported model
    RUN/top/NN/validation/                 scores.json, parity.csv, q_histogram.csv, predictions.csv,
                                           parity.png, reliability.png, q_histogram.png (test split)
"""

import json
from pathlib import Path

import pandas as pd

from committor_keras._provenance import write_text_atomic
from committor_keras.study._report import _Figures, _table
from committor_keras.study._study import FIGURES_DIR, REPORT_MD, VALIDATION_DIR

LANDSCAPE = "landscape"
TRAINING_CURVES = "training_curves"
_FIGURES = ("parity", "reliability", "q_histogram")
_FLOOR_NOTE = ("**x floor**: the KL divided by the KL that the model's own q would score against these finite "
               "shot counts if it were the exact committor (parametric bootstrap): near 1 the model fits the "
               "test points as well as their shot noise allows. (`committor-keras study` compares with one "
               "floor from a logistic baseline instead.)")


def write_tune_report(run_dir, data, split, config=None, *, bins=10):
    """Validate every exported model on the test split, draw the figures and write ``RUN/report.md``.

    Args:
        run_dir: the run directory, after :func:`committor_keras.study.retrain_top_k`.
        data: the run's CommittorData.
        split: its Split.
        config: the run's SearchConfig (for the overview line); None reads nothing extra.
        bins: q-bins of the calibration and parity tables.

    Returns:
        pathlib.Path of ``report.md``.
    """
    from committor_keras.search import read_trials
    from committor_keras.study._retrain import HISTORY_JSON, SUMMARY_CSV
    from committor_keras.study._tune import format_summary
    from committor_keras.validate import describe_scores, validate_model

    run_dir = Path(run_dir)
    summary = pd.read_csv(run_dir / SUMMARY_CSV, dtype={"trial_id": str, "model_dir": str})
    trials = read_trials(run_dir)
    test = data.subset(split.test)
    record = json.loads((run_dir / "run.json").read_text())

    validations, histories = {}, {}
    for _, row in summary.iterrows():
        directory = run_dir / row["model_dir"]
        name = Path(row["model_dir"]).name
        label = f"model {name} ({_architecture(row)})"
        validations[name] = validate_model(_load(directory), test, directory / VALIDATION_DIR, bins=bins,
                                           title=f"model {name}")
        history_file = directory / HISTORY_JSON
        if history_file.is_file():
            histories[label] = json.loads(history_file.read_text())["history"]

    lines = [f"# Tune run: {data.metadata.get('system', Path(str(record['config'].get('data', ''))).name)}", ""]
    lines += _overview(record, data, split, config, trials, summary)
    lines += ["## Top models", "",
              "Retrained from their trials' hyperparameters, early-stopped on the validation split and tested "
              "once on the test split (which no search has seen); all columns in [summary.csv](summary.csv).", "",
              *_table(format_summary(summary))]
    lines += _landscape(run_dir, trials)
    lines += _training(run_dir, histories)
    lines += ["## Validation on the test split", "",
              f"{len(test)} test points, {test.n_shots.sum():.0f} shots. {_FLOOR_NOTE} Tables and predictions in "
              "each model's `validation/` directory.", ""]
    for _, row in summary.iterrows():
        name = Path(row["model_dir"]).name
        base = f"{row['model_dir']}/{VALIDATION_DIR}"
        result = validations[name]
        lines += [f"### model {name} ({_architecture(row)})", "",
                  describe_scores(result["scores"], result["confidence"]), ""]
        lines += [f"![model {name} {figure}]({base}/{figure}.png)" for figure in _FIGURES]
        xai = f"{row['model_dir']}/xai"
        lines += ["", f"Scores and tables: [{base}/scores.json]({base}/scores.json), `parity.csv`, "
                  "`q_histogram.csv`, `predictions.csv`"
                  + (f"; this model's explanation: [{xai}/]({xai}/)" if (run_dir / xai).is_dir() else "") + ".", ""]
    lines += ["## Cross-model explanation", "",
              "`committor-keras explain RUN` compares the exported models' attributions (heatmap of the top "
              "feature groups, ranks, Spearman/Kendall agreement, common top 5) in "
              + ("[xai/report.md](xai/report.md)" if (run_dir / "xai" / "report.md").is_file()
                 else "`xai/report.md` (not run yet)")
              + "; `--group bond` groups the torsions by their central bond.", ""]
    path = run_dir / REPORT_MD
    write_text_atomic(path, "\n".join(lines).rstrip() + "\n")
    return path


def _load(directory):
    import keras

    import committor_keras.model  # noqa: F401  (registers the package's Keras objects)

    return keras.saving.load_model(directory / "model.keras", compile=False)


def _architecture(row):
    """``"64-32 tanh"`` of a summary row, as the study names its candidates."""
    from committor_keras.search import trial_hparams
    from committor_keras.study._study import architecture

    return architecture(trial_hparams(row))


def _overview(record, data, split, config, trials, summary):
    command = " ".join(str(part) for part in record.get("command", []))
    versions = record.get("versions", {})
    completed = int((trials["status"] == "COMPLETED").sum())
    lines = [
        f"- data: `{record['config'].get('data', data.source)}` ({len(data)} configurations, {data.n_features} "
        f"features, {data.n_shots.sum():.0f} shots), sha256 `{str(record.get('data_sha256', ''))[:16]}...`",
        f"- command: `{command}`" if command else "- command: (Python API)",
        f"- seed {record.get('seed')}; split {len(split.train)} / {len(split.validation)} / {len(split.test)} "
        "(train / validation / test)",
        f"- {trials['search_seed'].nunique()} search(es), {len(trials)} trials ({completed} completed); top "
        f"{len(summary)} retrained and exported to `top/`"
        + (f"; up to {config.search.epochs} epochs, patience {config.search.patience}, loss "
           f"`{config.search.loss}`" if config is not None else ""),
        f"- versions: committor-keras {versions.get('committor-keras', '?')}, TensorFlow "
        f"{versions.get('tensorflow', versions.get('tensorflow-cpu', '?'))}, Keras {versions.get('keras', '?')}, "
        f"Keras Tuner {versions.get('keras-tuner', '?')}",
        "",
    ]
    return lines


def _landscape(run_dir, trials):
    from committor_keras.validate import plot_landscape

    lines = ["## Searches", "",
             "Validation KL per shot of every completed trial against depth, mean width, activation and learning "
             "rate (colour: search; star: best); every trial in [trials.csv](trials.csv).", ""]
    if (trials["status"] == "COMPLETED").any():
        lines += [f"![hyperparameter landscape]({_Figures(run_dir).save(plot_landscape(trials), LANDSCAPE)})", ""]
    return lines


def _training(run_dir, histories):
    from committor_keras.validate import plot_training_curves

    if not histories:
        return []
    figure = plot_training_curves(histories, title="exported models")
    return ["## Training of the exported models", "",
            "KL per shot by epoch of each top-k retraining (per-epoch values in `top/NN/history.json`; "
            "`tensorboard --logdir logs/top` has the same curves).", "",
            f"![training curves]({_Figures(run_dir).save(figure, TRAINING_CURVES)})", ""]
