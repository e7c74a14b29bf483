"""Validating committor models: calibration, parity with binomial intervals, Brier score, q histograms, the
noise floor, logistic-regression baselines on the same split and loss, and the figures that show them.

Pure functions return DataFrames or dicts; the figure functions return matplotlib Figures
(``save_figure`` writes them). Names load on first use, so importing the package stays light.
"""

from committor_keras._lazy import lazy_exports

_EXPORTS = {
    "LogisticCommittor": "._baselines",
    "channel_transfer": "._transfer",
    "committor_test": "._committor_test",
    "committor_test_summary": "._committor_test",
    "keras_fit": "._transfer",
    "baseline_table": "._baselines",
    "default_baseline_subsets": "._baselines",
    "brier_score": "._scores",
    "noise_floor": "._scores",
    "scores": "._scores",
    "calibration_table": "._calibration",
    "evaluate": "._evaluate",
    "scalar_metrics": "._evaluate",
    "clopper_pearson": "._calibration",
    "parity_table": "._calibration",
    "q_histogram": "._calibration",
    "validate_predictions": "._report",
    "write_validation": "._report",
    "validate_model": "._report",
    "describe_scores": "._report",
    "plot_importance_heatmap": "committor_keras.explain._figures",
    "plot_landscape": "._figures",
    "plot_parity": "._figures",
    "plot_q_histogram": "._figures",
    "plot_reliability": "._figures",
    "plot_training_curves": "._figures",
    "save_figure": "committor_keras.explain._figures",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
