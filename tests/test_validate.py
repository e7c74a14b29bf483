"""committor_keras.validate: scores, noise floor, calibration and parity, baselines, k-fold, figures, writing."""

import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from committor_keras._errors import ConfigError, DataError
from committor_keras.data import CommittorData, kfold_indices, load, make_synthetic, split_indices
from committor_keras.validate import (
    LogisticCommittor, baseline_table, brier_score, calibration_table, clopper_pearson,
    default_baseline_subsets, noise_floor, parity_table, q_histogram, scores, validate_predictions,
    write_validation,
)

VACUUM = Path(__file__).resolve().parents[1] / "data" / "alanine_dipeptide_vacuum" / "alanine_dipeptide_vacuum.npz"


def _png_size(path):
    with open(path, "rb") as handle:
        header = handle.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def _draw(q, shots, seed):
    """Shot counts drawn from committors q: a model predicting q is calibrated by construction."""
    n_b = np.random.default_rng(seed).binomial(shots, q).astype(float)
    return shots - n_b, n_b


# --- scores ----------------------------------------------------------------------------------------------------

def test_scores_match_the_networks_metrics():
    from committor_keras.model import committor_rmse, cross_entropy_per_shot, kl_per_shot

    rng = np.random.default_rng(0)
    n_a, n_b = rng.integers(0, 20, 300).astype(float), rng.integers(0, 20, 300).astype(float)
    n_a[:5], n_b[:5] = 10.0, 0.0        # committed points and a zero-shot point
    n_a[5], n_b[5] = 0.0, 0.0
    logit, w = rng.normal(0, 3, 300), rng.uniform(0.5, 2.0, 300)
    y = np.stack([n_a, n_b], axis=1)
    ours = scores(n_a, n_b, logit=logit, w=w)
    assert ours["kl_per_shot"] == pytest.approx(float(kl_per_shot(y, logit, w)), rel=1e-10)
    assert ours["cross_entropy_per_shot"] == pytest.approx(float(cross_entropy_per_shot(y, logit, w)), rel=1e-10)
    assert ours["rmse"] == pytest.approx(float(committor_rmse(y, logit, w)), rel=1e-10)


def test_scores_of_q_equal_to_p_b_are_zero_kl_even_at_zero_and_one():
    n_a, n_b = np.array([10.0, 0.0, 3.0]), np.array([0.0, 5.0, 7.0])
    result = scores(n_a, n_b, q=n_b / (n_a + n_b))
    assert result["kl_per_shot"] == pytest.approx(0.0, abs=1e-12)
    assert result["rmse"] == pytest.approx(0.0, abs=1e-12)


def test_brier_score_per_shot_known_values():
    n_a, n_b = np.array([3.0, 0.0]), np.array([1.0, 2.0])
    # shots: three A at q=0.25 (0.0625 each), one B at 0.25 (0.5625), two B at q=1 (0).
    assert brier_score(np.array([0.25, 1.0]), n_a, n_b) == pytest.approx((3 * 0.0625 + 0.5625) / 6)
    # a weight doubles a point's shots
    assert brier_score(np.array([0.25, 1.0]), n_a, n_b, w=np.array([1.0, 2.0])) == pytest.approx(0.75 / 8)


# --- noise floor -----------------------------------------------------------------------------------------------

def test_noise_floor_scales_as_one_over_shots():
    q = np.random.default_rng(1).uniform(0.2, 0.8, 2000)
    floors = {}
    for shots in (10, 100):
        n_a, n_b = _draw(q, shots, seed=2)
        floors[shots] = noise_floor(n_a, n_b, q=q, repeats=100, random_state=3)
    # in the transition region each point adds about 1/2 nat (chi-square with one degree of freedom over 2)
    assert floors[100]["mean"] * 100 == pytest.approx(0.5, rel=0.1)
    assert floors[10]["mean"] / floors[100]["mean"] == pytest.approx(10.0, rel=0.15)
    assert 0 < floors[100]["std"] < floors[100]["mean"]
    assert floors[100]["repeats"] == 100 and floors[100]["q"] == "given"


