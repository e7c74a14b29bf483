"""Channel labels from psi and joining data sets (committor_keras.md._channels): no MD needed."""

import numpy as np
import pytest

from committor_keras._errors import DataError
from committor_keras.data import make_synthetic
from committor_keras.md._channels import OUTSIDE, join, label_channels, torsion_from_features, with_channels

CHANNELS = (("alphaR", -150.0, -30.0), ("beta", 90.0, -150.0))


def _with_psi(psi_deg, seed=0, phi_deg=None):
    data = make_synthetic(n_points=len(psi_deg), n_decoys=1, seed=seed, angle_weight=1.0)
    columns = list(data.feature_names)
    data.features[:, columns.index("sin(angle)")] = np.sin(np.radians(psi_deg))
    data.features[:, columns.index("cos(angle)")] = np.cos(np.radians(psi_deg))
    data.metadata["feature_aliases"] = {"angle": "psi"}
    if phi_deg is not None:  # the decoy column pair becomes phi
        data = type(data)(np.column_stack([data.features, np.sin(np.radians(phi_deg)), np.cos(np.radians(phi_deg))]),
                          [*columns, "sin(phi)", "cos(phi)"], n_a=data.n_a, n_b=data.n_b,
                          metadata={**data.metadata, "feature_aliases": {"angle": "psi", "phi": "phi"}})
    data.extras["window"] = np.arange(len(psi_deg)) % 2
    return data


def test_labels_follow_intervals_including_one_that_wraps():
    psi = np.array([-90.0, -150.0, -30.0, 0.0, 90.0, 179.9, -180.0, -151.0, 270.0])
    assert label_channels(psi, CHANNELS).tolist() == [0, 0, OUTSIDE, OUTSIDE, 1, 1, 1, 1, 0]
    with pytest.raises(DataError, match="overlaps"):
        label_channels(psi, CHANNELS + (("clash", -100.0, -50.0),))


def test_channels_are_read_from_the_sin_cos_features():
    psi = np.array([-100.0, 120.0, 170.0, -60.0, 10.0])
    data = _with_psi(psi)
    np.testing.assert_allclose(torsion_from_features(data, "psi"), psi, atol=1e-9)
    labelled = with_channels(data, CHANNELS)
    assert labelled.extras["channel"].tolist() == [0, 1, 1, 0, OUTSIDE]
    assert labelled.metadata["channels"]["codes"]["1"]["name"] == "beta"
    assert "channel" not in data.extras  # the input is left alone
    data.metadata["feature_aliases"]["x1"] = "phi"  # not a torsion: no sin/cos pair
    with pytest.raises(DataError, match="sin/cos"):
        with_channels(data, CHANNELS, barrier_phi=(-45, 45))
    with pytest.raises(DataError, match="theta"):
        torsion_from_features(data, "theta")


def test_only_configurations_near_the_barrier_get_a_channel():
    data = _with_psi(np.array([-100.0, -100.0, 120.0, 120.0]), phi_deg=np.array([0.0, -80.0, 10.0, 60.0]))
    labelled = with_channels(data, CHANNELS, barrier_phi=(-45.0, 45.0))
    assert labelled.extras["channel"].tolist() == [0, OUTSIDE, 1, OUTSIDE]
    assert labelled.metadata["channels"]["barrier_phi_deg"] == [-45.0, 45.0]


def test_join_stacks_rows_renumbers_windows_and_fills_missing_extras():
    first = _with_psi(np.array([-100.0, -90.0, -80.0]), seed=1)
    second = with_channels(_with_psi(np.array([120.0, 130.0, 140.0, 150.0]), seed=2), CHANNELS)
    joined = join([first, second], ["shipped", "channels"])
    assert len(joined) == 7
    np.testing.assert_array_equal(joined.features, np.concatenate([first.features, second.features]))
    np.testing.assert_array_equal(joined.n_b, np.concatenate([first.n_b, second.n_b]))
    assert joined.extras["part"].tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert joined.extras["window"].tolist() == [0, 1, 0, 2, 3, 2, 3]
    assert np.isnan(joined.extras["channel"][:3]).all() and joined.extras["channel"][3:].tolist() == [1] * 4
    assert set(joined.metadata["provenance"]["parts"]) == {"shipped", "channels"}
    wide = _with_psi(np.array([0.0, 1.0, 2.0]), seed=4)
    wide.extras["shot_outcome"] = np.zeros((3, 60))
    first.extras["shot_outcome"] = np.zeros((3, 20))
    with pytest.raises(DataError, match="extras.shot_outcome"):
        join([first, wide], ["a", "b"])
    other = make_synthetic(n_points=5, n_decoys=2, seed=3)
    with pytest.raises(DataError, match="feature_names"):
        join([first, other], ["a", "b"])
