"""Search configuration: the ``[search]`` settings and the ``[space]`` of a TOML file, validated together."""

import dataclasses
from pathlib import Path

from committor_keras._errors import ConfigError
from committor_keras.model._space import LOSS_NAMES, MEMORY, SearchSpace, read_toml

_TABLES = ("search", "space")


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """How the searches run (the ``[search]`` table).

    Attributes:
        max_trials: trials per search (a resumed search counts the trials it already ran).
        searches: independent Bayesian searches, with seeds ``seed, seed + 1, ...`` unless ``seeds`` is set.
        seeds: explicit search seeds (then ``searches`` must be absent or equal to their number).
        initial_points: random trials before the Gaussian process guides a search.
        epochs: maximum epochs per trial.
        patience: early-stopping patience (epochs) on ``val_kl_per_shot``.
        top_k: models retrained and exported after the searches.
        loss: ``"shot_cross_entropy"`` or ``"binomial_nll"``.
        max_consecutive_failures: a search stops with an error after this many failed trials in a row.
    """

    max_trials: int = 30
    searches: int = 3
    seeds: tuple = None
    initial_points: int = 10
    epochs: int = 200
    patience: int = 20
    top_k: int = 5
    loss: str = "shot_cross_entropy"
    max_consecutive_failures: int = 3

    def search_seeds(self, seed=0):
        """The seeds of the searches: ``seeds`` if given, else ``seed, seed + 1, ...``."""
        if self.seeds is not None:
            return list(self.seeds)
        return [seed + i for i in range(self.searches)]

    def to_dict(self):
        """The settings as a JSON-serialisable dict."""
        settings = dataclasses.asdict(self)
        settings["seeds"] = None if self.seeds is None else list(self.seeds)
        return settings


_POSITIVE_INTS = ("max_trials", "searches", "initial_points", "epochs", "patience", "top_k",
                  "max_consecutive_failures")


def _settings(table, source):
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: key 'search': must be a table of settings")
    fields = {field.name for field in dataclasses.fields(SearchSettings)}
    unknown = sorted(set(table) - fields)
    if unknown:
        raise ConfigError(f"{source}: key 'search.{unknown[0]}': unknown setting; use one of "
                          f"{', '.join(f.name for f in dataclasses.fields(SearchSettings))}")
    for name in _POSITIVE_INTS:
        value = table.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{source}: key 'search.{name}': {value!r} is not valid; give an integer >= 1")
    if "loss" in table and table["loss"] not in LOSS_NAMES:
        raise ConfigError(f"{source}: key 'search.loss': {table['loss']!r} is not valid; give one of "
                          f"{', '.join(LOSS_NAMES)}")
    table = dict(table)
    if "seeds" in table:
        seeds = table["seeds"]
        if not isinstance(seeds, list) or not seeds or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds) \
                or len(set(seeds)) != len(seeds):
            raise ConfigError(f"{source}: key 'search.seeds': {seeds!r} is not valid; give a non-empty list of "
                              "distinct integers >= 0")
        if table.setdefault("searches", len(seeds)) != len(seeds):
            raise ConfigError(f"{source}: key 'search.searches': {table['searches']} does not match the "
                              f"{len(seeds)} seeds in search.seeds; drop one of the two")
        table["seeds"] = tuple(seeds)
    return SearchSettings(**table)


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """A whole search configuration: the space and the settings.

    Attributes:
        space: the SearchSpace.
        search: the SearchSettings.
        source: the TOML file it came from, or ``"<memory>"``.
    """

    space: SearchSpace = dataclasses.field(default_factory=SearchSpace)
    search: SearchSettings = dataclasses.field(default_factory=SearchSettings)
    source: str = MEMORY

    @classmethod
    def from_dict(cls, mapping, source=MEMORY):
        """Validate a ``{"search": {...}, "space": {...}}`` mapping (both tables optional)."""
        unknown = sorted(set(mapping) - set(_TABLES))
        if unknown:
            raise ConfigError(f"{source}: key '{unknown[0]}': unknown table; use [search] and [space]")
        return cls(space=SearchSpace(mapping.get("space", {}), source=source),
                   search=_settings(mapping.get("search", {}), source), source=str(source))

    @classmethod
    def from_toml(cls, path):
        """Read and validate a search TOML file (see ``configs/default.toml``).

        Raises:
            ConfigError: naming the file, the key and the fix.
        """
        return cls.from_dict(read_toml(path), source=Path(path))

    def with_overrides(self, **settings):
        """A copy with some settings replaced (``None`` values are ignored); ``searches`` drops ``seeds``.

        Raises:
            ConfigError: for invalid values, naming the setting.
        """
        settings = {name: value for name, value in settings.items() if value is not None}
        if not settings:
            return self
        merged = self.search.to_dict()
        if "searches" in settings:
            merged.pop("seeds")
        merged.update(settings)
        if merged.get("seeds") is None:
            merged.pop("seeds", None)
        return dataclasses.replace(self, search=_settings(merged, "command line"))

    def to_dict(self):
        """The configuration as a JSON-serialisable dict (written into run.json)."""
        return {"source": self.source, "search": self.search.to_dict(), "space": self.space.to_dict()}


def load_config(config=None):
    """A SearchConfig from a TOML path, a SearchConfig, a mapping, or None (the defaults)."""
    if config is None:
        return SearchConfig()
    if isinstance(config, SearchConfig):
        return config
    if isinstance(config, dict):
        return SearchConfig.from_dict(config)
    return SearchConfig.from_toml(config)
