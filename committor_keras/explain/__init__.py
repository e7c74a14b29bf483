"""Explaining committor models: integrated gradients, permutation importance on the loss, a SHAP bridge,
Keras callbacks that write reports during training, and a cross-model report over runs.

Names are imported on first use (PEP 562), so importing ``committor_keras.explain._cli`` for the command line's
``--help`` does not load TensorFlow.
"""

from committor_keras._lazy import lazy_exports

_EXPORTS = {
    "Attributions": "._results",
    "ConvergenceWarning": "._ig",
    "ExplainSet": "._inputs",
    "IntegratedGradientsCallback": "._callbacks",
    "PermutationImportance": "._results",
    "PermutationImportanceCallback": "._callbacks",
    "RunReport": "._report",
    "explain_model": "._model_report",
    "explain_run": "._report",
    "explain_set": "._inputs",
    "group_by_central_bond": "._grouping",
    "integrated_gradients": "._ig",
    "permutation_importance": "._permutation",
    "region_tables": "._regions",
    "shap_values": "._shap",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
