"""Hyperparameter search: the search configuration, seeded resumable Bayesian searches, the trial table.

The names below load on first use, so that `committor-keras tune --help` (which imports this package to
reach its `_cli`) does not pay for importing TensorFlow.
"""

import importlib

_EXPORTS = {
    "CommittorTuner": "_tuner", "run_search": "_tuner",
    "SearchConfig": "_config", "SearchSettings": "_config", "load_config": "_config",
    "collect_trials": "_trials", "read_trials": "_trials", "trial_hparams": "_trials",
    "write_trial_table": "_trials",
    "TuneResult": "_tune", "tune": "_tune",
}
_FROM_MODEL = {"SearchSpace"}

__all__ = sorted([*_EXPORTS, *_FROM_MODEL])


def __getattr__(name):
    if name in _FROM_MODEL:
        return getattr(importlib.import_module("committor_keras.model"), name)
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
