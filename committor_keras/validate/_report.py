"""Validation of one model's committors on one set of points: every table and score, and their files."""

from pathlib import Path

import numpy as np
import pandas as pd

from committor_keras._errors import DataError
from committor_keras._provenance import atomic_directory, write_json_atomic
from committor_keras.validate._calibration import calibration_table, label_state, parity_table, q_histogram
from committor_keras.validate._scores import brier_score, logit_of, noise_floor, scores

SCORES_FILE = "scores.json"
FIGURES = ("parity.png", "reliability.png", "q_histogram.png")


def validate_predictions(q, data, *, logit=None, bins=10, histogram_bins=20, confidence=0.95, floor=None,
                         floor_repeats=200, random_state=0):
    """Every validation table and score of predicted committors ``q`` on the labelled points ``data``.

    Args:
        q: ``(N,)`` predicted committors of the points of ``data`` (e.g. a model on the test split).
        data: a CommittorData with the same N points (its sample weights weight the scores, the calibration
            table and the noise floor, as in training; parity and histograms count raw shots and points).
        logit: optional ``(N,)`` logits, for exact KL and cross-entropy where q rounds to 0 or 1.
        bins: q-bins of the calibration and parity tables.
        histogram_bins: q-bins of the histogram.
        confidence: level of the binomial intervals.
        floor: the noise floor to compare with (:func:`noise_floor`'s dict), e.g. one floor shared by every
            model of a study; default the floor of these points with ``q`` itself taken as the truth (what
            this model would score if it were exact).
        floor_repeats: bootstrap repeats of the default floor.
        random_state: seed of the floor's draws.

    Returns:
        dict: ``scores`` (``points``, ``shots``, ``kl_per_shot``, ``cross_entropy_per_shot``, ``rmse``,
        ``brier_score``, ``calibration_error``, ``noise_floor``, ``noise_floor_std``, ``kl_x_floor``,
        ``parity_bins_in_ci``, ``parity_bins``), ``noise_floor`` (dict), ``calibration`` (dict, see
        :func:`calibration_table`), ``parity`` and ``q_histogram`` (DataFrames), ``predictions`` (DataFrame
        of ``q``, ``n_a``, ``n_b``, ``p_b``, ``state`` per point), ``confidence``.
    """
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    if len(q) != len(data):
        raise DataError(data.source, "q", f"{len(q)} predictions for {len(data)} points")
    n_a, n_b, w = data.n_a, data.n_b, data.weights
    floor = noise_floor(n_a, n_b, q=q, w=w, repeats=floor_repeats, random_state=random_state) if floor is None \
        else floor
    metrics = scores(n_a, n_b, logit=logit_of(q) if logit is None else logit, w=w)
    calibration = calibration_table(q, n_a, n_b, w, bins=bins)
    parity = parity_table(q, n_a, n_b, bins=bins, confidence=confidence)
    filled = parity["shots"] > 0
    summary = {
        "points": int(len(q)), "shots": float(data.n_shots.sum()), **metrics,
        "brier_score": brier_score(q, n_a, n_b, w), "calibration_error": calibration["calibration_error"],
        "noise_floor": floor["mean"], "noise_floor_std": floor["std"],
        "kl_x_floor": metrics["kl_per_shot"] / floor["mean"] if floor["mean"] > 0 else float("nan"),
        "parity_bins_in_ci": int(parity.loc[filled, "mean_q_in_ci"].sum()), "parity_bins": int(filled.sum()),
    }
    predictions = pd.DataFrame({"q": q, "n_a": n_a, "n_b": n_b, "p_b": data.p_b, "state": label_state(data.p_b)})
    return {"scores": summary, "noise_floor": floor, "calibration": calibration, "parity": parity,
            "q_histogram": q_histogram(q, data.p_b, bins=histogram_bins), "predictions": predictions,
            "confidence": confidence}


def write_validation(result, out_dir, *, figures=True, title=None):
    """Write a :func:`validate_predictions` result into ``out_dir``, replacing it as a whole.

    Files: ``scores.json`` (scores, noise floor, calibration table), ``parity.csv``, ``q_histogram.csv``,
    ``predictions.csv`` and, with ``figures``, ``parity.png``, ``reliability.png``, ``q_histogram.png``.

    Args:
        result: what :func:`validate_predictions` returned.
        out_dir: directory to create or replace (e.g. ``RUN/top/01/validation``).
        figures: whether to draw the figures.
        title: prefix of the figure titles (e.g. the model's name).

    Returns:
        pathlib.Path of ``out_dir``.
    """
    out_dir = Path(out_dir)
    with atomic_directory(out_dir) as staging:
        write_json_atomic(staging / SCORES_FILE, {"scores": result["scores"], "noise_floor": result["noise_floor"],
                                                  "calibration": result["calibration"],
                                                  "confidence": result["confidence"]})
        result["parity"].to_csv(staging / "parity.csv", index=False)
        result["q_histogram"].to_csv(staging / "q_histogram.csv", index=False)
        result["predictions"].to_csv(staging / "predictions.csv", index=False)
        if figures:
            from committor_keras.explain._figures import save_figure
            from committor_keras.validate._figures import plot_parity, plot_q_histogram, plot_reliability

            prefix = f"{title}: " if title else ""
            points = result["predictions"]
            save_figure(plot_parity(points["q"], points["n_a"], points["n_b"], table=result["parity"],
                                    confidence=result["confidence"], title=f"{prefix}parity"),
                        staging / FIGURES[0])
            save_figure(plot_reliability(result["parity"], title=f"{prefix}reliability",
                                         brier=result["scores"]["brier_score"]), staging / FIGURES[1])
            save_figure(plot_q_histogram(result["q_histogram"], title=f"{prefix}q by observed state"),
                        staging / FIGURES[2])
    return out_dir


def validate_model(model, data, out_dir, *, floor=None, bins=10, title=None):
    """Validate a Keras committor model on labelled points and write the result into ``out_dir``.

    The one path from a model to its validation files, shared by ``tune`` (``RUN/top/NN/validation``) and
    ``run_study`` (``STUDY/validation/<model>``): the model's logits on ``data.features``
    (:func:`committor_keras.model.predict_logits`), then :func:`validate_predictions` with those logits (exact
    KL where q rounds to 0 or 1) and :func:`write_validation`.

    Args:
        model: a Keras model whose output is the committor's logit (e.g. ``RUN/top/01/model.keras``).
        data: the labelled points, e.g. ``data.subset(split.test)``.
        out_dir: the directory written (replaced as a whole).
        floor: the noise floor to compare with (see :func:`validate_predictions`); None for the model's own.
        bins: q-bins of the calibration and parity tables.
        title: prefix of the figure titles.

    Returns:
        the :func:`validate_predictions` dict.
    """
    from scipy.special import expit

    from committor_keras.model import predict_logits

    logits = predict_logits(model, data.features)
    result = validate_predictions(expit(logits), data, logit=logits, floor=floor, bins=bins)
    write_validation(result, out_dir, title=title)
    return result


def describe_scores(scores, confidence=0.95):
    """One Markdown sentence of a validation's ``scores`` (as in ``scores.json``): KL, Brier, calibration, parity."""
    def fmt(value, digits=4):
        return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"

    return (f"KL {fmt(scores['kl_per_shot'])} per shot ({fmt(scores['kl_x_floor'], 2)} x floor), Brier score "
            f"{fmt(scores['brier_score'])}, calibration error {fmt(scores['calibration_error'], 3)}; "
            f"{scores['parity_bins_in_ci']} of {scores['parity_bins']} q-bins hold their mean q within the "
            f"{confidence:.0%} binomial interval.")

