"""Transfer across channels (committor_keras.validate._transfer) on a synthetic set with two channels."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from committor_keras._errors import DataError
from committor_keras.data import CommittorData
from committor_keras.validate._transfer import channel_transfer, keras_fit, shot_kl_per_shot


def _two_channels(n=600, shots=20, seed=0):
    # channel 0 commits along x1, channel 1 along x2: a model of one channel is wrong on the other
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    channel = np.arange(n) % 2
    q = expit(3.0 * np.where(channel == 0, x[:, 0], x[:, 1]))
    n_b = rng.binomial(shots, q).astype(float)
    metadata = {"channels": {"codes": {"0": {"name": "one"}, "1": {"name": "two"}}}}
    return CommittorData(x, ["x1", "x2"], n_a=shots - n_b, n_b=n_b, extras={"channel": channel}, metadata=metadata)


def _logistic_fit(seen, scored=None):
    def fit(train):
        seen.append(train.features.copy())

        def loss(w):
            z = train.features @ w[:2] + w[2]
            return float(np.sum(train.n_a * np.logaddexp(0, z) + train.n_b * np.logaddexp(0, -z)))

        w = minimize(loss, np.zeros(3)).x

        def predict(features):
            if scored is not None:
                scored.append(features.copy())
            return expit(features @ w[:2] + w[2])

        return predict

    return fit


def test_kl_per_shot_is_zero_at_p_b_and_positive_elsewhere():
    n_a, n_b = np.array([3.0, 10.0, 0.0]), np.array([7.0, 10.0, 5.0])
    assert shot_kl_per_shot(n_a, n_b, n_b / (n_a + n_b)) == pytest.approx(0.0, abs=1e-9)
    assert shot_kl_per_shot(n_a, n_b, [0.5, 0.5, 0.5]) > 0.05


def test_a_model_transfers_within_its_channel_but_not_across():
    data = _two_channels()
    seen, scored = [], []
    table = channel_transfer(data, "channel", _logistic_fit(seen, scored), seed=3)
    assert len(table) == 3 * 2 and set(table["train"]) == {"one", "two", "all"}
    kl = table.set_index(["train", "test"])["kl_per_shot"]
    assert kl["one", "one"] < kl["two", "one"] and kl["two", "two"] < kl["one", "two"]
    assert kl["one", "one"] < 0.1 < kl["two", "one"]
    # every row of one test channel scores the same points, none of which any model saw in training
    assert table.groupby("test")["n_test"].nunique().eq(1).all()
    tested = {tuple(r) for block in scored for r in block}
    trained = {tuple(r) for block in seen for r in block}
    assert not tested & trained and len(tested | trained) == len(data)


def test_needs_two_channels():
    data = _two_channels()
    with pytest.raises(DataError, match="channel"):
        channel_transfer(data.subset(data.extras["channel"] == 0), "channel", _logistic_fit([]))
    with pytest.raises(DataError, match="extras.lane"):
        channel_transfer(data, "lane", _logistic_fit([]))


@pytest.mark.slow  # four Keras fits: ~15 s on idle cores, over a minute on loaded ones
def test_keras_fit_trains_the_package_network_per_channel():
    pytest.importorskip("tensorflow")
    data = _two_channels(n=400)
    table = channel_transfer(data, "channel", keras_fit({"hidden_layers": 1, "units_0": 8}, epochs=20,
                                                        patience=5), seed=1)
    kl = table.set_index(["train", "test"])["kl_per_shot"]
    assert np.isfinite(kl).all() and kl["one", "one"] < kl["two", "one"]
