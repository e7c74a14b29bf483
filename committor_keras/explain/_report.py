"""Cross-model report: explain every top-k model of one or more runs and compare their importances.

For each method the report holds a heatmap of the top feature groups' importance shares across models (all
groups are in the tables), the ranks, the pairwise Spearman and Kendall rank correlations between the models'
importance vectors, and the groups in every model's top five; across methods, the rank correlation of each
model's importances (IG vs permutation vs SHAP). Everything is written into a temporary directory that then
replaces ``RUN/xai/`` in one rename.
"""

import dataclasses
import itertools
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from committor_keras._errors import ConfigError
from committor_keras._provenance import atomic_directory, library_versions, write_json_atomic, write_text_atomic

from ._figures import heatmap, plot_importance_heatmap, save_figure
from ._forward import committor
from ._grouping import grouping_name, grouping_options
from ._inputs import explain_set
from ._model_report import run_method
from ._regions import REGIONS, region_mask
from ._run import check_model_features, load_keras_model, read_run
from ._shap import DEFAULT_BACKGROUND, shap_values
from ._writer import STEMS, TITLES

METHODS = ("ig", "permutation", "shap")
_TITLES = {STEMS[method]: title for method, title in TITLES.items()}
_MEANING = {
    "ig": "mean |integrated-gradients attribution| of the {output}",
    "permutation": "increase of the test KL divergence per shot when the group is permuted",
    "shap": "mean |SHAP value| of the {output} (Permutation explainer)",
}
REPORT_DIR = "xai"
_HEATMAP_TOP = 15      # groups drawn in the importance heatmap (all of them are in the tables)


@dataclasses.dataclass
class RunReport:
    """What ``explain_run`` computed and wrote.

    Attributes:
        out_dir: the report directory.
        importances: long table, one row per (model, method, group), importance-table columns plus ``model``
            and ``run``.
        correlations: {(method, "spearman" | "kendall"): models x models DataFrame}.
        agreement: per model and pair of methods, the Spearman and Kendall correlation of their importances.
        consensus: {method: labels of the groups in every model's top ``top``}.
    """

    out_dir: Path
    importances: pd.DataFrame
    correlations: dict
    agreement: pd.DataFrame
    consensus: dict


def explain_run(run_dirs, methods=("ig", "permutation"), *, out_dir=None, data_path=None, steps=64,
                baseline="mean", output="logit", region="all", repeats=10, shap_points=100,
                shap_background=DEFAULT_BACKGROUND, top=5, seed=0, figures=True, grouping="feature"):
    """Explain the top-k models of one or more runs on their test split and compare them.

    Args:
        run_dirs: a run directory or several (across searches); each needs ``run.json``, ``split.npz`` and
            ``top/NN/model.keras``.
        methods: any of ``"ig"``, ``"permutation"``, ``"shap"`` (SHAP needs the ``shap`` extra).
        out_dir: report directory (default ``<first run>/xai``); replaced as a whole.
        data_path: data file to use instead of the one in ``run.json`` (its sha256 must match).
        steps: integrated-gradients quadrature nodes (Gauss-Legendre).
        baseline: integrated-gradients baseline: ``"mean"``, ``"A"`` or ``"B"``.
        output: explained output of IG and SHAP: ``"logit"`` or ``"committor"``.
        region: ``"all"`` test points or ``"transition"`` (0.4 < q < 0.6 by each model's own q).
        repeats: permutation repeats.
        shap_points: test points explained by SHAP (drawn from the region with ``seed``).
        shap_background: SHAP background points (drawn from the test split with ``seed``).
        top: size of the top list checked for consensus.
        seed: seed of permutations, bootstraps and SHAP draws.
        figures: whether to draw the heatmaps.
        grouping: ``"feature"`` (each sin/cos pair once), ``"bond"`` (torsions by central bond), a mapping group
            -> feature names or a JSON file of one; see :func:`committor_keras.explain.group_by_central_bond`.

    Returns:
        A ``RunReport``.
    """
    run_dirs = [Path(run_dirs)] if isinstance(run_dirs, (str, os.PathLike)) else [Path(r) for r in run_dirs]
    methods = _check_methods(methods)
    if region not in REGIONS:
        raise ConfigError(f"unknown region '{region}': use one of {', '.join(REGIONS)}")
    grouping_options(grouping, ())      # a bad choice or grouping file fails before any model is loaded
    out_dir = Path(out_dir) if out_dir is not None else run_dirs[0] / REPORT_DIR
    settings = {"methods": list(methods), "steps": steps, "quadrature": "gauss-legendre", "baseline": baseline,
                "output": output, "region": region, "repeats": repeats, "shap_points": shap_points,
                "shap_background": shap_background, "top": top, "seed": seed, "grouping": grouping_name(grouping)}

    run_dirs = list(dict.fromkeys(run_dirs))
    run_names = [d.name for d in run_dirs]
    if len(set(run_names)) < len(run_names):
        run_names = [str(d) for d in run_dirs]
    tables, sources = [], []
    for run_dir, run_name in zip(run_dirs, run_names):
        run = read_run(run_dir, data_path)
        sources.append({"run": str(run_dir), "data": run.data.source, "test_points": len(run.test),
                        "models": [model_id for model_id, _, _ in run.models]})
        points = explain_set(run.data, indices=run.test, **grouping_options(grouping, run.data))
        for model_id, path, card in run.models:
            check_model_features(card, run.data, path)
            name = model_id if len(run_dirs) == 1 else f"{run_name}/{model_id}"
            tables += _explain_model(load_keras_model(path), name, str(run_dir), points, methods, settings)
    if not tables:
        raise ConfigError(f"no model has test points in the region '{region}'; use region 'all'")
    importances = pd.concat(tables, ignore_index=True)
    report = _analyse(importances, methods, top, out_dir)
    _write(report, sources, settings, figures)
    return report


