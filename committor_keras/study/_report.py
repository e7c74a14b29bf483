"""The study's ``report.md``: tables and figures from the files the stages wrote (nothing is recomputed).

Figures are PNGs under ``RUN/figures/`` linked with relative paths, so the report reads on GitHub and in any
Markdown viewer from a copy of the directory. Every KL is shown as a value and as a multiple of the noise floor.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from committor_keras._provenance import atomic_path, write_text_atomic

_FLOOR_NOTE = ("The noise floor is the KL per shot that the exact committor would score against these finite "
               "shot counts (parametric bootstrap, the best baseline's committor taken as the truth); "
               "**x floor** is a KL divided by it.")


def write_report(run_dir, data, config, seed):
    """Draw the figures and write ``RUN/report.md``.

    Args:
        run_dir: the study directory (every earlier stage done).
        data: its CommittorData.
        config: its StudyConfig.
        seed: its seed.

    Returns:
        pathlib.Path of report.md.
    """
    from committor_keras.study import _study as s

    run_dir = Path(run_dir)
    figures = _Figures(run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    floor = json.loads((run_dir / s.NOISE_FLOOR_JSON).read_text())
    trials = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    candidates = pd.read_csv(run_dir / s.CANDIDATES_CSV, dtype={"candidate": str, "trial_id": str})
    cv = pd.read_csv(run_dir / s.CV_SUMMARY_CSV)
    baselines = pd.read_csv(run_dir / s.BASELINES_CSV)
    lines = [f"# Committor study: {data.metadata.get('system', Path(str(record['config']['data'])).name)}", ""]
    lines += _overview(run_dir, record, data, config, seed, trials)
    lines += _searches(trials, figures)
    lines += _candidates(candidates, floor, run_dir, figures)
    lines += _cross_validation(cv, config)
    lines += _ablations(run_dir, floor)
    lines += _ensemble(run_dir, floor)
    lines += _baselines(baselines, floor)
    lines += _explanations(run_dir, figures)
    lines += _validation(run_dir)
    lines += _timing(run_dir)
    path = run_dir / s.REPORT_MD
    write_text_atomic(path, "\n".join(lines).rstrip() + "\n")
    return path


class _Figures:
    """Draws with committor_keras.validate's figure functions into RUN/figures/, returning relative links."""

    def __init__(self, run_dir):
        self.run_dir = run_dir

    def save(self, figure, name):
        from committor_keras.validate import save_figure

        path = self.run_dir / "figures" / f"{name}.png"
        save_figure(figure, path)
        return f"figures/{name}.png"


def _fmt(value, digits=4):
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _x(value, floor):
    return "n/a" if not floor or not np.isfinite(value) else f"{value / floor:.2f}"


