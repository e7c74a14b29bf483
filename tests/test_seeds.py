"""One seed-derivation function: MD seeds unchanged, searches independent."""

import json
from pathlib import Path

import numpy as np
import pytest

from committor_keras._provenance import derive_seed

# derive_seed outputs of the MD code before it moved to _provenance: shipped shot records resume from these.
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.toml"
MD_SEEDS = {(0, 2, 0, 0): 1975636356, (7, 2, 3, 4): 1625891133, (7, 2, 3, 4, 1): 191073668, (42, 1, 5): 492193493,
            (2**31, 2, 1044, 59, 1): 1063873408}


def test_md_seeds_are_unchanged():
    from committor_keras.md import derive_seed as md_derive_seed

    assert md_derive_seed is derive_seed
    assert {keys: derive_seed(*keys) for keys in MD_SEEDS} == MD_SEEDS


def test_derived_seeds_are_fixed_distinct_in_range_and_accept_text_keys():
    seeds = [derive_seed(0, purpose, i) for purpose in ("oracle", "trial", "retrain") for i in range(200)]
    assert len(set(seeds)) == len(seeds)
    assert all(1 <= s < 2**31 - 1 for s in seeds)
    assert derive_seed(3, "oracle") == derive_seed(3, "oracle") != derive_seed(4, "oracle")
    assert derive_seed(3, "a", "b") != derive_seed(3, "ab")
    with pytest.raises(ValueError):
        derive_seed(-1)


def _random_proposals(tmp_path, seeds, oracle_seed=None):
    """Hyperparameter sets (active values) the oracles of these searches propose in 10 random trials each."""
    pytest.importorskip("tensorflow")
    from committor_keras.search import load_config, make_tuner

    # The demo space (up to 3 layers): its trials draw few, varying numbers of values, so the seed states of
    # consecutive oracles soon coincide at a trial's start and the searches then propose the same sets.
    config = load_config(CONFIG).with_overrides(max_trials=10, initial_points=10)
    features = np.random.default_rng(0).normal(size=(64, 4))
    proposals = {}
    for seed in seeds:
        tuner = make_tuner(features, tmp_path, seed, config)
        if oracle_seed is not None:  # what the searches did before hashed seeds
            tuner.oracle.seed = tuner.oracle._seed_state = oracle_seed(seed)
        proposals[seed] = []
        for number in range(10):
            trial = tuner.oracle.create_trial(f"tuner-{seed}")
            active = tuner.hypermodel.active_values(trial.hyperparameters)
            proposals[seed].append(json.dumps(active, sort_keys=True))
            tuner.oracle.update_trial(trial.trial_id, {"val_kl_per_shot": float(number)})
            tuner.oracle.end_trial(trial)
    return proposals


def test_three_searches_of_ten_random_trials_share_no_hyperparameter_set(tmp_path):
    proposals = _random_proposals(tmp_path / "hashed", [0, 1, 2])
    every = [values for search in proposals.values() for values in search]
    assert len(set(every)) == len(every) == 30
    # The trap: Keras Tuner adds 1 to its seed per draw, so with its own seed stream consecutive oracle seeds
    # (search seed + 1, as before) propose the same sets one draw apart. Besides the hashed oracle seeds, the
    # oracle draws trial n's values from a SeedSequence of (oracle seed, n) (exact resume), so even
    # consecutive oracle seeds share no set.
    before = _random_proposals(tmp_path / "consecutive", [0, 1, 2], oracle_seed=lambda seed: seed + 1)
    shared = sum(len(set(before[a]) & set(before[b])) for a, b in ((0, 1), (1, 2), (0, 2)))
    assert shared == 0
