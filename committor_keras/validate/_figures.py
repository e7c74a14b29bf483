"""Validation figures, drawn on standalone matplotlib Figures (no pyplot state, no GUI backend).

Every figure is at most ``MAX_WIDTH_IN`` (8.5) inches wide, in constrained layout, and
``committor_keras.explain``'s ``save_figure`` writes it at 110 dpi: at most about 940 pixels wide, readable at
GitHub's page width. The importance heatmap is shared with ``explain``'s report.
"""

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import ticker
from matplotlib.figure import Figure

from committor_keras.explain._figures import MAX_WIDTH_IN
from committor_keras.validate._calibration import STATES, clopper_pearson

_STATE_COLOURS = {"A": "#3b75af", "transition": "#9a9a9a", "B": "#c0392b"}
OBJECTIVE = "val_kl_per_shot"


def _figure(width, height):
    return Figure(figsize=(min(width, MAX_WIDTH_IN), height), layout="constrained")


def _diagonal(axes):
    axes.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle=":", zorder=1)
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.set_aspect("equal")


def _log_axis(axes, which, values):
    """Log scale with plain labels (at 1, 2, 5; 1, 3; or 1 x 10^k by the range) when the values span more than a
    factor 3, else linear."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    axis = axes.xaxis if which == "x" else axes.yaxis
    if len(values) and values.max() > 3 * values.min():
        (axes.set_xscale if which == "x" else axes.set_yscale)("log")
        # Fewer labelled ticks per decade as the range grows, so the labels never run into each other.
        decades = np.log10(values.max() / values.min())
        subs = (1.0, 2.0, 5.0) if decades <= 1.3 else (1.0, 3.0) if decades <= 2.5 else (1.0,)
        axis.set_major_locator(ticker.LogLocator(subs=subs))
        axis.set_minor_formatter(ticker.NullFormatter())
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:.3g}"))


def _metric_label(name):
    """``val_kl_per_shot`` -> ``validation KL per shot``: a metric's column name as an axis label."""
    words = name.split("_")
    if words[0] == "val":
        words[0] = "validation"
    return " ".join({"kl": "KL", "rmse": "RMSE"}.get(word, word) for word in words)


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
    _log_axis(axes, "y", [v for line in axes.get_lines() for v in line.get_ydata()])
    axes.set_xlabel("epoch")
    axes.set_ylabel(_metric_label(metric))
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
    searches = list(pd.unique(frame["search"]))
    colours = dict(zip(searches, sns.color_palette("tab10", max(len(searches), 1))))
    # Strip-plot jitter from a fixed generator: the figure is the same on every run (seaborn's stripplot draws
    # from NumPy's global generator), and the star sits on the best trial's own point.
    jitter = pd.Series(np.random.default_rng(0).uniform(-0.2, 0.2, len(frame)), index=frame.index)
    for axes, (column, label, kind) in zip(grid.ravel(), panels):
        if column not in frame:
            axes.set_visible(False)
            continue
        if kind == "strip":
            order = sorted(frame[column].dropna().unique(), key=str)
            x = frame[column].map({value: i for i, value in enumerate(order)})
            x = x + jitter.where(frame.groupby(column)[column].transform("size") > 1, 0.0)
            for search in searches:
                chosen = frame["search"] == search
                axes.scatter(x[chosen], frame.loc[chosen, objective], s=16, color=colours[search], linewidths=0)
            axes.set_xticks(range(len(order)), [str(value) for value in order])
            axes.set_xlim(-0.5, len(order) - 0.5)
            if best is not None:
                axes.plot(x[best.name], best[objective], "*", color="black", markersize=12)
        else:
            sns.scatterplot(data=frame, x=column, y=objective, hue="search", hue_order=searches, s=22, ax=axes,
                            legend=column == "width", palette=colours)
            _log_axis(axes, "x", frame[column])
            if best is not None:
                axes.plot(best[column], best[objective], "*", color="black", markersize=12)
        axes.set_xlabel(label)
        axes.set_ylabel(_metric_label(objective))
        _log_axis(axes, "y", frame[objective])
    if grid[0, 1].get_legend() is not None:
        grid[0, 1].legend(title="search", fontsize=7, title_fontsize=7, frameon=False, loc="best")
    figure.suptitle(f"{title}: {len(frame)} completed trials, {frame['search'].nunique()} search(es); "
                    "colour = search, star = best")
    return figure
