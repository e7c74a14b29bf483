"""A user's own data: a small CSV with almost no transition points through `tune`, PLUMED COLVAR files and
OpenPathSampling shooting-point tables."""

import numpy as np
import pandas as pd
import pytest

from committor_keras._errors import DataError
from committor_keras.cli import main

TINY_SEARCH = """[search]
max_trials = 2
searches = 1
initial_points = 2
epochs = 4
patience = 2
top_k = 1
[space.hidden_layers]
max = 1
[space.batch_size]
value = 64
"""


def _one_transition_point_csv(path, n_points=400, seed=0):
    """Three features; x0 alone decides the state, and a single point sits between the states (p_B = 0.5)."""
    rng = np.random.default_rng(seed)
    side = np.arange(n_points) % 2
    x0 = np.where(side == 1, rng.uniform(1, 3, n_points), rng.uniform(-3, -1, n_points))
    x0[0], side = 0.0, side.astype(float)
    side[0] = 0.5
    pd.DataFrame({"x0": x0, "x1": rng.normal(size=n_points), "x2": rng.normal(size=n_points),
                  "p_B": side, "n_shots": 10}).to_csv(path, index=False)


@pytest.mark.slow
def test_tune_completes_and_resumes_on_400_points_with_one_transition_point(tmp_path, capsys):
    data, config, run = tmp_path / "mine.csv", tmp_path / "search.toml", tmp_path / "run"
    _one_transition_point_csv(data)
    config.write_text(TINY_SEARCH)
    argv = ["tune", str(data), "--out", str(run), "--config", str(config), "--seed", "0", "--quiet"]
    assert main(argv) == 0
    assert main(argv[:-1] + ["--max-trials", "3", "--quiet"]) == 0
    trials = pd.read_csv(run / "trials.csv")
    assert len(trials) == 3 and (trials["status"] == "COMPLETED").all()
    assert (run / "summary.csv").is_file() and (run / "top" / "01" / "saved_model" / "1" / "saved_model.pb").is_file()
    assert any((run / "top" / "01" / "xai").glob("*.png"))


# The layout PLUMED writes (PRINT ARG=phi,psi,d1,metad.* FILE=COLVAR): header, periodic bounds, rows, and the
# header repeated where a restarted run appended to the file.
COLVAR = """#! FIELDS time phi psi d1 metad.bias metad.rbias metad.rct
#! SET min_phi -pi
#! SET max_phi pi
#! SET min_psi -pi
#! SET max_psi pi
 0.000000  -1.2379   0.8942   0.3120   0.0000   0.0000   0.0000
 1.000000  -1.4839   1.0482   0.3301   0.0000   0.0000   0.0089
 2.000000  -1.3243   0.6055   0.2987   0.0753   0.0664   0.0184
#! FIELDS time phi psi d1 metad.bias metad.rbias metad.rct
#! SET min_phi -pi
#! SET max_phi pi
#! SET min_psi -pi
#! SET max_psi pi
 3.000000   3.0411  -2.9876   0.4012   0.1021   0.0901   0.0201
 4.000000   1.1002  -0.7001   0.3555   0.1200   0.1000   0.0250
"""


@pytest.fixture()
def colvar(tmp_path):
    path = tmp_path / "COLVAR"
    path.write_text(COLVAR)
    return path


def _ops_table(path, counts_a, counts_b):
    """A shot table as OpenPathSampling's ShootingPointAnalysis.to_pandas().to_csv(path) writes it."""
    frame = pd.DataFrame({"C_7eq": counts_a, "alpha_R": counts_b})
    frame.index = range(len(frame))
    frame.to_csv(path)