def _check_methods(methods):
    methods = tuple(m.strip() for m in (methods.split(",") if isinstance(methods, str) else methods) if m.strip())
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ConfigError(f"unknown explanation method(s) {unknown}: choose from {', '.join(METHODS)}")
    return tuple(dict.fromkeys(methods))


def _explain_model(model, name, run, points, methods, settings):
    """Importance tables of one model for each method, over the chosen region of its test points."""
    mask = region_mask(committor(model, points.features), settings["region"])
    if not mask.any():
        warnings.warn(f"model {name}: no test point in region '{settings['region']}'; the model is left out",
                      RuntimeWarning, stacklevel=3)
        return []
    tables = []
    for method in methods:
        if method == "shap":
            rng = np.random.default_rng(settings["seed"])
            candidates = np.flatnonzero(mask)
            rows = np.sort(rng.choice(candidates, size=min(settings["shap_points"], len(candidates)),
                                      replace=False))
            background = np.sort(rng.choice(len(points.features), replace=False,
                                            size=min(settings["shap_background"], len(points.features))))
            result = shap_values(model, points.subset(rows), background=points.features[background],
                                 output=settings["output"], seed=settings["seed"])
            table = result.table(region=settings["region"], seed=settings["seed"])
        else:
            result = run_method(model, points, method, baseline=settings["baseline"], output=settings["output"],
                                steps=settings["steps"], repeats=settings["repeats"], seed=settings["seed"])
            table = result.table(mask=mask, region=settings["region"], seed=settings["seed"])
        table.insert(0, "short_method", method)
        table.insert(0, "run", run)
        table.insert(0, "model", name)
        tables.append(table)
    return tables


def _analyse(importances, methods, top, out_dir):
    correlations, consensus = {}, {}
    for method in methods:
        wide = _wide(importances, method, "importance")
        for kind in ("spearman", "kendall"):
            correlations[method, kind] = wide.T.corr(method=kind)
        ranks = _wide(importances, method, "rank")
        consensus[method] = [label for label in ranks.columns if (ranks[label] <= top).all()]
    rows = []
    for model in dict.fromkeys(importances["model"]):
        for first, second in itertools.combinations(methods, 2):
            a, b = (_wide(importances, m, "importance").loc[model] for m in (first, second))
            rows.append({"model": model, "method_a": first, "method_b": second,
                         "spearman": a.corr(b, method="spearman"), "kendall": a.corr(b, method="kendall")})
    agreement = pd.DataFrame(rows, columns=["model", "method_a", "method_b", "spearman", "kendall"])
    return RunReport(out_dir, importances, correlations, agreement, consensus)


def _wide(importances, method, column):
    """models x group labels of one column for one method, groups ordered by mean rank."""
    part = importances[importances["short_method"] == method]
    wide = part.pivot(index="model", columns="label", values=column).astype(float)
    order = part.groupby("label")["rank"].mean().sort_values().index
    return wide.reindex(index=list(dict.fromkeys(part["model"])), columns=order)


def _write(report, sources, settings, figures):
    """Write report.md, CSVs and PNGs into a fresh directory that then replaces ``report.out_dir``."""
    with atomic_directory(report.out_dir) as staging:
        _write_files(report, staging, sources, settings, figures)


