"""One model's explanation report: run the chosen methods on a set of points, tabulate them per region and
write the tables, figures and (optionally) TensorBoard summaries."""

from committor_keras._errors import ConfigError

from ._forward import committor
from ._grouping import grouping_options
from ._ig import integrated_gradients
from ._inputs import explain_set
from ._permutation import permutation_importance
from ._regions import region_tables
from ._writer import write_explanation, write_summaries

MODEL_METHODS = ("ig", "permutation")


def explain_model(model, data, out_dir, *, methods=MODEL_METHODS, regions=("all", "transition"), baseline="mean",
                  output="logit", steps=64, quadrature="gauss-legendre", repeats=10, seed=0, log_dir=None, step=0,
                  epoch=None, top_features=4, figures=True, grouping="feature", **points_kwargs):
    """Explain ``model`` on ``data`` and write the report into ``out_dir`` (e.g. ``RUN/top/01/xai``).

    Writes, per method, ``ig.csv``/``ig.json`` or ``permutation.csv``/``permutation.json`` (feature group,
    mean |attribution| or loss increase, signed mean, bootstrap interval, share, rank, for each region) and
    the figures ``*_importance.png`` and ``ig_scatter.png``; with ``log_dir``, TensorBoard scalars and
    histograms at ``step``.

    Args:
        model: a committor model.
        data: the points (normally the test split): ``CommittorData``, ``ExplainSet`` or an array (permutation
            importance then needs ``labels=``).
        out_dir: report directory.
        methods: any of ``"ig"``, ``"permutation"``.
        regions: ``"all"`` and/or ``"transition"`` (0.4 < q < 0.6 by the model's own q).
        baseline, output, steps, quadrature: integrated-gradients settings (see ``integrated_gradients``).
        repeats: permutation repeats.
        seed: seed of permutations and bootstraps.
        log_dir: TensorBoard log directory, or None.
        step: TensorBoard step of the summaries.
        epoch: training epoch, written into the report when explaining during training.
        top_features: groups drawn in the attribution scatter figure.
        figures: whether to draw figures.
        grouping: how features are grouped: ``"feature"`` (the data's groups, each sin/cos pair once),
            ``"bond"`` (torsions by central bond), a mapping group -> feature names, or a JSON file of one
            (see :func:`committor_keras.explain.group_by_central_bond`). IG sums a group's attributions;
            permutation permutes its columns together.
        **points_kwargs: passed to ``explain_set``.

    Returns:
        {method: stacked region tables}.
    """
    points = explain_set(data, **grouping_options(grouping, data), **points_kwargs)
    q = committor(model, points.features)
    reports = {}
    for method in methods:
        result = run_method(model, points, method, baseline=baseline, output=output, steps=steps,
                            quadrature=quadrature, repeats=repeats, seed=seed)
        tables = region_tables(result, q, regions, seed)
        write_explanation(result, tables, out_dir, model_name=model.name, epoch=epoch, top_features=top_features,
                          figures=figures)
        if log_dir is not None:
            write_summaries(result, tables, log_dir, step)
        reports[method] = tables
    return reports


def run_method(model, points, method, *, baseline="mean", output="logit", steps=64, quadrature="gauss-legendre",
               repeats=10, seed=0):
    """The ``Attributions`` (``"ig"``) or ``PermutationImportance`` (``"permutation"``) of ``model``."""
    if method == "ig":
        return integrated_gradients(model, points, baseline=baseline, output=output, steps=steps, method=quadrature)
    if method == "permutation":
        return permutation_importance(model, points, repeats=repeats, seed=seed)
    raise ConfigError(f"unknown method '{method}': use one of {', '.join(MODEL_METHODS)}")
