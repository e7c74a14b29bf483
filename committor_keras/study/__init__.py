"""Studies: everything after the searches, in one place. ``tune`` (searches, then the top k retrained and
exported) is the smallest study; ``run_study`` adds repeats, cross-validation, an ensemble, baselines,
explanations, validation and a Markdown report.

This is the one stage that calls the later ones (export, explain, validate). Names load on first use, so
``committor-keras --help`` does not import TensorFlow.
"""

from committor_keras._lazy import lazy_exports

_EXPORTS = {
    "TuneResult": "._tune", "tune": "._tune", "format_summary": "._tune",
    "retrain_top_k": "._retrain", "retrain_seed": "._retrain", "train_candidate": "._retrain",
    "StudyConfig": "._config", "StudySettings": "._config", "load_study_config": "._config",
    "run_study": "._study", "StudyResult": "._study",
    "export_ensemble": "._ensemble", "ensemble_model": "._ensemble",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
