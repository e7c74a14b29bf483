"""The committor test on a tiny vacuum case (Reference platform) with a model whose q is known."""

import json

import numpy as np
import pandas as pd
import pytest

openmm = pytest.importorskip("openmm")
pytest.importorskip("MDAnalysis")

from committor_keras._errors import ConfigError, DataError  # noqa: E402
from committor_keras.md._config import Window, vacuum_preset  # noqa: E402
from committor_keras.md._sampling import load_configurations  # noqa: E402
from committor_keras.md._workdir import build, init  # noqa: E402
from committor_keras.validate._committor_test import committor_test, expected_histogram  # noqa: E402

pytestmark = pytest.mark.md
PHI = "C5-N7-C9-C15"


class PhiModel:
    """q = sigmoid((phi - centre) / width) from the sin/cos of phi: a model with a known q = 0.5 surface."""

    feature_names = (f"sin({PHI})", f"cos({PHI})")
    path = "phi-model"

    def __init__(self, centre=0.0, width=4.0):
        self.centre, self.width = centre, width
        self.seen = []

    def predict_committor(self, features):
        self.seen.append(np.asarray(features).copy())
        phi = np.degrees(np.arctan2(features[:, 0], features[:, 1]))
        return 1 / (1 + np.exp(-(phi - self.centre) / self.width))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("ct") / "work"
    config = vacuum_preset(seed=13).replace(
        windows=(Window(-2.0, 2000.0, 5), Window(2.0, 2000.0, 5), Window(-80.0, 0.0, 5)),
        pull_ps=0.2, window_equilibration_ps=0.2, stride_steps=25, max_steps=2000)
    init(path, config)
    build(path, log=lambda line: None)
    return path


def test_picks_only_new_configurations_in_the_band_and_shoots_them(workdir, tmp_path):
    model = PhiModel()
    result = committor_test(model, workdir, tmp_path / "out", n=6, shots=8, seed=1, per_window=6,
                            progress=False, log=lambda line: None)
    assert len(result["p_b"]) == 6 and all(0.45 <= q <= 0.55 for q in result["q"])
    assert result["shots_fired"] == 6 * 8
    # only the restrained windows were sampled: 2 windows x 6 per round
    assert all(r["sampled"] == 12 for r in result["rounds"])
    assert np.isclose(result["mean_p_b"], np.mean(result["p_b"]))
    q = np.asarray(result["q"])
    assert result["uncommitted_shots"] == 0  # every shot commits within 4 ps in vacuum: m_i = 8
    assert np.isclose(result["std_binomial"], np.sqrt(np.mean(q * (1 - q) / 8)))
    assert result["std_expected"] >= result["std_binomial"]
    on_disk = json.loads((tmp_path / "out" / "committor_test.json").read_text())
    assert on_disk["p_b"] == result["p_b"] and (tmp_path / "out" / "committor_test.png").stat().st_size > 1000
    # the shot configurations are sampled afresh, with seeds the work directory never used
    selected, _, _ = load_configurations(tmp_path / "out" / "selected")
    assert selected.shape[0] == 6

    again = committor_test(PhiModel(), workdir, tmp_path / "out", n=6, shots=8, seed=1, per_window=6,
                           progress=False, log=lambda line: None)
    assert again["p_b"] == result["p_b"]  # resumed from disk: nothing redone differently


def test_errors_name_the_fix(workdir, tmp_path):
    far = PhiModel(centre=170.0, width=1.0)  # q = 0.5 nowhere near the sampled windows
    with pytest.raises(DataError, match="max-rounds"):
        committor_test(far, workdir, tmp_path / "far", n=2, shots=2, per_window=2, max_rounds=1,
                       progress=False, log=lambda line: None)
    basins = tmp_path / "basins"
    init(basins, vacuum_preset(seed=3).replace(windows=(Window(-80.0, 0.0, 2),)))
    with pytest.raises(ConfigError, match="restrained window"):
        committor_test(PhiModel(), basins, tmp_path / "x", progress=False, log=lambda line: None)


def test_expected_histogram_is_the_binomial_mixture():
    edges = np.linspace(0, 1, 11)
    counts = expected_histogram([0.5, 0.5], 4, edges)
    assert counts.sum() == pytest.approx(2.0)
    # k/4 in {0, .25, .5, .75, 1} with pmf 1/16, 4/16, 6/16, 4/16, 1/16 per configuration
    assert counts[0] == pytest.approx(2 / 16) and counts[5] == pytest.approx(12 / 16)


