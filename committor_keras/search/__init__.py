"""Hyperparameter search: the search configuration, seeded resumable Bayesian searches, the trial table.

The names below load on first use, so that `committor-keras tune --help` (which imports this package to
reach its `_cli`) does not pay for importing TensorFlow.
"""

from committor_keras._lazy import lazy_exports

_EXPORTS = {
    "CommittorTuner": "._tuner", "run_search": "._tuner",
    "SearchConfig": "._config", "SearchSettings": "._config", "load_config": "._config",
    "collect_trials": "._trials", "read_trials": "._trials", "trial_hparams": "._trials",
    "write_trial_table": "._trials",
    "TuneResult": "._tune", "tune": "._tune", "format_summary": "._tune",
    "retrain_top_k": "._topk", "select_top_k": "._topk",
    "SearchSpace": "committor_keras.model",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
