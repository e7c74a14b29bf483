"""The study: its configuration, repeat statistics, the noise band, data readers, the ensemble export, and a
whole (tiny) study that is interrupted and resumed."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from committor_keras._errors import ConfigError, DataError
from committor_keras.study._config import StudyConfig, load_study_config
from committor_keras.study._data import load_study_data, read_shot_table

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "study-tiny.toml"
METHANE = ROOT.parent / "shared" / "external" / "methane_clathrate"


# -- configuration ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["study.toml", "study-tiny.toml", "study-methane.toml", "study-water.toml"])
def test_shipped_study_configs_are_valid(name):
    config = load_study_config(ROOT / "configs" / name)
    assert 1 < config.study.ensemble <= config.study.final <= config.study.candidates
    assert config.study.folds >= 2 and config.study.repeats >= 2


def test_defaults_and_overrides():
    default = load_study_config()
    assert (default.study.repeats, default.study.folds) == (3, 5)
    config = StudyConfig.from_dict({"study": {"repeats": 4, "group_folds_by": "channel"},
                                    "search": {"loss": "binomial_nll"}})
    assert config.study.repeats == 4 and config.study.group_folds_by == "channel"
    assert config.search.search.loss == "binomial_nll"
    assert json.loads(json.dumps(config.to_dict()))["study"]["repeats"] == 4


@pytest.mark.parametrize("table, key", [
    ({"repeat": 3}, "study.repeat"),
    ({"folds": 1}, "study.folds"),
    ({"repeats": 0}, "study.repeats"),
    ({"candidates": 2, "final": 3}, "study.final"),
    ({"final": 2, "ensemble": 3}, "study.ensemble"),
    ({"explain_methods": ["shap"]}, "study.explain_methods"),
    ({"group_folds_by": 3}, "study.group_folds_by"),
    ({"ablations": "ESP(H18)"}, "study.ablations"),
])
def test_invalid_settings_name_the_key(table, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        StudyConfig.from_dict({"study": table}, source="s.toml")


def test_configurations_validate_without_tensorflow():
    probe = subprocess.run([sys.executable, "-c", "import sys; from committor_keras.study._config import "
                            f"load_study_config; load_study_config({str(ROOT / 'configs' / 'study.toml')!r}); "
                            "print('tensorflow' in sys.modules, 'keras' in sys.modules)"],
                           capture_output=True, text=True, timeout=120)
    assert probe.stdout.split() == ["False", "False"], probe.stderr
    pytest.importorskip("tensorflow")
    from committor_keras.model import LOSS_NAMES, LOSSES

    assert tuple(LOSSES) == LOSS_NAMES


def test_study_command_reports_a_config_error_in_one_line(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[study]\nfolds = 1\n")
    result = subprocess.run([sys.executable, "-m", "committor_keras.cli", "study", "data.npz", "--out",
                             str(tmp_path / "out"), "--config", str(config)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert "study.folds" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_settings_that_name_data_fail_before_any_work(tmp_path):
    from committor_keras.data import make_synthetic
    from committor_keras.study._study import run_study

    data = make_synthetic(30, n_relevant=1, n_decoys=1, shots_per_point=5, seed=0)
    for study, key in (({"group_folds_by": "channel"}, "study.group_folds_by"), ({"ablations": ["ESP(H18)"]},
                                                                                 "study.ablations")):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            run_study(data, tmp_path / "out", config={"study": study})
        assert not (tmp_path / "out").exists()


# -- statistics --------------------------------------------------------------------------------------------
def test_within_noise_uses_the_wider_of_five_percent_and_two_standard_errors():
    from committor_keras.study._study import within_noise

    # 5 % of 1.0 is the band when the errors are small; 2 combined standard errors when they are large.
    assert list(within_noise([1.0, 1.04, 1.06], [0.0, 0.0, 0.0])) == [True, True, False]
    se = 0.1 / np.sqrt(2)
    assert list(within_noise([1.0, 1.19, 1.21], [se, se, se])) == [True, True, False]


def test_repeat_statistics_and_ranking_by_the_mean():
    from committor_keras.study._study import summarise_repeats

    values = {"01": [0.30, 0.10, 0.20], "02": [0.12, 0.18, 0.15], "03": [0.50, 0.52, np.nan]}
    rows = []
    for candidate, kls in values.items():
        for repeat, kl in enumerate(kls):
            rows.append({"candidate": candidate, "repeat": repeat, "search_seed": 0, "trial_id": candidate,
                         "seed": repeat, "architecture": f"arch {candidate}", "diverged": bool(np.isnan(kl)),
                         "val_kl_per_shot": kl, "test_kl_per_shot": 2 * kl, "search_val_kl_per_shot": 0.1,
                         "hp_learning_rate": 1e-3, "model": f"candidates/{candidate}/r{repeat}/model.keras"})
    table = summarise_repeats(pd.DataFrame(rows), final=2)
    assert list(table["candidate"]) == ["02", "01", "03"] and list(table["rank"]) == [1, 2, 3]
    first = table.set_index("candidate")
    assert first.loc["01", "val_kl_per_shot_mean"] == pytest.approx(0.2)
    assert first.loc["01", "val_kl_per_shot_std"] == pytest.approx(0.1)
    assert first.loc["01", "test_kl_per_shot_mean"] == pytest.approx(0.4)
    assert first.loc["03", "repeats"] == 2 and first.loc["03", "val_kl_per_shot_mean"] == pytest.approx(0.51)
    assert list(table["final"]) == [True, True, False]
    # 01 is 0.05 above 02 but its repeats spread widely: within noise; 03 is not.
    assert list(table["within_noise"]) == [True, True, False]
    assert first.loc["01", "model"] == "candidates/01/r0/model.keras"


def test_paired_differences_and_ablated_columns():
    from committor_keras.data import CommittorData, make_synthetic
    from committor_keras.study._study import kept_columns, paired_differences

    data = make_synthetic(20, n_relevant=2, n_decoys=1, shots_per_point=5, seed=0)
    assert kept_columns(data, "x2") == [0, 2]
    with pytest.raises(ConfigError, match="study.ablations"):
        kept_columns(data, "nope")
    names = ["sin(a)", "cos(a)", "b"]
    grouped = CommittorData(np.zeros((2, 3)), names, n_a=np.ones(2), n_b=np.ones(2),
                            metadata={"feature_groups": {"a": names[:2]}})
    assert kept_columns(grouped, "a") == [2] and kept_columns(grouped, "b") == [0, 1]
    rows = [{"model": model, "fold": fold, "kl_per_shot": kl} for fold in range(3) for model, kl in (
        ("candidate 01", 0.10 + 0.01 * fold), ("candidate 01 without x2", 0.15 + 0.02 * fold),
        ("baseline: all", 0.2), ("baseline: all without x2", 0.2 + 0.001 * fold))]
    table = paired_differences(pd.DataFrame(rows), "candidate 01", ["x2"]).set_index("family")
    assert table.loc["network", "difference_mean"] == pytest.approx(0.06)
    assert table.loc["network", "difference_se"] == pytest.approx(0.01 / np.sqrt(3))
    assert table.loc["network", "p_value"] < 0.05 and table.loc["network", "folds"] == 3
    assert table.loc["logistic", "difference_mean"] == pytest.approx(0.001)


def test_alias_ranks_and_pairwise_spearman():
    from committor_keras.data import CommittorData
    from committor_keras.study._study import alias_ranks, pairwise_spearman

    names = ["sin(C5-N7-C9-C15)", "cos(C5-N7-C9-C15)", "sin(O6-C5-N7-C9)", "cos(O6-C5-N7-C9)", "x"]
    data = CommittorData(np.zeros((4, 5)), names, n_a=np.ones(4), n_b=np.ones(4), metadata={
        "feature_groups": {"C5-N7-C9-C15": names[:2], "O6-C5-N7-C9": names[2:4]},
        "feature_aliases": {"C5-N7-C9-C15": "phi", "O6-C5-N7-C9": "theta"}})
    rows = []
    for model, order in (("a", ["O6-C5-N7-C9", "C5-N7-C9-C15", "x"]), ("b", ["C5-N7-C9-C15", "O6-C5-N7-C9", "x"])):
        rows += [{"model": model, "method": "ig", "view": "raw", "region": "all", "name": name, "rank": rank,
                  "importance": 10.0 - rank} for rank, name in enumerate(order, start=1)]
    rows += [{"model": model, "method": "ig", "view": "bond", "region": "all", "name": name, "rank": rank,
              "importance": 10.0 - rank} for model in "ab" for rank, name in enumerate(["N7-C9", "C5-N7", "x"], 1)]
    importances = pd.DataFrame(rows)
    ranks = alias_ranks(importances, data, {"N7-C9": names[:2], "C5-N7": names[2:4], "x": ["x"]})
    raw = ranks[ranks["view"] == "raw"].set_index("model")
    assert raw.loc["a", "phi"] == 2 and raw.loc["a", "theta"] == 1 and raw.loc["b", "phi"] == 1
    bond = ranks[ranks["view"] == "bond"].set_index("model")
    assert bond.loc["a", "phi_group"] == "N7-C9" and bond.loc["a", "phi"] == 1 and bond.loc["a", "theta"] == 2
    rho = pairwise_spearman(importances).set_index("view")["spearman"]
    assert rho["bond"] == pytest.approx(1.0) and rho["raw"] == pytest.approx(0.5)


# -- data ----------------------------------------------------------------------------------------------------
def test_shot_tables_read_as_counts_and_directories_resolve(tmp_path):
    (tmp_path / "set").mkdir()
    table = tmp_path / "set" / "shots.txt"
    table.write_text("# n_A n_B a b\n1 0 0.5 2\n0 1 1.5 3\n2 3 0.1 4\n")
    data = load_study_data(tmp_path / "set")
    assert data.feature_names == ("x1", "x2") and list(data.n_b) == [0, 1, 3] and list(data.n_shots) == [1, 1, 5]
    (tmp_path / "set" / "other.npz").write_bytes(b"")
    with pytest.raises(DataError, match="found other.npz, shots.txt"):
        load_study_data(tmp_path / "set")
    table.write_text("1 0\n")
    with pytest.raises(DataError, match="columns"):
        read_shot_table(table)


@pytest.mark.skipif(not METHANE.is_dir(), reason="shared/external/methane_clathrate is not here")
def test_methane_clathrate_layout_reads_with_its_descriptor_names():
    data = load_study_data(METHANE)
    assert len(data) == 982 and data.n_features == 22
    assert data.feature_names[0] == "MCG" and data.feature_names[2] == "N_w,3"
    assert (data.n_shots == 1).all() and data.n_b.sum() == 536
    assert data.metadata["states"]["B"]["name"] == "solid"


# -- ensemble ------------------------------------------------------------------------------------------------
def test_ensemble_export_serves_the_mean_logit_and_the_members_spread(tmp_path):
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from committor_keras.data import make_synthetic
    from committor_keras.export import read_card
    from committor_keras.model import build_model, predict_logits, resolve_hparams
    from committor_keras.study import export_ensemble

    data = make_synthetic(60, n_relevant=2, n_decoys=1, shots_per_point=5, seed=2)
    members = [build_model(resolve_hparams({"hidden_layers": layers, "units_0": 4, "units_1": 3}), data.features,
                           seed=layers) for layers in (1, 2, 0)]
    card = export_ensemble(members, tmp_path / "ensemble", data, seed=0, info={"candidates": ["01", "02", "03"]})
    x = data.features[:7].astype(np.float32)
    logits = np.stack([predict_logits(m, x) for m in members], axis=1)
    served = tf.saved_model.load(str(tmp_path / "ensemble" / "saved_model" / "1")).signatures["serving_default"](
        features=tf.constant(x))
    np.testing.assert_allclose(served["logit"].numpy().ravel(), logits.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["logit_std"].numpy().ravel(), logits.std(axis=1), rtol=1e-4, atol=1e-6)
    q = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(served["committor_std"].numpy().ravel(), q.std(axis=1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(served["committor"].numpy().ravel(), 1 / (1 + np.exp(-logits.mean(axis=1))),
                               rtol=1e-5)
    assert read_card(tmp_path / "ensemble") == card
    assert card["model"]["ensemble_size"] == 3
    assert set(card["signatures"]["serving_default"]["outputs"]) == {"committor", "logit", "logit_std",
                                                                     "committor_std"}


# -- a whole study -------------------------------------------------------------------------------------------
def _snapshot(run_dir):
    """Content of every stage output a rerun must leave alone (not the report, which is the last stage)."""
    names = ["trials.csv", "repeats.csv", "candidates.csv", "baselines.csv", "noise_floor.json"]
    return {name: (run_dir / name).read_text() for name in names} | {
        path.name: path.read_text() for path in sorted((run_dir / "stages").glob("*.json"))}


@pytest.mark.slow
def test_an_interrupted_study_resumes_without_redoing_stages_and_matches_an_uninterrupted_one(tmp_path,
                                                                                           monkeypatch, capsys):
    pytest.importorskip("tensorflow")
    from committor_keras.data import make_synthetic
    from committor_keras.study import _study
    from committor_keras.study._study import run_study

    data = make_synthetic(300, n_relevant=2, n_decoys=2, shots_per_point=10, seed=1)
    run = tmp_path / "interrupted"
    tables = tomllib.loads(TINY.read_text())
    config = StudyConfig.from_dict({**tables, "study": {**tables["study"], "ablations": ["d1"]}})

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(_study._Study, "_cv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_study(data, run, config=config, seed=0)
    assert sorted(p.stem for p in (run / "stages").glob("*.json")) == ["baselines", "repeats", "searches"]
    before = _snapshot(run)
    monkeypatch.undo()
    changed = StudyConfig.from_dict({**tables, "study": {**tables["study"], "ablations": ["d1"], "repeats": 3}})
    with pytest.raises(ConfigError, match="study.repeats"):
        run_study(data, run, config=changed, seed=0)
    capsys.readouterr()
    result = run_study(data, run, config=config, seed=0)
    lines = capsys.readouterr().out.splitlines()
    for stage in ("searches", "repeats", "baselines"):
        assert any(line.startswith("[") and f"] {stage}: done (" in line and "skipped" in line for line in lines)
    assert {k: v for k, v in _snapshot(run).items() if k in before} == before
    assert sorted(p.stem for p in (run / "stages").glob("*.json")) == sorted(_study.STAGES)

    # The report links only figures that exist, by paths relative to the study directory.
    report = result.report.read_text()
    links = [line.split("](", 1)[1].rstrip(")") for line in report.splitlines() if line.startswith("![")]
    assert links and all(not Path(link).is_absolute() and (run / link).is_file() for link in links)
    for section in ("## Cross-validation", "## Baselines", "## Explanations", "## Ensemble", "## Validation"):
        assert section in report
    assert "x floor" in report
    record = json.loads((run / "run.json").read_text())
    assert record["config"]["study"]["repeats"] == 2 and not Path(record["config"]["data"]).is_absolute()

    # Same results as a study that ran straight through.
    straight = run_study(data, tmp_path / "straight", config=config, seed=0, verbose=0)
    for name in ("repeats.csv", "candidates.csv", "cv.csv", "baselines.csv", "ablation.csv"):
        a, b = pd.read_csv(run / name), pd.read_csv(straight.run_dir / name)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-5)
    cv = result.cv.set_index("model")
    assert {"ensemble", "baseline: all", "baseline: constant"} <= set(cv.index)
    assert (cv["kl_x_floor"] > 0).all()
    ablation = pd.read_csv(run / "ablation.csv")
    assert list(ablation["family"]) == ["network", "logistic"] and (ablation["feature"] == "d1").all()
    assert "## What a feature adds" in report
