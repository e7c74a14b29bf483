"""Study configuration: a search configuration (``[search]``, ``[space]``) plus the ``[study]`` table.

Validated without TensorFlow, so a bad file is reported at once by ``committor-keras study``.
"""

import dataclasses
from pathlib import Path

from committor_keras._errors import ConfigError
from committor_keras.model._space import MEMORY, read_toml

_METHODS = ("ig", "permutation")


@dataclasses.dataclass(frozen=True)
class StudySettings:
    """What a study does after its searches (the ``[study]`` table; see ``configs/study.toml``).

    Attributes:
        candidates: distinct hyperparameter sets (best trials of all searches) retrained with repeats.
        repeats: retrainings per candidate, each with its own derived seed.
        final: candidates (best by mean validation KL over repeats) evaluated by k-fold cross-validation
            and explained.
        folds: folds of the cross-validation.
        ensemble: members of the ensemble (the best ``ensemble`` final candidates; mean logit); 1 or less
            for none.
        group_folds_by: ``extras`` key whose values keep points together in one fold (e.g. ``"channel"``);
            empty for plain stratified folds.
        explain_methods: explanation methods for the final candidates (``"ig"``, ``"permutation"``).
        explain_steps: integrated-gradients quadrature nodes.
        permutation_repeats: permutation-importance repeats.
        explain_points: test points explained (a seeded draw; 0 for all).
        calibration_bins: bins of the reliability diagram.
        ablations: feature groups (or features) whose contribution is measured: the best final candidate and
            the all-feature logistic baseline are cross-validated without each, and the paired per-fold
            difference is reported (e.g. ``["ESP(H18)"]`` on the water set).
    """

    candidates: int = 6
    repeats: int = 3
    final: int = 4
    folds: int = 5
    ensemble: int = 3
    group_folds_by: str = ""
    explain_methods: tuple = _METHODS
    explain_steps: int = 32
    permutation_repeats: int = 5
    explain_points: int = 0
    calibration_bins: int = 10
    ablations: tuple = ()

    def to_dict(self):
        """The settings as a JSON-serialisable dict."""
        settings = dataclasses.asdict(self)
        settings["explain_methods"] = list(self.explain_methods)
        settings["ablations"] = list(self.ablations)
        return settings


_POSITIVE = ("candidates", "repeats", "final", "folds", "explain_steps", "permutation_repeats",
             "calibration_bins", "ensemble")


def _study_settings(table, source):
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: key 'study': must be a table of settings")
    names = [field.name for field in dataclasses.fields(StudySettings)]
    unknown = sorted(set(table) - set(names))
    if unknown:
        raise ConfigError(f"{source}: key 'study.{unknown[0]}': unknown setting; use one of {', '.join(names)}")
    table = dict(table)
    for name in (*_POSITIVE, "explain_points"):
        value = table.get(name, 1)
        least = 0 if name == "explain_points" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{source}: key 'study.{name}': {value!r} is not valid; give an integer >= {least}")
    if table.get("folds", 2) < 2:
        raise ConfigError(f"{source}: key 'study.folds': {table['folds']} is not valid; give an integer >= 2")
    candidates = table.get("candidates", StudySettings.candidates)
    final = table.get("final", min(StudySettings.final, candidates))
    if final > candidates:
        raise ConfigError(f"{source}: key 'study.final': {final} final candidates but only {candidates} "
                          "candidates; lower study.final or raise study.candidates")
    table["final"] = final
    if table.get("ensemble", min(StudySettings.ensemble, final)) > final:
        raise ConfigError(f"{source}: key 'study.ensemble': {table['ensemble']} members but only {final} final "
                          "candidates; lower study.ensemble or raise study.final")
    table.setdefault("ensemble", min(StudySettings.ensemble, final))
    if "group_folds_by" in table and not isinstance(table["group_folds_by"], str):
        raise ConfigError(f"{source}: key 'study.group_folds_by': give the name of an extras array (a string)")
    if "explain_methods" in table:
        methods = table["explain_methods"]
        if not isinstance(methods, list) or not set(methods) <= set(_METHODS) or len(set(methods)) != len(methods):
            raise ConfigError(f"{source}: key 'study.explain_methods': {methods!r} is not valid; give a list of "
                              f"distinct methods from {', '.join(_METHODS)} (or [] for none)")
        table["explain_methods"] = tuple(methods)
    if "ablations" in table:
        names = table["ablations"]
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names) \
                or len(set(names)) != len(names):
            raise ConfigError(f"{source}: key 'study.ablations': {names!r} is not valid; give a list of distinct "
                              "feature group or feature names (or [] for none)")
        table["ablations"] = tuple(names)
    return StudySettings(**table)


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """A whole study configuration.

    Attributes:
        search: the SearchConfig (``[search]`` and ``[space]``); ``search.top_k`` is unused by a study.
        study: the StudySettings (``[study]``).
        source: the TOML file it came from, or ``"<memory>"``.
    """

    search: object
    study: StudySettings = dataclasses.field(default_factory=StudySettings)
    source: str = MEMORY

    @classmethod
    def from_dict(cls, mapping, source=MEMORY):
        """Validate a ``{"search": ..., "space": ..., "study": ...}`` mapping (every table optional)."""
        from committor_keras.search._config import SearchConfig

        mapping = dict(mapping)
        study = _study_settings(mapping.pop("study", {}), source)
        return cls(search=SearchConfig.from_dict(mapping, source=source), study=study, source=str(source))

    @classmethod
    def from_toml(cls, path):
        """Read and validate a study TOML file (see ``configs/study.toml``).

        Raises:
            ConfigError: naming the file, the key and the fix.
        """
        return cls.from_dict(read_toml(path), source=Path(path))

    def to_dict(self):
        """The configuration as a JSON-serialisable dict (written into run.json)."""
        return {**self.search.to_dict(), "study": self.study.to_dict()}


def load_study_config(config=None):
    """A StudyConfig from a TOML path, a StudyConfig, a mapping, or None (the defaults of every table)."""
    if isinstance(config, StudyConfig):
        return config
    if config is None:
        return StudyConfig.from_dict({})
    if isinstance(config, dict):
        return StudyConfig.from_dict(config)
    return StudyConfig.from_toml(config)
