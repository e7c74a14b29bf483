"""TensorBoard HParams logs of a run with two searches, read back with TensorBoard's own readers.

Slow (two searches of three trials: ~1-3 min on 2 busy cores); `make test-slow` runs it."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer  # noqa: E402
from tensorboard.plugins.hparams import metadata  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

from committor_keras.data import labels, make_synthetic, split_indices  # noqa: E402
from committor_keras.search import load_config, run_search, trial_hparams, write_trial_table  # noqa: E402
from committor_keras.search._tensorboard import OBJECTIVE_TAG  # noqa: E402

SPACE = {"hidden_layers": {"min": 1, "max": 2}, "units": {"min": 4, "max": 16},
         "batch_size": {"min": 64, "max": 512, "log": True}, "activation": {"choices": ["tanh", "elu"]}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("hparams")
    data = make_synthetic(n_points=300, n_relevant=2, n_decoys=1, shots_per_point=5, seed=1)
    split = split_indices(data, seed=0)
    y = labels(data)
    train, validation = ((data.features[i], y[i], None) for i in (split.train, split.validation))
    config = load_config({"search": {"epochs": 3, "patience": 2, "initial_points": 2, "max_trials": 3},
                          "space": SPACE})
    for seed in (0, 1):
        run_search(train, validation, run_dir, seed=seed, config=config, verbose=0)
    trials = write_trial_table(run_dir, [0, 1])
    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(run_dir / "logs"))
    multiplexer.Reload()
    return trials, multiplexer


def _hparams_content(multiplexer):
    return multiplexer.PluginRunToTagToContent(metadata.PLUGIN_NAME)


@pytest.mark.slow
def test_one_session_per_trial_with_its_hyperparameters_and_objective(run):
    trials, multiplexer = run
    sessions = {}
    for run_name, tags in _hparams_content(multiplexer).items():
        if metadata.SESSION_START_INFO_TAG in tags:
            info = metadata.parse_session_start_info_plugin_data(tags[metadata.SESSION_START_INFO_TAG])
            assert info.group_name not in sessions, f"session {info.group_name} logged twice"
            sessions[info.group_name] = (run_name, info)
    expected = {f"search-{row.search_seed}/trial-{row.trial_id}": row for row in trials.itertuples()}
    assert len(trials) == 6 and set(sessions) == set(expected)
    for group, (run_name, info) in sessions.items():
        row = trials.iloc[list(expected).index(group)]
        logged = {name: _value(value) for name, value in info.hparams.items()}
        assert logged == pytest.approx(trial_hparams(row)), (logged, trial_hparams(row))
        events = multiplexer.Tensors(run_name, OBJECTIVE_TAG)
        objective = float(tensor_util.make_ndarray(events[-1].tensor_proto))
        assert objective == pytest.approx(row["val_kl_per_shot"], rel=1e-6)
        assert events[-1].step + 1 == row["epochs"]


@pytest.mark.slow
def test_experiment_domains_come_from_the_search_space(run):
    _, multiplexer = run
    experiments = [metadata.parse_experiment_plugin_data(tags[metadata.EXPERIMENT_TAG])
                   for tags in _hparams_content(multiplexer).values() if metadata.EXPERIMENT_TAG in tags]
    assert len(experiments) == 1
    infos = {info.name: info for info in experiments[0].hparam_infos}
    assert {"hidden_layers", "units_0", "units_1", "activation", "batch_size", "learning_rate", "loss"} <= set(infos)
    batch = infos["batch_size"].domain_interval
    assert (batch.min_value, batch.max_value) == (64, 512)
    assert sorted(v.string_value for v in infos["activation"].domain_discrete.values) == ["elu", "tanh"]
    assert [m.name.tag for m in experiments[0].metric_infos] == [OBJECTIVE_TAG]


def _value(value):
    kind = value.WhichOneof("kind")
    number = getattr(value, kind)
    return int(number) if kind == "number_value" and float(number).is_integer() else number
