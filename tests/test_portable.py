"""Portable runs: a run directory records its files relative to itself and works from anywhere."""

import json
import shutil

import pytest

from committor_keras.cli import main
from committor_keras.data import make_synthetic

TINY_RUN = "[search]\nmax_trials = 1\nsearches = 1\ninitial_points = 1\nepochs = 2\npatience = 1\ntop_k = 1\n" \
           "[space.hidden_layers]\nvalue = 1\n[space.units]\nvalue = 4\n[space.batch_size]\nvalue = 128\n"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A finished tiny run ``project/runs/ala`` on ``project/data/d.npz``."""
    project = tmp_path_factory.mktemp("portable") / "project"
    (project / "data").mkdir(parents=True)
    make_synthetic(n_points=150, n_relevant=2, n_decoys=1, shots_per_point=4, seed=4).save(project / "data" / "d.npz")
    (project / "tiny.toml").write_text(TINY_RUN)
    run = project / "runs" / "ala"
    assert main(["tune", str(project / "data" / "d.npz"), "--out", str(run), "--config",
                 str(project / "tiny.toml"), "--quiet"]) == 0
    return project


def test_paths_are_recorded_relative_to_the_run_with_their_hashes(made):
    record = json.loads((made / "runs" / "ala" / "run.json").read_text())
    assert record["config"]["data"] == "../../data/d.npz" and len(record["config"]["data_file_sha256"]) == 64
    card = json.loads((made / "runs" / "ala" / "top" / "01" / "card.json").read_text())
    assert card["data"]["source"] == "../../../../data/d.npz" and len(card["data"]["sha256"]) == 64


def test_a_moved_run_works_from_another_directory(made, tmp_path, monkeypatch, capsys):
    moved = tmp_path / "elsewhere" / "project"
    shutil.copytree(made, moved)
    monkeypatch.chdir(tmp_path)  # neither the old nor the new project directory
    run = "elsewhere/project/runs/ala"
    assert main(["serve-check", f"{run}/top/01", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["inputs"].startswith("150 points of ") and result["ok"]
    assert main(["explain", run, "--methods", "ig", "--steps", "4", "--no-figures"]) == 0
    assert (moved / "runs" / "ala" / "xai" / "report.md").is_file()


def test_a_run_moved_without_its_data_says_so(made, tmp_path, monkeypatch, capsys):
    lonely = tmp_path / "lonely"
    shutil.copytree(made / "runs" / "ala", lonely)
    monkeypatch.chdir(made)  # where the run was made: the old working-directory-relative path must not be used
    capsys.readouterr()
    assert main(["serve-check", str(lonely / "top" / "01")]) == 2
    assert "is not there" in capsys.readouterr().err
    assert main(["serve-check", str(lonely / "top" / "01"), "--probes-only"]) == 0
    assert main(["serve-check", str(lonely / "top" / "01"), "--data", str(made / "data" / "d.npz")]) == 0
    assert main(["explain", str(lonely), "--methods", "ig", "--steps", "4", "--no-figures"]) == 2
    assert "pass it with --data" in capsys.readouterr().err


def test_the_run_directory_wins_over_a_same_named_file_in_the_working_directory(tmp_path, monkeypatch):
    from committor_keras.explain._run import _locate

    run, elsewhere = tmp_path / "project" / "runs" / "ala", tmp_path / "elsewhere" / "runs" / "ala"
    for base in (run, elsewhere):
        base.mkdir(parents=True)
        (base.parent.parent / "data").mkdir()
        (base.parent.parent / "data" / "d.npz").write_text(str(base))
    # From here the recorded '../../data/d.npz' also names a file, the wrong one.
    monkeypatch.chdir(elsewhere)
    assert _locate("../../data/d.npz", run, run / "run.json").read_text() == str(run)