def _write_files(report, out, sources, settings, figures):
    report.importances.to_csv(out / "importances.csv", index=False)
    if len(report.agreement):
        report.agreement.to_csv(out / "method_agreement.csv", index=False)
    top_rows = []
    sections = []
    for method in settings["methods"]:
        shares = _wide(report.importances, method, "fraction")
        ranks = _wide(report.importances, method, "rank")
        shares.to_csv(out / f"importance_{method}.csv")
        ranks.to_csv(out / f"ranks_{method}.csv")
        for kind in ("spearman", "kendall"):
            report.correlations[method, kind].to_csv(out / f"{kind}_{method}.csv")
        for label in ranks.columns:
            top_rows.append({"method": method, "label": label,
                             "models_with_it_in_top": int((ranks[label] <= settings["top"]).sum()),
                             "models": len(ranks), "in_every_top": label in report.consensus[method]})
        if figures:
            save_figure(plot_importance_heatmap(shares, top=_HEATMAP_TOP, kind="share",
                                                title=f"{_TITLES[method]}: share of importance"),
                        out / f"heatmap_{method}.png")
            heatmap(report.correlations[method, "spearman"], out / f"spearman_{method}.png",
                    f"{_TITLES[method]}: Spearman rank correlation between models", "Spearman rho", center=0.0,
                    limits=(-1.0, 1.0))
        sections.append(_method_section(report, method, shares, ranks, settings, figures))
    pd.DataFrame(top_rows).to_csv(out / f"top{settings['top']}.csv", index=False)
    write_json_atomic(out / "report.json", {"runs": sources, "settings": settings, "versions": library_versions(),
                                             "consensus": report.consensus})
    write_text_atomic(out / "report.md", _markdown_report(report, sources, settings, sections))


def _method_section(report, method, shares, ranks, settings, figures):
    spearman = report.correlations[method, "spearman"]
    kendall = report.correlations[method, "kendall"]
    off_diagonal = ~np.eye(len(spearman), dtype=bool)
    mean_rho = np.nanmean(spearman.to_numpy()[off_diagonal]) if len(spearman) > 1 else float("nan")
    mean_tau = np.nanmean(kendall.to_numpy()[off_diagonal]) if len(kendall) > 1 else float("nan")
    consensus = report.consensus[method]
    lines = [
        f"## {_TITLES[method]}", "",
        f"Importance: {_MEANING[method].format(output=settings['output'])}. Cells: share of each model's total "
        f"importance (`importance_{method}.csv`; raw values with bootstrap intervals in `importances.csv`).", "",
        _markdown(shares, "{:.1%}"), "",
    ]
    if figures:
        lines += [f"![{method} heatmap](heatmap_{method}.png)", ""]
    lines += [
        "Ranks (1 = most important):", "", _markdown(ranks, "{:.0f}"), "",
        f"Rank correlation between models: mean Spearman rho {mean_rho:.3f}, mean Kendall tau {mean_tau:.3f} "
        f"(off-diagonal; `spearman_{method}.csv`, `kendall_{method}.csv`).", "",
        "Spearman:", "", _markdown(spearman, "{:.3f}"), "", "Kendall:", "", _markdown(kendall, "{:.3f}"), "",
        f"In every model's top {settings['top']}: " + (", ".join(f"`{c}`" for c in consensus) if consensus
                                                       else "none") + ".", "",
    ]
    return "\n".join(lines)


def _markdown_report(report, sources, settings, sections):
    lines = ["# Explanation report", ""]
    for source in sources:
        lines.append(f"- run `{source['run']}`: data `{source['data']}`, {source['test_points']} test points, "
                     f"models {', '.join(source['models'])}")
    points = report.importances.groupby("model")["n_points"].first()
    lines += [
        "",
        f"Region: `{settings['region']}`" + (" (0.4 < q < 0.6 by each model's own committor)"
                                            if settings["region"] == "transition" else " (all test points)")
        + f"; points per model: {int(points.min())}-{int(points.max())}.",
        f"Integrated gradients: {settings['steps']} Gauss-Legendre nodes, baseline `{settings['baseline']}`, "
        f"output `{settings['output']}`. Permutation: {settings['repeats']} repeats, each feature group permuted "
        f"as one (grouping `{settings['grouping']}`). Intervals: 95% bootstrap over test points. "
        f"Seed {settings['seed']}.", "",
    ]
    lines += sections
    if len(report.agreement):
        mean = report.agreement.groupby(["method_a", "method_b"])[["spearman", "kendall"]].mean().reset_index()
        lines += ["## Agreement between methods", "",
                  "Rank correlation of each model's importances under two methods (`method_agreement.csv`); "
                  "mean over models:", "", _markdown(mean.set_index(["method_a", "method_b"]), "{:.3f}"), ""]
    return "\n".join(lines) + "\n"


def _markdown(frame, number_format):
    """A DataFrame as a GitHub markdown table (pandas' to_markdown needs the extra 'tabulate')."""
    index_names = [str(n) if n is not None else "" for n in frame.index.names]
    header = index_names + [str(c) for c in frame.columns]

    def cell(value):
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else number_format.format(value)
        return str(value)

    rows = []
    for key, values in zip(frame.index, frame.itertuples(index=False)):
        key = key if isinstance(key, tuple) else (key,)
        rows.append([str(k) for k in key] + [cell(v) for v in values])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
