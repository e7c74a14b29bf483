"""CommittorData: validation of every bad input, exact round trips, deterministic stratified splits."""

import json
from pathlib import Path

import numpy as np
import pytest

from committor_keras import data as cdata
from committor_keras._errors import ConfigError, DataError

METHANE = Path(__file__).resolve().parents[1].parent / "shared/external/methane_clathrate/shooting_data_280K.txt"


@pytest.fixture
def synthetic():
    return cdata.make_synthetic(300, n_relevant=2, n_decoys=3, shots_per_point=10, seed=3, angle_weight=1.0)


def _counts(n=4):
    return dict(n_a=np.arange(n) + 1.0, n_b=np.arange(n)[::-1] + 1.0)


@pytest.mark.parametrize("kwargs, field", [
    (dict(features=[[np.nan, 1.0]] * 4, feature_names=["a", "b"], **_counts()), "a"),
    (dict(features=[[1.0, np.inf]] * 4, feature_names=["a", "b"], **_counts()), "b"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], p_b=[0.1, 1.2, 0.5, 0.5], n_shots=[1] * 4), "p_b"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], p_b=[-0.1, 0.2, 0.5, 0.5], n_shots=[1] * 4), "p_b"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], p_b=[0.1] * 4, n_shots=[1, 0, 1, 1]), "n_shots"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], n_a=[1, -1, 1, 1], n_b=[1] * 4), "n_a"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], n_a=[0, 1, 1, 1], n_b=[0, 1, 1, 1]), "n_a+n_b"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], n_a=[1, 1, 1], n_b=[1] * 4), "n_a"),
    (dict(features=np.zeros((4, 2)), feature_names=["a"], **_counts()), "feature_names"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "a"], **_counts()), "feature_names"),
    (dict(features=np.zeros((4, 2)), feature_names=None, **_counts()), "feature_names"),
    (dict(features=np.zeros((0, 2)), feature_names=["a", "b"], n_a=[], n_b=[]), "features"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], n_a=[3] * 4, n_b=[0] * 4), "labels"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], p_b=[1.0] * 4, n_shots=[5] * 4), "labels"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"]), "labels"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], n_a=[1] * 4), "n_b"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], weights=[-1, 1, 1, 1], **_counts()), "weights"),
    (dict(features=np.zeros((4, 2)), feature_names=["a", "b"], metadata={"feature_groups": {"g": ["a", "zz"]}},
          **_counts()), "metadata.feature_groups.g"),
])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(DataError) as error:
        cdata.CommittorData(source="file.npz", **kwargs)
    assert error.value.field == field
    message = str(error.value)
    assert message.startswith("file.npz: field") and "\n" not in message


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_round_trip_is_exact(synthetic, tmp_path, suffix):
    path = tmp_path / f"set{suffix}"
    synthetic.save(path)
    loaded = cdata.load(path)
    assert loaded.content_sha256() == synthetic.content_sha256()
    assert loaded.source == str(path)
    assert [name for name, _ in loaded.groups()] == [name for name, _ in synthetic.groups()]


def test_p_b_labels_round_trip_as_p_b(tmp_path):
    original = cdata.CommittorData(np.eye(3), ["a", "b", "c"], p_b=[0.0, 0.25, 1.0], n_shots=[4, 4, 2])
    path = tmp_path / "pb.csv"
    original.save(path)
    header = path.read_text().splitlines()[1].split(",")
    assert "p_b" in header and "n_a" not in header
    np.testing.assert_array_equal(cdata.load(path).n_b, [0.0, 1.0, 2.0])


@pytest.mark.parametrize("header, n_b", [("x,p_B,N_shots", [1.0, 3.0]), ("x,n_A,n_B", [1.0, 1.0]),
                                         ("x,P_b,n_shots,Weight", [1.0, 3.0])])
def test_label_columns_are_case_insensitive(tmp_path, header, n_b):
    path = tmp_path / "mine.csv"
    rows = "0.1,0.25,4,1\n0.2,0.75,4,2\n" if "Weight" in header else "0.1,0.25,4\n0.2,0.75,4\n"
    if "n_A" in header:
        rows = "0.1,3,1\n0.2,3,1\n"
    path.write_text(header + "\n" + rows)
    data = cdata.load(path)
    assert data.feature_names == ("x",)
    np.testing.assert_array_equal(data.n_b, n_b)
    assert (data.weights is not None) == ("Weight" in header)


def test_a_label_given_twice_in_different_cases_is_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("x,p_b,p_B,n_shots\n0.1,0.5,0.5,2\n")
    with pytest.raises(DataError, match="field 'p_b'.*twice"):
        cdata.load(path)


def test_npz_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, features=np.zeros((3, 1)), feature_names=np.array([object()], dtype=object))
    with pytest.raises(DataError, match="pickled"):
        cdata.load(path)


@pytest.mark.parametrize("content, suffix, field", [
    (None, ".npz", "file"),
    (b"not a zip", ".npz", "file"),
    (b"a,b\n1,2\n", ".txt", "file"),
    (b"a,b,n_a,n_b\n1,x,1,1\n2,3,1,0\n", ".csv", "b"),
    (b"a,a,n_a,n_b\n1,2,1,1\n2,3,1,0\n", ".csv", "feature_names"),
    (b"# committor-keras metadata: {oops\na,n_a,n_b\n1,1,1\n", ".csv", "metadata"),
])
def test_bad_files_name_file_and_field(tmp_path, content, suffix, field):
    path = tmp_path / f"data{suffix}"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as error:
        cdata.load(path)
    assert error.value.field == field and str(path) in str(error.value)