def test_noise_floor_is_the_mean_kl_of_the_truth_and_deterministic():
    q = np.random.default_rng(4).uniform(0.05, 0.95, 500)
    n_a, n_b = _draw(q, 20, seed=5)
    floor = noise_floor(n_a, n_b, q=q, repeats=400, random_state=6)
    assert floor == noise_floor(n_a, n_b, q=q, repeats=400, random_state=6)
    # the observed data are one more draw from the same distribution
    observed = scores(n_a, n_b, q=q)["kl_per_shot"]
    assert abs(observed - floor["mean"]) < 4 * floor["std"]


def test_noise_floor_default_uses_observed_p_b():
    n_a, n_b = np.array([100.0, 0.0, 50.0]), np.array([0.0, 100.0, 50.0])
    floor = noise_floor(n_a, n_b, repeats=50)
    assert floor["q"] == "p_b"
    assert floor["mean"] > 0          # only the p_B = 0.5 point contributes
    assert noise_floor(n_a[:2], n_b[:2], repeats=10)["mean"] == 0.0


# --- calibration and parity ------------------------------------------------------------------------------------

def test_clopper_pearson_always_contains_the_estimate():
    rng = np.random.default_rng(7)
    trials = rng.integers(1, 200, 5000).astype(float)
    successes = np.floor(rng.uniform(0, 1, 5000) * (trials + 1)).clip(0, trials)
    successes[:100] = 0.0
    successes[100:200] = trials[100:200]
    fractional = successes * 0.37                 # p_B given with a number of shots: fractional counts
    for k in (successes, fractional):
        low, high = clopper_pearson(k, trials, 0.95)
        estimate = k / trials
        assert (low <= estimate).all() and (estimate <= high).all()
        assert (low >= 0).all() and (high <= 1).all()


def test_clopper_pearson_known_values():
    low, high = clopper_pearson(np.array([0.0, 5.0, 10.0]), np.array([10.0, 10.0, 10.0]), 0.95)
    assert high[0] == pytest.approx(1 - 0.025 ** 0.1)                # (alpha/2)^(1/n) rule at k = 0
    assert (low[1], high[1]) == pytest.approx((0.187086, 0.812914), abs=1e-6)
    assert low[2] == pytest.approx(0.025 ** 0.1)


def test_parity_table_intervals_contain_estimates_and_count_everything():
    rng = np.random.default_rng(8)
    q = rng.uniform(0, 1, 400)
    n_a, n_b = _draw(np.clip(q + 0.1, 0, 1), 30, seed=9)
    table = parity_table(q, n_a, n_b, bins=10)
    filled = table[table["shots"] > 0]
    assert (filled["ci_low"] <= filled["observed_p_b"]).all() and (filled["observed_p_b"] <= filled["ci_high"]).all()
    assert table["points"].sum() == 400 and table["shots"].sum() == pytest.approx((n_a + n_b).sum())
    assert ((filled["q_low"] <= filled["mean_q"]) & (filled["mean_q"] <= filled["q_high"])).all()


def test_parity_table_empty_bins_are_nan():
    table = parity_table(np.array([0.05, 0.95]), np.array([10.0, 0.0]), np.array([0.0, 10.0]), bins=5)
    assert table["points"].tolist() == [1, 0, 0, 0, 1]
    assert table.loc[1:3, ["mean_q", "observed_p_b", "ci_low", "ci_high"]].isna().all().all()
    assert not table.loc[1:3, "mean_q_in_ci"].any()


def _null_calibration_errors(q, shots, repeats=200):
    return np.array([calibration_table(q, *_draw(q, shots, seed=100 + r))["calibration_error"]
                     for r in range(repeats)])