def test_summary_width_is_binomial_for_a_perfect_model_and_wide_for_one_that_mixes_channels():
    from committor_keras.validate import committor_test_summary

    rng = np.random.default_rng(0)
    q = rng.uniform(0.45, 0.55, 4000)
    channel = np.where(np.arange(4000) % 2, "beta", "bridge")
    # perfect in the bridge channel (p_B = q); in beta the model's q = 0.5 surface mixes p_B 0.1 and 0.9
    p_true = np.where(channel == "bridge", q, np.where(rng.random(4000) < 0.5, 0.1, 0.9))
    n_b = rng.binomial(50, p_true)
    table = committor_test_summary(q, 50 - n_b, n_b, groups=channel)
    assert list(table.index) == ["all", "beta", "bridge"]
    assert table.loc["bridge", "width_ratio"] == pytest.approx(1.0, abs=0.06)
    assert table.loc["beta", "width_ratio"] > 4
    assert table.loc["all", "n"] == 4000 and table.loc["beta", "n"] == 2000
    assert table.loc["bridge", "std_binomial"] == pytest.approx(np.sqrt(np.mean(q[::2] * (1 - q[::2]) / 50)))
    alone = committor_test_summary(q[::2], 50 - n_b[::2], n_b[::2])
    pd.testing.assert_series_equal(alone.loc["all"], table.loc["bridge"], check_names=False)


def test_cli_reports_a_missing_work_directory(tmp_path, capsys):
    from committor_keras.cli import main

    assert main(["committor-test", str(tmp_path / "model"), "--md", str(tmp_path / "nowhere")]) == 2
    assert "md.json" in capsys.readouterr().err


def test_the_histogram_leaves_the_callers_matplotlib_state_alone(tmp_path, monkeypatch):
    """No backend switch and no open pyplot figure, even when writing the figure fails (e.g. in a notebook)."""
    import matplotlib
    import matplotlib.pyplot as plt

    from committor_keras.validate import _committor_test

    result = {"shots_per_configuration": 20, "p_b": [0.4, 0.5, 0.55], "q": [0.5, 0.5, 0.5], "q_range": [0.45, 0.55],
              "mean_p_b": 0.48, "std_p_b": 0.06, "std_binomial": 0.11}
    backend = matplotlib.get_backend()
    plt.close("all")
    monkeypatch.setattr(matplotlib, "use", lambda *args, **kwargs: pytest.fail("switched the backend"))
    _committor_test.plot_histogram(result, tmp_path / "ok.png")
    assert (tmp_path / "ok.png").stat().st_size > 0

    def failing_savefig(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", failing_savefig)
    with pytest.raises(OSError):
        _committor_test.plot_histogram(result, tmp_path / "fails.png")
    assert plt.get_fignums() == [] and matplotlib.get_backend() == backend
    assert not (tmp_path / "fails.png").exists()


@pytest.mark.slow
def test_a_water_model_gets_the_solvent_potential_of_new_configurations(tmp_path):
    """The water path: a solvated work directory (the shipped box, build skipped), configurations featurised
    with the solvent's electrostatic potential, shot on the CPU platform."""
    import shutil
    from pathlib import Path

    from committor_keras.md._config import water_preset

    shipped = Path(__file__).resolve().parent.parent / "data" / "alanine_dipeptide_water"
    work = tmp_path / "water"
    init(work, water_preset(seed=5).replace(
        windows=(Window(4.0, 2000.0, 3),), pull_ps=0.3, window_equilibration_ps=0.3, stride_steps=25,
        max_steps=500))
    for name in ("system.pdb", "build.json"):
        shutil.copy(shipped / name, work / name)

    class PhiEspModel(PhiModel):
        feature_names = (*PhiModel.feature_names, "ESP(H18)")

    model = PhiEspModel(centre=4.0, width=1e3)  # q ~ 0.5 everywhere near phi = 4: every configuration fits
    result = committor_test(model, work, tmp_path / "out", n=2, shots=2, seed=0, per_window=3,
                            progress=False, log=lambda line: None)
    assert len(result["p_b"]) == 2 and result["shots_fired"] == 4
    esp = np.concatenate(model.seen)[:, 2]
    # the potential of ~600 water molecules at a polar hydrogen: finite, tens to hundreds of kJ/mol/e
    assert np.all(np.isfinite(esp)) and np.all(np.abs(esp) > 1.0)
