"""Seaborn figures of explanations, drawn on standalone matplotlib Figures (no pyplot state, no GUI backend)."""

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from committor_keras._provenance import atomic_path

DPI = 110
# 8.5 in at 110 dpi: about 940 px, within GitHub's page width.
MAX_WIDTH_IN = 8.5


def save_figure(figure, path, dpi=DPI):
    """Write ``figure`` as a PNG atomically (cropped to its content: at most its size in inches x ``dpi``)."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")


def importance_bars(table, path, title):
    """Horizontal bars of importance per group (one colour per region), with bootstrap intervals.

    Args:
        table: importance table(s) of one method (``TABLE_COLUMNS``), possibly several regions stacked.
        path: PNG file to write.
        title: figure title.
    """
    # Name each region with its point count, so a thin transition region is visible as such.
    table = table.assign(region=[f"{r} (n={n})" for r, n in zip(table["region"], table["n_points"])])
    regions = list(dict.fromkeys(table["region"]))
    order = list(table[table["region"] == regions[0]].sort_values("importance", ascending=False)["label"])
    figure = Figure(figsize=(6.5, 0.9 + 0.38 * len(order) * max(1, len(regions) / 1.5)))
    axes = figure.subplots()
    sns.barplot(data=table, y="label", x="importance", hue="region", order=order, hue_order=regions,
                orient="h", errorbar=None, ax=axes)
    for container, region in zip(axes.containers, regions):
        rows = table[table["region"] == region].set_index("label").reindex(order)
        centres = [bar.get_y() + bar.get_height() / 2 for bar in container]
        error = np.vstack([rows["importance"] - rows["ci_low"], rows["ci_high"] - rows["importance"]])
        if np.isfinite(error).any():
            axes.errorbar(rows["importance"], centres, xerr=np.nan_to_num(error), fmt="none", ecolor="black",
                          elinewidth=0.8, capsize=2)
    method = table["method"].iloc[0]
    axes.set_xlabel("increase of KL per shot (nats)" if method == "permutation"
                    else f"mean |attribution| ({table['output'].iloc[0]} units)")
    axes.set_ylabel("")
    axes.set_title(title)
    if len(regions) == 1 and axes.get_legend() is not None:
        axes.get_legend().remove()
    save_figure(figure, path)


def attribution_scatter(attributions, groups, path, title):
    """Attribution against feature value for the given groups, coloured by the model's committor.

    A sin/cos pair is drawn against its angle in degrees (atan2(sin, cos)); another group against its first
    feature.

    Args:
        attributions: an ``Attributions``.
        groups: group names to draw (e.g. the top of the ranking).
        path: PNG file to write.
        title: figure title.
    """
    points = attributions.points
    grouped = attributions.grouped_values()
    position = {name: g for g, name in enumerate(points.group_names)}
    # Two panels a row keep the figure within the page width (MAX_WIDTH_IN) for any number of groups.
    columns = min(2, len(groups))
    rows = -(-len(groups) // columns)
    figure = Figure(figsize=(3.4 * columns + 1.2, 3.0 * rows + 0.3))
    axes_list = figure.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes_list[len(groups):]:
        unused.set_visible(False)
    axes_list = axes_list[:len(groups)]
    for i, (axes, name) in enumerate(zip(axes_list, groups)):
        g = position[name]
        value, xlabel = _group_axis(points, points.groups[g][1], points.label(name))
        sns.scatterplot(x=value, y=grouped[:, g], hue=attributions.committor, hue_norm=(0.0, 1.0),
                        palette="coolwarm", s=9, linewidth=0, ax=axes, legend=(i == len(groups) - 1))
        axes.axhline(0.0, color="grey", linewidth=0.6)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(f"attribution ({attributions.output})" if i % columns == 0 else "")
        axes.set_title(points.label(name))
    if axes_list[-1].get_legend() is not None:
        axes_list[-1].legend(title="model q", loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    figure.tight_layout()
    figure.suptitle(title, y=1.02)
    save_figure(figure, path)


def _group_axis(points, columns, label):
    """The x values of a group's scatter panel: the angle of a sin/cos pair in the group, else its first feature.

    A group of several torsions (grouped by central bond) is drawn against its aliased torsion (phi) when it
    holds one, else against its first torsion.
    """
    names = [points.feature_names[c] for c in columns]
    column_of = dict(zip(names, columns))
    pairs = [name[4:-1] for name in names if name.startswith("sin(") and f"cos({name[4:-1]})" in column_of]
    if not pairs:
        return points.features[:, columns[0]], names[0]
    torsion = next((t for t in pairs if t in points.aliases), pairs[0])
    sine, cosine = points.features[:, column_of[f"sin({torsion})"]], points.features[:, column_of[f"cos({torsion})"]]
    name = points.aliases.get(torsion, torsion) if len(pairs) > 1 else label
    return np.degrees(np.arctan2(sine, cosine)), f"{name} (degrees)"


def heatmap(matrix, path, title, value_label, annotate=None, center=None, limits=(None, None)):
    """A seaborn heatmap of a DataFrame (rows x columns).

    Args:
        matrix: DataFrame of numbers.
        path: PNG file to write.
        title: figure title.
        value_label: colour-bar label.
        annotate: write the values into the cells (default: when the matrix is small).
        center: value at the centre of a diverging colour map (None: sequential map).
        limits: (min, max) of the colour scale (None: the data's range).
    """
    annotate = matrix.size <= 400 if annotate is None else annotate
    figure = Figure(figsize=(min(1.2 + 0.75 * max(matrix.shape[1], 3), MAX_WIDTH_IN),
                             1.2 + 0.45 * max(matrix.shape[0], 3)))
    axes = figure.subplots()
    sns.heatmap(matrix.astype(float), annot=annotate, fmt=".2g", cmap="vlag" if center is not None else "rocket_r",
                center=center, vmin=limits[0], vmax=limits[1], cbar_kws={"label": value_label}, ax=axes)
    axes.set_xlabel("")
    axes.set_ylabel("")
    axes.set_title(title)
    save_figure(figure, path)


def plot_importance_heatmap(table, top=15, kind=None, title="feature importance across models"):
    """Readable heatmap of importances: the ``top`` features as rows, the models as columns, cells annotated.

    Args:
        table: models x features DataFrame of ranks (1 = most important) or of shares of importance (as
            ``explain_run`` writes to ``ranks_<method>.csv`` / ``importance_<method>.csv``).
        top: features kept, by mean rank (or mean share) over the models.
        kind: ``"rank"`` or ``"share"``; default ``"rank"`` when every value is a whole number >= 1.
        title: figure title.

    Returns:
        matplotlib Figure.
    """
    values = table.astype(float)
    if kind is None:
        finite = values.to_numpy()[np.isfinite(values.to_numpy())]
        kind = "rank" if len(finite) and (finite >= 1).all() and np.allclose(finite, np.round(finite)) else "share"
    order = values.mean(axis=0).sort_values(ascending=(kind == "rank")).index[:top]
    shown = values[order].T
    n_rows, n_columns = shown.shape
    figure = Figure(figsize=(min(2.6 + 0.55 * max(n_columns, 4), MAX_WIDTH_IN), 1.3 + 0.32 * max(n_rows, 4)),
                    layout="constrained")
    axes = figure.subplots()
    if kind == "rank":
        sns.heatmap(shown, annot=n_columns <= 16, fmt=".0f", cmap="rocket", vmin=1,
                    vmax=max(min(top, values.shape[1]), 2), ax=axes, cbar_kws={"label": "rank (1 = most important)"},
                    annot_kws={"fontsize": 7})
    else:
        sns.heatmap(shown * 100, annot=n_columns <= 16, fmt=".0f", cmap="rocket_r", vmin=0, ax=axes,
                    cbar_kws={"label": "share of the model's importance (%)"}, annot_kws={"fontsize": 7})
    axes.set_xlabel("model")
    axes.set_ylabel("")
    axes.tick_params(axis="y", labelsize=8)
    long_names = max((len(str(c)) for c in shown.columns), default=0) * n_columns > 60
    axes.tick_params(axis="x", labelsize=8, rotation=90 if long_names else 0)
    axes.set_title(f"{title}\n(top {n_rows} of {values.shape[1]} by mean {kind})", fontsize=10)
    return figure