def test_perfectly_calibrated_model_is_consistent_with_noise():
    """Counts drawn from q itself: calibration error, parity and reliability agree with binomial noise."""
    data = make_synthetic(3000, n_relevant=2, n_decoys=0, shots_per_point=20, seed=11)
    q = data.extras["q_true"]
    table = parity_table(q, data.n_a, data.n_b, bins=10)
    filled = table[table["shots"] > 0]
    assert filled["mean_q_in_ci"].sum() >= len(filled) - 1          # 95% intervals: at most one miss of ten
    null = _null_calibration_errors(q, 20)
    observed = calibration_table(q, data.n_a, data.n_b)["calibration_error"]
    assert observed <= np.quantile(null, 0.99)
    result = validate_predictions(q, data)
    assert result["scores"]["kl_x_floor"] == pytest.approx(1.0, abs=4 * result["noise_floor"]["std"]
                                                           / result["noise_floor"]["mean"])

    # the same checks reject a miscalibrated model (logit doubled: overconfident)
    overconfident = 1.0 / (1.0 + np.exp(-2.0 * data.extras["logit_true"]))
    bad = parity_table(overconfident, data.n_a, data.n_b, bins=10)
    assert bad.loc[bad["shots"] > 0, "mean_q_in_ci"].sum() <= len(filled) - 4
    assert calibration_table(overconfident, data.n_a, data.n_b)["calibration_error"] > null.max()


def test_q_histogram_by_state():
    q = np.array([0.01, 0.02, 0.5, 0.51, 0.99, 1.0])
    p_b = np.array([0.0, 0.1, 0.5, 1.0, 1.0, 0.99])
    table = q_histogram(q, p_b, bins=4)
    assert table["A"].tolist() == [1, 0, 0, 0]
    assert table["B"].tolist() == [0, 0, 1, 1]
    assert table["transition"].tolist() == [1, 0, 1, 1]
    assert table["total"].sum() == 6
    with pytest.raises(DataError):
        q_histogram(q, p_b[:3])


# --- baselines -------------------------------------------------------------------------------------------------

def test_logistic_baseline_reaches_the_noise_floor_on_a_logistic_committor():
    """Known answer: the committor is logistic in x1 and x2, so the logistic baseline is exact up to fitting."""
    data = make_synthetic(6000, n_relevant=2, n_decoys=4, shots_per_point=20, seed=12)
    split = split_indices(data, seed=0)
    test = data.subset(split.test)
    floor = noise_floor(test.n_a, test.n_b, q=test.extras["q_true"], repeats=300, random_state=1)
    table = baseline_table(data, split.train, split.test, floor=floor,
                           subsets={"constant": [], "x1+x2": ["x1", "x2"], "all": None}).set_index("baseline")
    for name in ("x1+x2", "all"):
        assert table.loc[name, "kl_per_shot"] <= floor["mean"] + 2 * floor["std"], name
    assert table.loc["constant", "kl_x_floor"] > 5
    assert table.loc["x1+x2", "n_features"] == 2 and table.loc["all", "n_features"] == 6
    assert table.attrs["noise_floor"]["mean"] == floor["mean"]
    # the fitted logit is the true one, up to the standardisation of the features
    model = LogisticCommittor().fit(data.features[split.train][:, :2], data.n_a[split.train],
                                    data.n_b[split.train])
    np.testing.assert_allclose(model.predict_logit(test.features[:, :2]), test.extras["logit_true"], atol=0.15)


def test_logistic_committor_without_features_is_the_pooled_p_b():
    n_a, n_b, w = np.array([8.0, 2.0]), np.array([2.0, 8.0]), np.array([1.0, 3.0])
    model = LogisticCommittor().fit(np.empty((2, 0)), n_a, n_b, w)
    np.testing.assert_allclose(model.predict(np.empty((5, 0))), (2 + 24) / 40)
    with pytest.raises(DataError, match="both A and B"):
        LogisticCommittor().fit(np.ones((2, 1)), n_a, np.zeros(2))