def test_npz_missing_features_key(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, n_a=np.ones(3))
    with pytest.raises(DataError, match="'features'"):
        cdata.load(path)


def test_failed_save_leaves_no_file(tmp_path, synthetic):
    synthetic.extras["matrix"] = np.zeros((len(synthetic), 2))
    with pytest.raises(DataError):
        synthetic.save(tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


def test_split_is_deterministic_disjoint_and_stratified(synthetic):
    first = cdata.split_indices(synthetic, seed=7)
    again = cdata.split_indices(synthetic, seed=7)
    other = cdata.split_indices(synthetic, seed=8)
    for a, b in zip((first.train, first.validation, first.test), (again.train, again.validation, again.test)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.test, other.test)
    everything = np.concatenate([first.train, first.validation, first.test])
    assert sorted(everything) == list(range(len(synthetic)))
    transition = (synthetic.p_b > 0.1) & (synthetic.p_b < 0.9)
    for part in (first.train, first.validation, first.test):
        assert abs(transition[part].mean() - transition.mean()) < 0.1
    assert abs(len(first.test) / len(synthetic) - 0.1) < 0.03


def test_split_round_trip(tmp_path, synthetic):
    split = cdata.split_indices(synthetic, seed=1)
    split.save(tmp_path / "split.npz")
    loaded = cdata.Split.load(tmp_path / "split.npz")
    np.testing.assert_array_equal(loaded.test, split.test)
    assert loaded.seed == 1


def test_split_rejects_bad_fractions(synthetic):
    with pytest.raises(ConfigError):
        cdata.split_indices(synthetic, 0, fractions=(0.9, 0.1, 0.0))


def test_synthetic_shots_follow_the_true_committor():
    data = cdata.make_synthetic(4000, shots_per_point=50, seed=0)
    residual = (data.p_b - data.extras["q_true"]) / np.sqrt(
        data.extras["q_true"] * (1 - data.extras["q_true"]) / 50 + 1e-12)
    assert abs(residual.mean()) < 0.1 and 0.8 < residual.std() < 1.2


def test_groups_cover_every_feature_once(synthetic):
    columns = sorted(i for _, members in synthetic.groups() for i in members)
    assert columns == list(range(synthetic.n_features))
    assert dict(synthetic.groups())["angle"] == [synthetic.feature_names.index("sin(angle)"),
                                                  synthetic.feature_names.index("cos(angle)")]


def test_subset_keeps_points_aligned(synthetic):
    subset = synthetic.subset([5, 2])
    np.testing.assert_array_equal(subset.features, synthetic.features[[5, 2]])
    np.testing.assert_array_equal(subset.extras["q_true"], synthetic.extras["q_true"][[5, 2]])
    np.testing.assert_array_equal(cdata.labels(subset), cdata.labels(synthetic)[[5, 2]])


@pytest.mark.skipif(not METHANE.is_file(), reason="shared/ external data not present")
def test_reads_external_methane_clathrate_data(tmp_path):
    table = np.loadtxt(METHANE)
    names = ["MCG", "N_w4", "N_w3", "N_w2", "N_sw3-4", "N_sw2-3", "F4", "R_g", "5^12 6^2", "5^12", "CR",
             "N_s2", "N_s3", "N_c2", "N_c3", "N_s4", "N_c4", "5^12 6^3", "5^12 6^4", "4^1 5^10 6^2",
             "4^1 5^10 6^3", "4^1 5^10 6^4"]
    external = cdata.CommittorData(table[:, 2:], names, n_a=table[:, 0], n_b=table[:, 1],
                                   metadata={"system": "methane clathrate 280 K"}, source=METHANE)
    path = tmp_path / "methane.csv"
    external.save(path)
    loaded = cdata.load(path)
    assert len(loaded) == 982 and loaded.n_shots.max() == 1
    assert json.loads(path.read_text().splitlines()[0].split(":", 1)[1])["system"] == "methane clathrate 280 K"


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_load_features_accepts_unlabelled_files_and_still_validates(tmp_path, suffix):
    path = tmp_path / f"new{suffix}"
    if suffix == ".npz":
        np.savez(path, features=np.ones((2, 2)), feature_names=np.array(["a", "b"]))
    else:
        path.write_text("a,b\n1,2\n3,4\n")
    table = cdata.load_features(path)
    assert table.feature_names == ("a", "b") and table.p_b is None and table.features.shape == (2, 2)
    bad = tmp_path / f"bad{suffix}"
    if suffix == ".npz":
        np.savez(bad, features=np.array([[1.0, np.nan]]), feature_names=np.array(["a", "b"]))
    else:
        bad.write_text("a,a\n1,2\n")
    with pytest.raises(DataError):
        cdata.load_features(bad)


def test_load_features_reads_labels_when_present(tmp_path, synthetic):
    synthetic.save(tmp_path / "s.npz")
    np.testing.assert_array_equal(cdata.load_features(tmp_path / "s.npz").p_b, synthetic.p_b)


def test_saved_files_are_readable_by_others(tmp_path, synthetic):
    synthetic.save(tmp_path / "s.npz")
    assert (tmp_path / "s.npz").stat().st_mode & 0o044 == 0o044
