"""Transfer across crossing channels: does a committor model trained on one channel describe another?

Each channel's points are split once (stratified over p_B, :func:`committor_keras.data.split_indices`) into a
training part (train + validation) and a test part. A model is fitted on each channel's training part alone
and on all training parts together, and every model is scored on every channel's test part, so the rows
of one test channel compare models on the very same points.
"""

import numpy as np

from committor_keras._errors import DataError


def shot_kl_per_shot(n_a, n_b, q, eps=1e-12):
    """``KL(p_B || q)`` averaged over shots (nats per shot), with ``q`` clipped to ``[eps, 1 - eps]``.

    The numpy twin of :func:`committor_keras.model.kl_per_shot` (which takes logits in TensorFlow):
    ``sum_i [n_a,i log((n_a,i / n_i) / (1 - q_i)) + n_b,i log((n_b,i / n_i) / q_i)] / sum_i n_i``.
    """
    from scipy.special import xlogy

    n_a, n_b = np.asarray(n_a, float), np.asarray(n_b, float)
    q = np.clip(np.asarray(q, float), eps, 1 - eps)
    n = n_a + n_b
    safe = np.where(n > 0, n, 1.0)
    terms = xlogy(n_a, n_a / safe) + xlogy(n_b, n_b / safe) - n_a * np.log1p(-q) - n_b * np.log(q)
    return float(terms.sum() / n.sum())


def channel_names(data, key):
    """``{code: name}`` of the channels present in ``data.extras[key]`` (negative and NaN codes are none)."""
    if key not in data.extras:
        raise DataError(data.source, f"extras.{key}", f"not in the data set (extras: {sorted(data.extras)}); "
                        "label channels first, e.g. committor_keras.md.with_channels")
    values = np.asarray(data.extras[key], float)
    codes = sorted({int(v) for v in values[np.isfinite(values)] if v >= 0})
    named = data.metadata.get("channels", {}).get("codes", {}) if key == "channel" else {}
    return {code: named.get(str(code), {}).get("name", str(code)) for code in codes}


def channel_transfer(data, key, fit, seed=0, fractions=(0.8, 0.1, 0.1)):
    """Train on one channel, test on each; train on all, test on each: test KL per shot per channel.

    Args:
        data: a :class:`~committor_keras.data.CommittorData` whose ``extras[key]`` holds integer channel codes
            (points with a negative or NaN code belong to no channel and are left out).
        key: the extras name of the channel codes (``"channel"`` in the water channel sets).
        fit: ``fit(train_data) -> predict``, where ``predict(features)`` returns the committor ``q`` of
            each row of a (N, F) feature array. It gets the training part (train + validation of the split)
            and may split it again itself, e.g. for early stopping.
        seed: the split's seed.
        fractions: train / validation / test fractions within each channel.

    Returns:
        pandas.DataFrame with one row per (train, test) pair: ``train`` (a channel name or ``"all"``),
        ``test`` (a channel name), ``n_train``, ``n_test``, ``shots_test``, ``kl_per_shot`` (test KL, nats
        per shot) and ``rmse`` (of q against p_B on the test points).

    Raises:
        DataError: when the key is missing, fewer than two channels are present, or a channel is too small
            to split.
    """
    import pandas as pd

    from committor_keras.data import split_indices

    names = channel_names(data, key)
    if len(names) < 2:
        raise DataError(data.source, f"extras.{key}", f"{len(names)} channel(s) present; transfer needs two")
    codes = np.asarray(data.extras[key], float)
    train_parts, test_parts = {}, {}
    for code, name in names.items():
        members = np.flatnonzero(codes == code)
        split = split_indices(data.subset(members), seed, fractions)
        train_parts[name] = members[np.concatenate([split.train, split.validation])]
        test_parts[name] = members[split.test]
    train_parts["all"] = np.sort(np.concatenate(list(train_parts.values())))
    rows = []
    for train_name, train_index in train_parts.items():
        predict = fit(data.subset(train_index))
        for test_name, test_index in test_parts.items():
            q = np.asarray(predict(data.features[test_index]), float).reshape(-1)
            n_a, n_b = data.n_a[test_index], data.n_b[test_index]
            p_b = n_b / np.maximum(n_a + n_b, 1)
            rows.append({"train": train_name, "test": test_name, "n_train": len(train_index),
                         "n_test": len(test_index), "shots_test": int(round((n_a + n_b).sum())),
                         "kl_per_shot": shot_kl_per_shot(n_a, n_b, q),
                         "rmse": float(np.sqrt(np.mean((q - p_b) ** 2)))})
    return pd.DataFrame(rows)


def keras_fit(hparams=None, epochs=200, patience=20, seed=0):
    """A ``fit`` for :func:`channel_transfer` that trains the package's committor network.

    The training part is split again (stratified, 90 % / 10 %) for early stopping on the validation KL per
    shot; the network is :func:`committor_keras.model.build_model` with ``hparams`` (e.g. a model card's
    ``hyperparameters``; defaults fill gaps) trained by :func:`committor_keras.model.fit_model`.

    Returns:
        ``fit(train_data) -> predict``, ``predict(features) -> q``.
    """
    def fit(train):
        from committor_keras.data import labels, split_indices
        from committor_keras.model import build_model, fit_model

        inner = split_indices(train, seed, (0.85, 0.1, 0.05))
        fit_index = np.concatenate([inner.train, inner.test])  # only the validation part is held out
        x, y = train.features.astype(np.float32), labels(train)
        model = build_model(hparams or {}, x[fit_index], seed=seed)
        fit_model(model, hparams or {}, (x[fit_index], y[fit_index], None),
                  (x[inner.validation], y[inner.validation], None), epochs=epochs, patience=patience, seed=seed)

        def predict(features):
            logit = model.predict(np.asarray(features, np.float32), verbose=0).reshape(-1)
            return 1.0 / (1.0 + np.exp(-logit))

        return predict

    return fit

