"""committor-keras: learn the committor of a molecular transition with Keras, tune it, explain it, serve it.

The public API, re-exported from the sub-packages (Kawashima et al., arXiv:2408.02132, for the science):

- data: ``CommittorData``, ``load``, ``load_features``, ``split_indices``, ``make_synthetic``
- model: ``build_model``, ``fit_model``, ``CommittorHyperModel``, the losses ``ShotCrossEntropy`` and
  ``BinomialNLL`` and their pure functions ``shot_cross_entropy`` and ``binomial_nll``
- search: ``load_config``; study: ``tune``, ``run_study``
- export: ``export_model``, ``load_committor_model``, ``serve_check``
- explain: ``integrated_gradients``, ``permutation_importance``, ``explain_model``, ``explain_run``,
  ``IntegratedGradientsCallback``, ``PermutationImportanceCallback``
- errors: ``CommittorKerasError``, ``DataError``, ``ConfigError``

Names load on first use, so importing the package (and ``committor-keras --help``) does not import TensorFlow.
"""

from committor_keras._errors import CommittorKerasError, ConfigError, DataError
from committor_keras._lazy import lazy_exports

_EXPORTS = {
    "CommittorData": ".data", "load": ".data", "load_features": ".data", "split_indices": ".data",
    "make_synthetic": ".data",
    "build_model": ".model", "fit_model": ".model", "CommittorHyperModel": ".model", "ShotCrossEntropy": ".model",
    "BinomialNLL": ".model", "shot_cross_entropy": ".model", "binomial_nll": ".model",
    "tune": ".study", "run_study": ".study", "load_config": ".search",
    "export_model": ".export", "load_committor_model": ".export", "serve_check": ".export",
    "integrated_gradients": ".explain", "permutation_importance": ".explain", "explain_model": ".explain",
    "explain_run": ".explain", "IntegratedGradientsCallback": ".explain",
    "PermutationImportanceCallback": ".explain",
}

__all__ = sorted([*_EXPORTS, "CommittorKerasError", "ConfigError", "DataError"])


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
