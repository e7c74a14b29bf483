"""Hyperparameter search: the search configuration, seeded resumable Bayesian searches, the trial table and
the ranked candidates. Retraining, export and everything after a search live in :mod:`committor_keras.study`.

The names below load on first use, so that importing this package does not pay for importing TensorFlow.
"""

from committor_keras._lazy import lazy_exports

_EXPORTS = {
    "CommittorTuner": "._tuner", "make_tuner": "._tuner", "run_search": "._tuner", "oracle_seed": "._tuner",
    "SearchConfig": "._config", "SearchSettings": "._config", "load_config": "._config",
    "collect_trials": "._trials", "read_trials": "._trials", "trial_hparams": "._trials",
    "write_trial_table": "._trials",
    "SearchRun": "._tune", "prepare_run": "._tune", "run_searches": "._tune",
    "select_top_k": "._rank",
    "SearchSpace": "committor_keras.model",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