def test_logistic_committor_shot_weights_are_the_binomial_likelihood():
    """Two shot-weighted rows per point give the same fit as one row per shot."""
    rng = np.random.default_rng(13)
    x = rng.normal(size=(60, 2))
    n_b = rng.binomial(5, 1 / (1 + np.exp(-x[:, 0]))).astype(float)
    n_a = 5 - n_b
    expanded_x = np.repeat(x, 5, axis=0)
    outcome = np.concatenate([[0.0] * int(a) + [1.0] * int(b) for a, b in zip(n_a, n_b)])
    by_shot = LogisticCommittor().fit(expanded_x, 1 - outcome, outcome)
    by_point = LogisticCommittor().fit(x, n_a, n_b)
    np.testing.assert_allclose(by_point.predict_logit(x), by_shot.predict_logit(x), atol=1e-4)


def test_default_baseline_subsets_on_the_vacuum_set():
    data = load(VACUUM)
    subsets = default_baseline_subsets(data)
    assert list(subsets) == ["constant", "phi", "phi+theta", "phi+psi+theta", "all"]
    assert subsets["phi"] == ["C5-N7-C9-C15"]
    assert subsets["phi+theta"] == ["C5-N7-C9-C15", "O6-C5-N7-C9"]
    assert subsets["constant"] == [] and subsets["all"] is None
    assert list(default_baseline_subsets(make_synthetic(50, seed=0))) == ["constant", "all"]


def test_baseline_table_on_the_vacuum_set_orders_the_subsets():
    data = load(VACUUM)
    split = split_indices(data, seed=0)
    table = baseline_table(data, split.train, split.test).set_index("baseline")
    kl = table["kl_per_shot"]
    assert kl["constant"] > kl["phi"] > kl["phi+theta"] > kl["phi+psi+theta"] > kl["all"] > 0
    assert table.attrs["noise_floor"]["q"] == "baseline all"
    assert (table["kl_x_floor"] > 1).all()
    with pytest.raises(DataError, match="unknown feature group or feature .nope."):
        baseline_table(data, split.train, split.test, subsets={"bad": ["nope"]})


# --- k-fold ----------------------------------------------------------------------------------------------------

def test_kfold_covers_every_point_exactly_once_and_is_stratified():
    data = make_synthetic(503, n_relevant=2, n_decoys=1, shots_per_point=10, seed=14)
    folds = kfold_indices(data, k=5, seed=3)
    assert len(folds) == 5
    tests = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tests), np.arange(len(data)))
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == len(data)
        transition = ((data.p_b[test] > 0) & (data.p_b[test] < 1)).mean()
        assert transition == pytest.approx(((data.p_b > 0) & (data.p_b < 1)).mean(), abs=0.05)
    again = kfold_indices(data, k=5, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    assert not np.array_equal(folds[0][1], kfold_indices(data, k=5, seed=4)[0][1])


def test_kfold_keeps_groups_together():
    data = make_synthetic(400, n_relevant=1, n_decoys=1, shots_per_point=10, seed=15)
    data.extras["configuration"] = np.arange(400) // 4
    folds = kfold_indices(data, k=5, seed=0, groups="configuration")
    tests = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tests), np.arange(400))
    for train, test in folds:
        assert not set(data.extras["configuration"][test]) & set(data.extras["configuration"][train])


def test_kfold_errors():
    data = make_synthetic(20, seed=0)
    with pytest.raises(ConfigError):
        kfold_indices(data, k=1)
    with pytest.raises(DataError, match="no extra 'window'"):
        kfold_indices(data, groups="window")
    with pytest.raises(DataError, match="k <= 20"):
        kfold_indices(data, k=21)


# --- one model's validation, written -----------------------------------------------------------------------------

