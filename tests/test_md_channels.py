"""Channel labels from psi and joining data sets (committor_keras.md._channels): no MD needed."""

import numpy as np
import pytest

from committor_keras._errors import DataError
from committor_keras.data import make_synthetic
from committor_keras.md._channels import OUTSIDE, join, label_channels, torsion_from_features, with_channels

CHANNELS = (("alphaR", -150.0, -30.0), ("beta", 90.0, -150.0))


def _with_psi(psi_deg, seed=0):
    data = make_synthetic(n_points=len(psi_deg), n_decoys=1, seed=seed, angle_weight=1.0)
    columns = list(data.feature_names)
    data.features[:, columns.index("sin(angle)")] = np.sin(np.radians(psi_deg))
    data.features[:, columns.index("cos(angle)")] = np.cos(np.radians(psi_deg))
    data.metadata["feature_aliases"] = {"angle": "psi"}
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
    with pytest.raises(DataError, match="theta"):
        torsion_from_features(data, "theta")


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
    other = make_synthetic(n_points=5, n_decoys=2, seed=3)
    with pytest.raises(DataError, match="feature_names"):
        join([first, other], ["a", "b"])
