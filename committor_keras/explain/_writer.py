"""Writing one model's explanation: importance tables (CSV + JSON), figures and TensorBoard summaries."""

import re
from pathlib import Path

import numpy as np

from committor_keras._provenance import atomic_path, write_json_atomic

from ._figures import attribution_scatter, importance_bars
from ._results import Attributions

TITLES = {"integrated_gradients": "Integrated gradients", "shap": "SHAP", "permutation": "Permutation importance"}
STEMS = {"integrated_gradients": "ig", "shap": "shap", "permutation": "permutation"}


def write_explanation(result, tables, out_dir, *, model_name="model", epoch=None, top_features=4, figures=True):
    """Write ``<stem>.csv``, ``<stem>.json`` and figures for one result into ``out_dir``.

    Files (``<stem>`` is ``ig``, ``shap`` or ``permutation``): the importance table per region as CSV and as
    JSON (with the settings and the model name); ``<stem>_importance.png`` (bars with bootstrap intervals);
    for attribution methods ``<stem>_scatter.png`` (attribution vs feature value for the top groups).

    Args:
        result: an ``Attributions`` or ``PermutationImportance``.
        tables: its stacked region tables (from ``region_tables``).
        out_dir: directory to write into (created if needed).
        model_name: written into the JSON and the titles.
        epoch: training epoch, if the explanation was made during training.
        top_features: groups drawn in the scatter figure.
        figures: whether to draw figures.

    Returns:
        The list of written paths.
    """
    out_dir = Path(out_dir)
    stem = STEMS[result.method]
    written = [out_dir / f"{stem}.csv", out_dir / f"{stem}.json"]
    with atomic_path(written[0]) as tmp:
        tables.to_csv(tmp, index=False)
    record = {"method": result.method, "output": result.output, "model": model_name, "epoch": epoch,
              "n_points": len(result.points.features), "info": result.info,
              "regions": {region: int(part["n_points"].iloc[0])
                          for region, part in tables.groupby("region", sort=False)},
              "table": tables.replace({np.nan: None}).to_dict(orient="records")}
    if hasattr(result, "baseline_loss"):
        record["baseline_loss"] = result.baseline_loss
    write_json_atomic(written[1], record)
    if figures:
        title = f"{TITLES[result.method]}: {model_name}" + (f" (epoch {epoch})" if epoch is not None else "")
        written.append(out_dir / f"{stem}_importance.png")
        importance_bars(tables, written[-1], title)
        if isinstance(result, Attributions):
            overall = tables[tables["region"] == tables["region"].iloc[0]]
            written.append(out_dir / f"{stem}_scatter.png")
            attribution_scatter(result, list(overall["name"][:top_features]), written[-1], title)
    return written


def write_summaries(result, tables, log_dir, step):
    """TensorBoard summaries: importance scalars per region and group; attribution histograms per group.

    Tags: ``xai/<stem>/<region>/<label>`` and ``xai/<stem>_attribution/<label>``.
    """
    import tensorflow as tf

    stem = STEMS[result.method]
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default(step=int(step)):
        for row in tables.itertuples():
            if np.isfinite(row.importance):
                tf.summary.scalar(f"xai/{stem}/{row.region}/{_tag(row.label)}", float(row.importance))
        if isinstance(result, Attributions):
            grouped = result.grouped_values()
            for g, name in enumerate(result.points.group_names):
                tf.summary.histogram(f"xai/{stem}_attribution/{_tag(result.points.label(name))}", grouped[:, g])
    writer.flush()
    writer.close()


def _tag(label):
    """A TensorBoard-safe tag component (summary names reject parentheses and spaces)."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", str(label))