def test_validate_predictions_and_write_validation(tmp_path):
    data = make_synthetic(600, n_relevant=2, n_decoys=1, shots_per_point=20, seed=16)
    q = data.extras["q_true"]
    result = validate_predictions(q, data)
    assert result["scores"]["points"] == 600
    assert result["scores"]["parity_bins"] == 10
    assert result["scores"]["kl_per_shot"] == pytest.approx(scores(data.n_a, data.n_b, q=q)["kl_per_shot"])
    out = tmp_path / "validation"
    (out).mkdir()
    (out / "stale.txt").write_text("left by an earlier run")
    write_validation(result, out, title="truth")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["scores.json", "parity.csv", "q_histogram.csv", "predictions.csv", "parity.png", "reliability.png",
         "q_histogram.png"])
    saved = json.loads((out / "scores.json").read_text())
    assert saved["scores"]["brier_score"] == pytest.approx(result["scores"]["brier_score"])
    assert len(pd.read_csv(out / "predictions.csv")) == 600
    for png in out.glob("*.png"):
        width, height = _png_size(png)
        assert 300 < width <= 1000 and height <= 1000


def test_validate_predictions_rejects_wrong_length():
    data = CommittorData(np.zeros((3, 1)), ["x"], n_a=[1.0, 2.0, 0.0], n_b=[1.0, 0.0, 2.0])
    with pytest.raises(DataError, match="2 predictions for 3 points"):
        validate_predictions(np.array([0.1, 0.2]), data)


# --- figures -----------------------------------------------------------------------------------------------------

def _trials():
    rows = []
    for seed in (0, 1):
        for trial in range(6):
            depth = 1 + trial % 3
            rows.append({"search_seed": seed, "trial_id": str(trial), "status": "COMPLETED",
                         "val_kl_per_shot": 0.01 + 0.002 * trial + 0.001 * seed, "hp_hidden_layers": depth,
                         **{f"hp_units_{i}": (32 * (i + 1) if i < depth else np.nan) for i in range(3)},
                         "hp_activation": ("relu", "tanh", "swish")[trial % 3],
                         "hp_learning_rate": 10 ** (-3 + trial / 6)})
    rows.append({**rows[0], "trial_id": "9", "status": "FAILED", "val_kl_per_shot": np.nan})
    return pd.DataFrame(rows)


def test_figures_fit_the_page_width(tmp_path):
    from committor_keras.validate import (
        plot_importance_heatmap, plot_landscape, plot_parity, plot_q_histogram, plot_reliability,
        plot_training_curves, save_figure,
    )

    data = make_synthetic(300, n_relevant=2, n_decoys=0, shots_per_point=20, seed=17)
    q = data.extras["q_true"]
    table = parity_table(q, data.n_a, data.n_b)
    history = {"kl_per_shot": [0.3, 0.1, 0.05, 0.04], "val_kl_per_shot": [0.35, 0.12, 0.07, 0.08]}
    ranks = pd.DataFrame(np.argsort(np.random.default_rng(0).random((10, 45)), axis=1) + 1.0,
                         index=[f"{i:02d}" for i in range(1, 11)], columns=[f"group {j}" for j in range(45)])
    figures = {
        "parity": plot_parity(q, data.n_a, data.n_b, table=table),
        "reliability": plot_reliability(table, brier=0.1),
        "histogram": plot_q_histogram(q_histogram(q, data.p_b)),
        "curves": plot_training_curves({f"model {i}": history for i in range(10)}),
        "landscape": plot_landscape(_trials()),
        "ranks": plot_importance_heatmap(ranks, top=15),
        "shares": plot_importance_heatmap(ranks.rdiv(1.0).div(ranks.rdiv(1.0).sum(axis=1), axis=0)),
    }
    for name, figure in figures.items():
        save_figure(figure, tmp_path / f"{name}.png")
        width, height = _png_size(tmp_path / f"{name}.png")
        assert 300 < width <= 1000 and height <= 1000, name
    # the heatmap keeps the top 15 of 45 groups as rows, models as columns
    axes = figures["ranks"].axes[0]
    assert len(axes.get_yticklabels()) == 15 and len(axes.get_xticklabels()) == 10
    # the landscape leaves the failed trial out
    assert "12 completed trials" in figures["landscape"]._suptitle.get_text()
