"""Search TOML files: the shipped configs, partial overrides, and one-line errors naming file, key and fix."""

from pathlib import Path

import keras_tuner
import pytest

from committor_keras._errors import ConfigError
from committor_keras.search import SearchConfig, SearchSettings, SearchSpace, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _write(tmp_path, text):
    path = tmp_path / "search.toml"
    path.write_text(text)
    return path


def test_default_toml_documents_exactly_the_defaults():
    config = SearchConfig.from_toml(CONFIGS / "default.toml")
    assert config.space == SearchSpace() and config.search == SearchSettings()
    assert SearchSpace.from_toml(CONFIGS / "default.toml") == SearchSpace()


def test_demo_toml_is_valid_and_small():
    config = SearchConfig.from_toml(CONFIGS / "demo.toml")
    assert config.search.max_trials * config.search.searches <= 20 and config.search.top_k <= 5


def test_partial_range_keeps_the_other_default_bound_and_value_shorthand(tmp_path):
    path = _write(tmp_path, "[space]\nunits = 64\n[space.learning_rate]\nmax = 3e-3\n[search]\nseeds = [4, 9]\n")
    config = SearchConfig.from_toml(path)
    spec = config.space.to_dict()
    assert spec["units"] == {"value": 64}
    assert spec["learning_rate"] == {"min": 1e-4, "max": 3e-3, "log": True}
    assert config.search.search_seeds(seed=0) == [4, 9] and config.search.searches == 2
    assert SearchConfig().search.search_seeds(seed=7) == [7, 8, 9]


def test_space_declares_conditional_widths():
    space = SearchSpace({"hidden_layers": {"choices": [1, 3]}, "activation": {"value": "tanh"}})
    hp = keras_tuner.HyperParameters()
    hp.values["hidden_layers"] = 3
    values = space.declare(hp)
    assert set(values) == {"hidden_layers", "units_0", "units_1", "units_2", "activation", "dropout", "l2",
                           "learning_rate", "batch_size"}
    hp = keras_tuner.HyperParameters()
    hp.values["hidden_layers"] = 1
    assert "units_1" not in space.declare(hp)


@pytest.mark.parametrize("text, key, fix", [
    ("[space.units]\nmin = 64\nmax = 8\n", "space.units", "swap"),
    ("[space.l2]\nmin = 0.0\n", "space.l2.min", "log = false"),
    ("[space.learning_rate]\nmin = -1.0\nlog = false\n", "space.learning_rate.min", "> 0"),
    ("[space.activation]\nchoices = [\"relu\", \"gelu\"]\n", "space.activation.choices", "swish"),
    ("[space.activation]\nchoices = []\n", "space.activation.choices", "non-empty"),
    ("[space.dropout]\nchoices = [0.1, 0.1]\n", "space.dropout.choices", "duplicates"),
    ("[space.dropout]\nmax = 1.0\n", "space.dropout.max", "[0, 1)"),
    ("[space.units]\nmin = 8.5\n", "space.units.min", "integer"),
    ("[space.units]\nmin = 8\nvalue = 9\n", "space.units", "one of"),
    ("[space.units]\nstep = 8\n", "space.units.step", "unknown key"),
    ("[space.width]\nmin = 1\n", "space.width", "use one of"),
    ("[space.activation]\nmin = 1\n", "space.activation", "choices or value"),
    ("[search]\nmax_trials = 0\n", "search.max_trials", ">= 1"),
    ("[search]\nloss = \"mse\"\n", "search.loss", "binomial_nll"),
    ("[search]\ntrials = 3\n", "search.trials", "max_trials"),
    ("[search]\nseeds = [1, 1]\n", "search.seeds", "distinct"),
    ("[search]\nseeds = [1, 2]\nsearches = 3\n", "search.searches", "drop one"),
    ("[tuner]\nx = 1\n", "tuner", "[search] and [space]"),
])
def test_invalid_config_names_file_key_and_fix(tmp_path, text, key, fix):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        SearchConfig.from_toml(path)
    message = str(caught.value)
    assert str(path) in message and f"'{key}'" in message and fix in message
    assert "\n" not in message


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        SearchConfig.from_toml(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        SearchConfig.from_toml(_write(tmp_path, "[space\n"))


def test_overrides_replace_settings_and_searches_drops_seeds():
    config = load_config({"search": {"seeds": [5, 6, 7]}})
    assert config.with_overrides(max_trials=4).search.seeds == (5, 6, 7)
    overridden = config.with_overrides(searches=2, top_k=None)
    assert overridden.search.search_seeds(seed=1) == [1, 2] and overridden.search.top_k == 5
    with pytest.raises(ConfigError, match="search.epochs"):
        config.with_overrides(epochs=0)
