"""Cross-model report over run directories, and the `explain` command."""

import argparse
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from committor_keras._errors import CommittorKerasError, ConfigError, DataError
from committor_keras._provenance import run_record, write_json_atomic
from committor_keras.data import labels, load, make_synthetic, save, split_indices
from committor_keras.explain import explain_run
from committor_keras.explain._cli import register
from committor_keras.model import build_model, fit_model

HPARAMS = {"hidden_layers": 1, "units_0": 8, "activation": "tanh", "learning_rate": 1e-2, "batch_size": 128}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """RUN/ with run.json (data path + sha256), split.npz, the data file, and two identical top models."""
    run = tmp_path_factory.mktemp("run")
    data = make_synthetic(n_points=800, n_relevant=2, n_decoys=2, shots_per_point=10, seed=6, angle_weight=1.5)
    data.metadata["feature_aliases"] = {"angle": "phi"}
    save(data, run / "data.npz")
    split = split_indices(data, seed=0)
    split.save(run / "split.npz")
    # As `tune` records it: the data path in the config and the data's content hash.
    write_json_atomic(run / "run.json", run_record({"data": "data.npz"}, data_sha256=data.content_sha256(), seed=0))
    y = labels(data)
    model = build_model(HPARAMS, data.features[split.train], seed=0)
    fit_model(model, HPARAMS, (data.features[split.train], y[split.train], None),
              (data.features[split.validation], y[split.validation], None), epochs=10, patience=3)
    for rank in ("01", "02"):
        (run / "top" / rank).mkdir(parents=True)
        model.save(run / "top" / rank / "model.keras")
        (run / "top" / rank / "card.json").write_text(json.dumps({"features": {"names": list(data.feature_names)}}))
    return run


def test_identical_models_correlate_perfectly(run_dir):
    report = explain_run(run_dir, methods=("ig", "permutation"), steps=16, repeats=3)
    assert report.out_dir == run_dir / "xai"
    for (method, kind), matrix in report.correlations.items():
        assert list(matrix.index) == ["01", "02"]
        np.testing.assert_allclose(matrix.to_numpy(), 1.0, err_msg=f"{method} {kind}")
    assert set(report.consensus) == {"ig", "permutation"}
    assert {"x1", "x2", "phi"} <= set(report.consensus["ig"])
    assert len(report.agreement) == 2
    for name in ("report.md", "report.json", "importances.csv", "importance_ig.csv", "ranks_permutation.csv",
                 "spearman_ig.csv", "kendall_permutation.csv", "method_agreement.csv", "top5.csv",
                 "heatmap_ig.png", "spearman_permutation.png"):
        assert (run_dir / "xai" / name).is_file(), name
    importances = pd.read_csv(run_dir / "xai" / "importances.csv")
    assert set(importances["model"].astype(str).str.zfill(2)) == {"01", "02"}
    text = (run_dir / "xai" / "report.md").read_text()
    assert "Spearman" in text and "phi" in text
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".xai")]


def test_cli_replaces_the_report_and_compares_runs(run_dir, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    (run_dir / "xai").mkdir(exist_ok=True)
    (run_dir / "xai" / "stale.txt").write_text("old")
    args = parser.parse_args(["explain", str(run_dir), "--methods", "ig", "--steps", "8", "--region", "transition",
                              "--no-figures"])
    assert args.func(args) == 0
    assert "report:" in capsys.readouterr().out
    assert not (run_dir / "xai" / "stale.txt").exists()
    assert set(pd.read_csv(run_dir / "xai" / "importances.csv")["region"]) == {"transition"}

    second = tmp_path / "second"
    shutil.copytree(run_dir, second, ignore=shutil.ignore_patterns("xai"))
    args = parser.parse_args(["explain", str(run_dir), str(second), "--methods", "permutation", "--repeats", "2",
                              "--out", str(tmp_path / "across"), "--no-figures"])
    assert args.func(args) == 0
    spearman = pd.read_csv(tmp_path / "across" / "spearman_permutation.csv", index_col=0)
    assert spearman.shape == (4, 4)
    np.testing.assert_allclose(spearman.to_numpy(), 1.0)


def test_run_errors_name_the_fix(run_dir, tmp_path):
    with pytest.raises(CommittorKerasError, match="run.json"):
        explain_run(tmp_path)
    with pytest.raises(ConfigError, match="choose from"):
        explain_run(run_dir, methods="ig,lime")
    changed = tmp_path / "changed"
    shutil.copytree(run_dir, changed, ignore=shutil.ignore_patterns("xai"))
    data = load(changed / "data.npz")
    data.metadata["system"] = "edited after the run"
    save(data, changed / "data.npz")
    with pytest.raises(DataError, match="data_sha256"):
        explain_run(changed, methods="ig")


def test_cli_group_option_groups_ig_and_permutation(run_dir, tmp_path):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"xs": ["x1", "x2"]}))
    args = parser.parse_args(["explain", str(run_dir), "--methods", "ig,permutation", "--steps", "8", "--repeats",
                              "2", "--group", str(groups), "--out", str(tmp_path / "grouped"), "--no-figures"])
    assert args.func(args) == 0
    importances = pd.read_csv(tmp_path / "grouped" / "importances.csv")
    assert set(importances["label"]) == {"xs", "d1", "d2", "phi"}
    assert "grouping" in (tmp_path / "grouped" / "report.md").read_text()
    assert json.loads((tmp_path / "grouped" / "report.json").read_text())["settings"]["grouping"] == str(groups)
    args = parser.parse_args(["explain", str(run_dir), "--group", "torsions", "--out", str(tmp_path / "bad")])
    with pytest.raises(ConfigError, match="'feature' or 'bond'"):
        args.func(args)
    assert not (tmp_path / "bad").exists()