def test_colvar_with_an_openpathsampling_shot_table_pairs_rows_in_order(colvar, tmp_path):
    from committor_keras.data import read_colvar

    _ops_table(tmp_path / "shots.csv", [10, 8, None, 0, 5], [None, 2, 10, 10, 5])
    data = read_colvar(colvar, shots=tmp_path / "shots.csv", states={"A": "C_7eq", "B": "alpha_R"})
    assert data.feature_names == ("sin(phi)", "cos(phi)", "sin(psi)", "cos(psi)", "d1")
    np.testing.assert_allclose(data.n_a, [10, 8, 0, 0, 5])
    np.testing.assert_allclose(data.n_b, [0, 2, 10, 10, 5])
    phi = np.array([-1.2379, -1.4839, -1.3243, 3.0411, 1.1002])
    np.testing.assert_allclose(data.features[:, 0], np.sin(phi))
    np.testing.assert_allclose(np.arctan2(data.features[:, 0], data.features[:, 1]), phi)
    np.testing.assert_allclose(data.features[:, 4], [0.312, 0.3301, 0.2987, 0.4012, 0.3555])
    assert data.metadata["feature_groups"] == {"phi": ["sin(phi)", "cos(phi)"], "psi": ["sin(psi)", "cos(psi)"]}
    assert [name for name, _ in data.groups()] == ["phi", "psi", "d1"]


def test_colvar_joins_a_shot_file_on_a_key_column_and_checks_it(colvar, tmp_path):
    from committor_keras.data import read_colvar

    shots = tmp_path / "shots.csv"
    shots.write_text("time,p_B,n_shots\n4,0.5,10\n0,0.0,10\n2,1.0,20\n")
    data = read_colvar(colvar, shots=shots, on="time", features=["phi", "d1"])
    assert data.feature_names == ("sin(phi)", "cos(phi)", "d1")
    np.testing.assert_allclose(data.features[:, 2], [0.3555, 0.312, 0.2987])
    np.testing.assert_allclose(data.n_b, [5, 0, 20])
    shots.write_text("time,n_a,n_b\n7,1,1\n")
    with pytest.raises(DataError, match="field 'time'.*no features.*time=7"):
        read_colvar(colvar, shots=shots, on="time")
    with pytest.raises(DataError, match="1 shooting points for 5 rows"):
        read_colvar(colvar, shots=shots)


def test_colvar_with_its_own_label_columns_loads_like_any_data_file(tmp_path, capsys):
    path = tmp_path / "colvar.dat"
    path.write_text("#! FIELDS time dist n_A n_B\n 0.0 0.10 3 1\n 0.1 0.25 1 3\n 0.2 0.40 0 4\n")
    from committor_keras.data import load

    data = load(path)
    assert data.feature_names == ("dist",) and data.n_b.tolist() == [1, 3, 4]
    assert main(["inspect", str(path)]) == 0 and "3 points" in capsys.readouterr().out


def test_load_features_reads_a_colvar_without_labels_as_load_reads_one(colvar):
    from committor_keras.data import load_features

    table = load_features(colvar)
    assert table.feature_names == ("sin(phi)", "cos(phi)", "sin(psi)", "cos(psi)", "d1")
    assert table.features.shape == (5, 5) and table.p_b is None
    np.testing.assert_allclose(table.features[:, 4], [0.312, 0.3301, 0.2987, 0.4012, 0.3555])
    assert table.metadata["feature_groups"]["phi"] == ["sin(phi)", "cos(phi)"]


def test_load_features_reads_the_labels_of_a_colvar_that_has_them(tmp_path):
    from committor_keras.data import load_features

    path = tmp_path / "colvar.dat"
    path.write_text("#! FIELDS time dist n_A n_B\n 0.0 0.10 3 1\n 0.1 0.25 1 3\n")
    table = load_features(path)
    assert table.feature_names == ("dist",) and table.p_b.tolist() == [0.25, 0.75]


@pytest.mark.parametrize("text, field", [
    (" 0.0 1.0\n", "FIELDS"),
    ("#! FIELDS time x n_a n_b\n 0.0 1.0 1\n", "line 2"),
    ("#! FIELDS time x n_a n_b\n 0.0 1.0 1 1\n#! FIELDS time y n_a n_b\n 1.0 2.0 1 1\n", "FIELDS"),
])
def test_malformed_colvar_names_the_line(tmp_path, text, field):
    from committor_keras.data import read_colvar

    path = tmp_path / "COLVAR"
    path.write_text(text)
    with pytest.raises(DataError) as error:
        read_colvar(path)
    assert error.value.field == field and str(path) in str(error.value)
