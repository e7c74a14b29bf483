"""Validation figures, drawn on standalone matplotlib Figures (no pyplot state, no GUI backend).

Every figure is at most 8.5 inches wide and saved at 110 dpi without tight cropping, so a PNG is at most
935 pixels wide and reads at GitHub's page width.
"""

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from committor_keras._provenance import atomic_path
from committor_keras.validate._calibration import STATES, clopper_pearson

DPI = 110
MAX_WIDTH_IN = 8.5
_STATE_COLOURS = {"A": "#3b75af", "transition": "#9a9a9a", "B": "#c0392b"}
OBJECTIVE = "val_kl_per_shot"


def save_figure(figure, path, dpi=DPI):
    """Write ``figure`` as a PNG atomically (its size in pixels is its size in inches times ``dpi``)."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)


def _figure(width, height):
    return Figure(figsize=(min(width, MAX_WIDTH_IN), height), layout="constrained")


def _diagonal(axes):
    axes.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle=":", zorder=1)
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.set_aspect("equal")


def _errorbar(axes, x, estimate, low, high, **kwargs):
    """Error bars from an interval; the interval contains the estimate, so both arms are non-negative."""
    arms = np.vstack([np.clip(estimate - low, 0, None), np.clip(high - estimate, 0, None)])
    axes.errorbar(x, estimate, yerr=arms, **kwargs)


def plot_parity(q, n_a, n_b, table=None, confidence=0.95, title="parity"):
    """Observed p_B of every point against its predicted q, with exact binomial error bars.

    Each point's bar is its Clopper-Pearson interval from its own shots; with ``table`` (a
    :func:`parity_table`) the pooled p_B of each q-bin is drawn on top in black with its interval.

    Args:
        q: ``(N,)`` predicted committors.
        n_a: ``(N,)`` shots ending in A.
        n_b: ``(N,)`` shots ending in B.
        table: optional parity table to overlay.
        confidence: interval level of the per-point bars.
        title: figure title.

    Returns:
        matplotlib Figure.
    """
    q, n_a, n_b = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (q, n_a, n_b))
    n = n_a + n_b
    has = n > 0
    p_b = n_b[has] / n[has]
    low, high = clopper_pearson(n_b[has], n[has], confidence)
    figure = _figure(5.6, 5.4)
    axes = figure.subplots()
    # Fainter bars for larger sets so the binned estimates stay visible.
    alpha = float(np.clip(8.0 / np.sqrt(max(has.sum(), 1)), 0.1, 0.7))
    _errorbar(axes, q[has], p_b, low, high, fmt="o", markersize=2.5, color="#3b75af", alpha=alpha,
              elinewidth=0.6, label=f"points ({has.sum()}), {confidence:.0%} binomial interval", zorder=2)
    if table is not None:
        filled = table[table["shots"] > 0]
        _errorbar(axes, filled["mean_q"], filled["observed_p_b"], filled["ci_low"], filled["ci_high"], fmt="s",
                  markersize=6, color="#e67e22", markeredgecolor="black", ecolor="black", capsize=3, elinewidth=1.2,
                  label="q-bins, pooled shots", zorder=3)
    _diagonal(axes)
    axes.set_xlabel("predicted committor q")
    axes.set_ylabel("observed p_B")
    axes.set_title(title)
    axes.legend(loc="upper left", fontsize=8, frameon=False)
    return figure


def plot_reliability(table, title="reliability", brier=None):
    """Reliability diagram: pooled observed p_B against mean q per q-bin, and the shots per bin below.

    Bins whose interval misses the diagonal are drawn in red.

    Args:
        table: a :func:`parity_table`.
        title: figure title.
        brier: optional Brier score per shot, written into the title.

    Returns:
        matplotlib Figure.
    """
    figure = _figure(5.2, 6.2)
    top, bottom = figure.subplots(2, 1, height_ratios=(3, 1), sharex=True)
    filled = table[table["shots"] > 0]
    for inside, colour, label in ((True, "black", "interval contains mean q"),
                                  (False, "#c0392b", "interval misses mean q")):
        part = filled[filled["mean_q_in_ci"] == inside]
        if len(part):
            _errorbar(top, part["mean_q"], part["observed_p_b"], part["ci_low"], part["ci_high"], fmt="o",
                      markersize=5, color=colour, capsize=3, label=label, zorder=3)
    _diagonal(top)
    top.set_aspect("auto")
    top.set_ylabel("observed p_B (pooled shots)")
    top.legend(loc="upper left", fontsize=8, frameon=False)
    top.set_title(title + (f"\nBrier score {brier:.4f} per shot" if brier is not None else ""), fontsize=10)
    width = table["q_high"] - table["q_low"]
    bottom.bar(table["q_low"] + width / 2, table["shots"], width=width * 0.9, color="#9a9a9a")
    bottom.set_ylabel("shots")
    bottom.set_xlabel("mean predicted q of the bin")
    return figure


def plot_q_histogram(histogram, title="q by observed state"):
    """Stacked histogram of predicted q, coloured by the observed state (A, transition, B).

    Args:
        histogram: a :func:`q_histogram` table.
        title: figure title.

    Returns:
        matplotlib Figure.
    """
    figure = _figure(6.4, 3.8)
    axes = figure.subplots()
    width = histogram["q_high"] - histogram["q_low"]
    base = np.zeros(len(histogram))
    labels = {"A": "A (p_B = 0)", "transition": "transition (0 < p_B < 1)", "B": "B (p_B = 1)"}
    for state in STATES:
        axes.bar(histogram["q_low"], histogram[state], width=width, bottom=base, align="edge",
                 color=_STATE_COLOURS[state], edgecolor="white", linewidth=0.5,
                 label=f"{labels[state]}: {int(histogram[state].sum())}")
        base = base + histogram[state].to_numpy()
    axes.set_xlim(0, 1)
    axes.set_xlabel("predicted committor q")
    axes.set_ylabel("points")
    axes.set_title(title)
    axes.legend(fontsize=8, frameon=False)
    return figure


def plot_training_curves(histories, metric="kl_per_shot", title="training curves"):
    """Training (dashed) and validation (solid) curves of several models, best validation epoch marked.

    Args:
        histories: model name -> Keras ``History.history`` dict (metric -> list per epoch), e.g. from
            ``trials.json`` or ``fit_model``.
        metric: metric drawn; its ``val_`` twin is the validation curve.
        title: figure title.

    Returns:
        matplotlib Figure.
    """
    figure = _figure(7.0, 4.4)
    axes = figure.subplots()
    palette = sns.color_palette("tab10", max(len(histories), 1))
    for colour, (name, history) in zip(palette, histories.items()):
        validation = np.asarray(history.get(f"val_{metric}", []), dtype=np.float64)
        training = np.asarray(history.get(metric, []), dtype=np.float64)
        if len(training):
            axes.plot(np.arange(1, len(training) + 1), training, color=colour, linestyle="--", linewidth=0.9)
        if len(validation):
            epochs = np.arange(1, len(validation) + 1)
            axes.plot(epochs, validation, color=colour, linewidth=1.3, label=str(name))
            best = int(np.nanargmin(validation))
            axes.plot(epochs[best], validation[best], "o", color=colour, markersize=5)
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric.replace("_", " "))
    axes.set_title(f"{title} (solid: validation, dashed: training, dot: best epoch)", fontsize=10)
    if histories:
        axes.legend(fontsize=7, frameon=False, ncols=2 if len(histories) > 6 else 1)
    return figure


def plot_landscape(trials, objective=OBJECTIVE, title="hyperparameter landscape"):
    """The objective of every completed trial against depth, width, activation and learning rate.

    Width is the mean number of units over a trial's hidden layers. Colours are searches; the best trial is
    a star.

    Args:
        trials: the trial table (``RUN/trials.csv``: ``status``, ``search_seed``, ``hp_hidden_layers``,
            ``hp_units_<i>``, ``hp_activation``, ``hp_learning_rate``, the objective).
        objective: the column drawn (lower is better).
        title: figure title.

    Returns:
        matplotlib Figure.
    """
    score = pd.to_numeric(trials[objective], errors="coerce")
    frame = trials[(trials["status"] == "COMPLETED") & np.isfinite(score)].copy()
    frame[objective] = score[frame.index]
    depth = pd.to_numeric(frame["hp_hidden_layers"], errors="coerce").fillna(0).astype(int)
    units = frame[[c for c in frame.columns if str(c).startswith("hp_units_")]].apply(pd.to_numeric,
                                                                                        errors="coerce")
    present = np.arange(units.shape[1])[None, :] < depth.to_numpy()[:, None]
    frame["width"] = units.where(present).mean(axis=1)
    frame["depth"] = depth
    frame["search"] = frame["search_seed"].astype(str)
    figure = _figure(8.4, 6.2)
    grid = figure.subplots(2, 2, sharey=True)
    panels = (("depth", "hidden layers", "strip"), ("width", "mean units per layer", "log"),
              ("hp_activation", "activation", "strip"), ("hp_learning_rate", "learning rate", "log"))
    best = frame.loc[frame[objective].idxmin()] if len(frame) else None
    for axes, (column, label, kind) in zip(grid.ravel(), panels):
        if column not in frame:
            axes.set_visible(False)
            continue
        if kind == "strip":
            order = sorted(frame[column].dropna().unique(), key=str)
            sns.stripplot(data=frame, x=column, y=objective, hue="search", order=order, jitter=0.2, size=4,
                          ax=axes, legend=False, palette="tab10")
            if best is not None:
                axes.plot(order.index(best[column]), best[objective], "*", color="black", markersize=12)
        else:
            sns.scatterplot(data=frame, x=column, y=objective, hue="search", s=22, ax=axes, legend=False,
                            palette="tab10")
            axes.set_xscale("log")
            if best is not None:
                axes.plot(best[column], best[objective], "*", color="black", markersize=12)
        axes.set_xlabel(label)
        axes.set_ylabel(objective.replace("_", " "))
        axes.set_yscale("log")
    figure.suptitle(f"{title}: {len(frame)} completed trials, {frame['search'].nunique()} search(es); "
                    "colour = search, star = best")
    return figure


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
    figure = _figure(2.6 + 0.55 * max(n_columns, 4), 1.3 + 0.32 * max(n_rows, 4))
    axes = figure.subplots()
    if kind == "rank":
        sns.heatmap(shown, annot=n_columns <= 16, fmt=".0f", cmap="rocket", vmin=1, vmax=max(top, 2), ax=axes,
                    cbar_kws={"label": "rank (1 = most important)"}, annot_kws={"fontsize": 7})
    else:
        sns.heatmap(shown * 100, annot=n_columns <= 16, fmt=".0f", cmap="rocket_r", vmin=0, ax=axes,
                    cbar_kws={"label": "share of the model's importance (%)"}, annot_kws={"fontsize": 7})
    axes.set_xlabel("model")
    axes.set_ylabel("")
    axes.tick_params(axis="y", labelsize=8)
    axes.tick_params(axis="x", labelsize=8, rotation=90 if n_columns > 8 else 0)
    axes.set_title(f"{title}\n(top {n_rows} of {values.shape[1]} by mean {kind})", fontsize=10)
    return figure