def _table(frame):
    """A DataFrame as a GitHub Markdown table."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return [header, rule, *rows, ""]


def _overview(run_dir, record, data, config, seed, trials):
    command = " ".join(str(part) for part in record.get("command", []))
    versions = record.get("versions", {})
    study = config.study
    return [
        f"- data: `{record['config']['data']}` ({len(data)} configurations, {data.n_features} features, "
        f"{data.n_shots.sum():.0f} shots), sha256 `{record.get('data_sha256', '')[:16]}...`",
        f"- command: `{command}`" if command else "- command: (Python API)",
        f"- seed {seed}; config `{config.source}`; loss `{config.search.search.loss}`",
        f"- {config.search.search.searches} searches x {config.search.search.max_trials} trials "
        f"({len(trials)} trials run); {study.candidates} candidates x {study.repeats} repeats; "
        f"{study.final} final candidates by {study.folds}-fold cross-validation"
        + (f" (folds grouped by `{study.group_folds_by}`)" if study.group_folds_by else "")
        + f"; ensemble of {study.ensemble}",
        f"- versions: committor-keras {versions.get('committor-keras', '?')}, TensorFlow "
        f"{versions.get('tensorflow', versions.get('tensorflow-cpu', '?'))}, Keras {versions.get('keras', '?')}, "
        f"Keras Tuner {versions.get('keras-tuner', '?')}",
        "", _FLOOR_NOTE, "",
    ]


def _searches(trials, figures):
    from committor_keras.validate import plot_landscape

    from committor_keras.search import trial_hparams

    completed = trials[trials["status"] == "COMPLETED"]
    by_search = [{json.dumps(trial_hparams(row), sort_keys=True) for _, row in part.iterrows()}
                 for _, part in trials.groupby("search_seed")]
    shared = sum(len(a & b) for i, a in enumerate(by_search) for b in by_search[i + 1:])
    lines = ["## Searches", "",
             f"{len(completed)} of {len(trials)} trials completed over {trials['search_seed'].nunique()} searches "
             f"(oracle seeds hashed from each search's seed: hyperparameter sets shared between searches: "
             f"{shared}).", ""]
    if len(completed):
        lines += [f"![hyperparameter landscape]({figures.save(plot_landscape(trials), 'landscape')})", ""]
    return lines


def _candidates(candidates, floor, run_dir, figures):
    from committor_keras.validate import plot_training_curves

    f = floor["mean"]
    table = pd.DataFrame({
        "rank": candidates["rank"], "candidate": candidates["candidate"],
        "architecture": candidates["architecture"],
        "lr": candidates["hp_learning_rate"].map("{:.1e}".format),
        "repeats": candidates["repeats"],
        "search val KL": candidates["search_val_kl_per_shot"].map(_fmt),
        "val KL mean ± std": [f"{_fmt(m)} ± {_fmt(s)}" for m, s in
                              zip(candidates["val_kl_per_shot_mean"], candidates["val_kl_per_shot_std"])],
        "test KL mean ± std": [f"{_fmt(m)} ± {_fmt(s)}" for m, s in
                               zip(candidates["test_kl_per_shot_mean"], candidates["test_kl_per_shot_std"])],
        "test x floor": [_x(m, f) for m in candidates["test_kl_per_shot_mean"]],
        "within noise": candidates["within_noise"].map({True: "yes", False: ""}),
        "final": candidates["final"].map({True: "yes", False: ""}),
    })
    spread = (candidates["val_kl_per_shot_std"] / candidates["val_kl_per_shot_mean"]).dropna()
    lines = ["## Candidates retrained with repeats", "",
             "The best distinct hyperparameter sets of all searches, each retrained with several seeds and "
             "ranked by the mean validation KL per shot. *Within noise*: mean within max(5 %, 2 standard "
             "errors) of the best.", "", *_table(table)]
    if len(spread):
        lines += [f"Relative spread of validation KL between repeats (std / mean): median "
                  f"{100 * spread.median():.0f} %, max {100 * spread.max():.0f} %.", ""]
    histories = {}
    for _, row in candidates[candidates["final"]].iterrows():
        result = run_dir / "candidates" / row["candidate"] / "r0" / "result.json"
        history = json.loads(result.read_text()).get("history")
        if history:
            histories[f"candidate {row['candidate']} ({row['architecture']})"] = history
    if histories:
        lines += [f"![training curves]({figures.save(plot_training_curves(histories), 'training_curves')})", ""]
    return lines


def _cross_validation(cv, config):
    lines = ["## Cross-validation", "",
             f"{config.study.folds}-fold cross-validation (each fold: test on one fold, early stopping on the "
             "next, training on the rest; baselines fit training + early-stopping folds). KL per shot on the "
             "test folds, mean ± std over folds.", ""]
    table = pd.DataFrame({
        "model": cv["model"], "architecture": cv["architecture"].fillna(""),
        "KL mean ± std": [f"{_fmt(m)} ± {_fmt(s)}" for m, s in zip(cv["kl_per_shot_mean"], cv["kl_per_shot_std"])],
        "x floor": cv["kl_x_floor"].map(lambda v: _fmt(v, 2)),
        "CE/shot": cv["cross_entropy_per_shot_mean"].map(_fmt), "RMSE": cv["rmse_mean"].map(lambda v: _fmt(v, 3)),
        "within noise": cv["within_noise"].map({True: "yes", False: ""}),
    })
    lines += _table(table)
    lines += _verdicts(cv)
    return lines


def _verdicts(cv):
    networks = cv[cv["kind"].isin(["network", "ensemble"])].sort_values("kl_per_shot_mean")
    logistic = cv[cv["model"] == "baseline: all"]
    lines = []
    if len(networks):
        best = networks.iloc[0]
        lines.append(f"- Best network or ensemble: **{best['model']}**, KL {_fmt(best['kl_per_shot_mean'])} "
                     f"({_fmt(best['kl_x_floor'], 2)} x floor).")
        if len(logistic):
            ratio = best["kl_per_shot_mean"] / logistic.iloc[0]["kl_per_shot_mean"]
            lines.append(f"- Against the all-feature logistic regression: {ratio:.2f} x "
                         f"(goal <= 0.8: {'met' if ratio <= 0.8 else 'not met'}); against the noise floor: "
                         f"{_fmt(best['kl_x_floor'], 2)} x (goal <= 2: "
                         f"{'met' if best['kl_x_floor'] <= 2 else 'not met'}).")
        within = networks[networks["within_noise"] & (networks["kind"] == "network")]
        architectures = sorted(set(within["architecture"]))
        lines.append(f"- Multimodality: {len(architectures)} distinct architecture(s) within noise of the best "
                     f"network: {', '.join(f'`{a}`' for a in architectures) or 'none'}.")
    return [*lines, ""]


def _ablations(run_dir, floor):
    from committor_keras.study import _study as s

    path = run_dir / s.ABLATION_CSV
    table = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    if table.empty:
        return []
    f = floor["mean"]
    shown = pd.DataFrame({
        "feature": table["feature"], "model": table["family"],
        "KL with": table["with"].map(_fmt), "KL without": table["without"].map(_fmt),
        "difference ± SE": [f"{_fmt(m)} ± {_fmt(e)}"
                            for m, e in zip(table["difference_mean"], table["difference_se"])],
        "difference x floor": [_x(m, f) for m in table["difference_mean"]],
        "paired t-test p": table["p_value"].map(lambda v: _fmt(v, 3)),
    })
    return ["## What a feature adds to prediction", "",
            "The best network (same hyperparameters and seeds) and the all-feature logistic regression, "
            "cross-validated with and without the feature on the same folds; difference = KL without - KL "
            "with, per fold, then averaged (positive: the feature helps).", "", *_table(shown)]


def _ensemble(run_dir, floor):
    card_file = run_dir / "ensemble" / "card.json"
    if not card_file.is_file():
        return ["## Ensemble", "", "No ensemble (fewer than two members configured).", ""]
    card = json.loads(card_file.read_text())
    metrics, f = card["metrics"], floor["mean"]
    members = ", ".join(card["model"].get("candidates", []))
    return ["## Ensemble", "",
            f"Mean logit of candidates {members}; exported as one SavedModel (`ensemble/saved_model/1`) whose "
            "`serving_default` also returns `logit_std` and `committor_std`, the members' spread.", "",
            f"- validation KL {_fmt(metrics['validation']['kl_per_shot'])}; test KL "
            f"{_fmt(metrics['test']['kl_per_shot'])} ({_x(metrics['test']['kl_per_shot'], f)} x floor)", ""]


def _baselines(baselines, floor):
    table = pd.DataFrame({
        "baseline": baselines["baseline"], "features": baselines["n_features"],
        "test KL": baselines["kl_per_shot"].map(_fmt), "x floor": baselines["kl_x_floor"].map(lambda v: _fmt(v, 2)),
        "CE/shot": baselines["cross_entropy_per_shot"].map(_fmt), "RMSE": baselines["rmse"].map(lambda v: _fmt(v, 3)),
    })
    return ["## Baselines on the study's test split", "",
            f"Shot-weighted logistic regressions fit on the training and validation parts. Noise floor of the "
            f"test split: {_fmt(floor['mean'])} ± {_fmt(floor['std'])} (committor of {floor.get('q', '?')}).", "",
            *_table(table)]


def _explanations(run_dir, figures):
    from committor_keras.validate import plot_importance_heatmap

    xai = run_dir / "xai"
    if not (xai / "importances.csv").is_file():
        return ["## Explanations", "", "No explanations configured.", ""]
    importances = pd.read_csv(xai / "importances.csv")
    ranks = pd.read_csv(xai / "ranks.csv")
    spearman = pd.read_csv(xai / "spearman.csv")
    lines = ["## Explanations", "",
             "Integrated gradients (mean |attribution| of the logit) and permutation importance (increase of "
             "the test KL), on the test split, for the final candidates; *raw*: each feature group (a torsion's "
             "sin/cos pair) alone; *bond*: torsions grouped by their central bond.", ""]
    if any(alias in ranks.columns for alias in ("phi", "psi", "theta")):
        lines += ["Ranks of the named torsions (1 = most important; in the bond view, the rank of the bond "
                  "group holding the torsion):", "", *_table(ranks.fillna(""))]
    else:
        lines += ["The data name no phi, psi or theta (metadata `feature_aliases`): no torsion ranks.", ""]
    if len(spearman):
        summary = spearman.groupby(["method", "view"])["spearman"].agg(["mean", "min", "count"]).reset_index()
        summary.columns = ["method", "view", "mean Spearman", "min Spearman", "pairs"]
        lines += ["Agreement of attributions between models (pairwise Spearman of importance vectors):", "",
                  *_table(summary.round(3))]
    overall = importances[importances["region"] == "all"]
    consensus = (overall.groupby(["method", "view", "label"])["rank"].mean().rename("mean rank").reset_index()
                 .sort_values(["method", "view", "mean rank"]).groupby(["method", "view"]).head(5))
    top = consensus.groupby(["method", "view"], sort=False).apply(
        lambda part: ", ".join(f"{label} ({rank:.1f})" for label, rank in zip(part["label"], part["mean rank"])),
        include_groups=False).rename("top 5 by mean rank over models").reset_index()
    lines += ["Most important features (mean rank over the final candidates):", "", *_table(top)]
    for (method, view), part in overall.groupby(["method", "view"], sort=False):
        matrix = part.pivot_table(index="model", columns="label", values="rank")
        name = f"importance_{method}_{view}"
        link = figures.save(plot_importance_heatmap(matrix, top=15, kind="rank",
                                                    title=f"{method}, {view} view: rank per model"), name)
        lines += [f"![{method} {view}]({link})", ""]
    return lines


def _validation(run_dir):
    from committor_keras.validate import describe_scores

    lines = ["## Validation on the test split", ""]
    for directory in sorted((run_dir / "validation").glob("*")):
        scores_file = directory / "scores.json"
        if not scores_file.is_file():
            continue
        stored = json.loads(scores_file.read_text())
        lines += [f"### {directory.name}", "", describe_scores(stored["scores"], stored["confidence"]), ""]
        for figure in ("parity", "reliability", "q_histogram"):
            source = directory / f"{figure}.png"
            if source.is_file():
                target = run_dir / "figures" / f"{figure}_{directory.name}.png"
                with atomic_path(target) as tmp:
                    shutil.copyfile(source, tmp)
                lines.append(f"![{directory.name} {figure}](figures/{target.name})")
        lines.append("")
    return lines


def _timing(run_dir):
    rows = []
    for path in sorted((run_dir / "stages").glob("*.json")):
        stage = json.loads(path.read_text())
        rows.append({"stage": stage["stage"], "seconds": stage["seconds"], "finished": stage["finished"]})
    if not rows:
        return []
    table = pd.DataFrame(rows).sort_values("finished")
    return ["## Wall time per stage", "", *_table(table)]
