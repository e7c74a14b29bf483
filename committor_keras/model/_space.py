"""The hyperparameter search space of the committor network, validated, and its Keras Tuner declaration.

Every tunable hyperparameter is a range (``min``, ``max``, optional ``log``), a list of ``choices`` or one
fixed ``value``. A space is read from the ``[space]`` table of a TOML file (see ``configs/default.toml``);
a hyperparameter the file leaves out keeps its default range, and a range that gives only ``min`` or only
``max`` keeps the other default bound.
"""

import copy
import dataclasses
import math
import re
import tomllib
from pathlib import Path

from committor_keras._errors import ConfigError

ACTIVATIONS = ("relu", "elu", "tanh", "swish", "softplus")
LOSS_NAMES = ("shot_cross_entropy", "binomial_nll")
"""The committor losses by name (``committor_keras.model.LOSSES`` maps them to their Keras classes)."""
MEMORY = "<memory>"
# The keys of committor_keras.model._losses.LOSSES, here without TensorFlow so that configurations validate
# (and fail) before it loads.
LOSS_NAMES = ("shot_cross_entropy", "binomial_nll")


@dataclasses.dataclass(frozen=True)
class _Kind:
    """What values a hyperparameter takes: a Python type, a validity test and its wording."""

    type: type
    valid: object
    requirement: str


_INT_AT_LEAST_0 = _Kind(int, lambda v: v >= 0, "an integer >= 0")
_INT_AT_LEAST_1 = _Kind(int, lambda v: v >= 1, "an integer >= 1")
_FRACTION = _Kind(float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")
_NON_NEGATIVE = _Kind(float, lambda v: v >= 0.0, "a number >= 0")
_POSITIVE = _Kind(float, lambda v: v > 0.0, "a number > 0")
_ACTIVATION = _Kind(str, lambda v: v in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}")

# name -> (kind, default specification); the order is the order of the trial table's columns.
_PARAMETERS = {
    "hidden_layers": (_INT_AT_LEAST_0, {"min": 1, "max": 5}),
    "units": (_INT_AT_LEAST_1, {"min": 8, "max": 512, "log": True}),
    "activation": (_ACTIVATION, {"choices": list(ACTIVATIONS)}),
    "dropout": (_FRACTION, {"min": 0.0, "max": 0.5}),
    "l2": (_NON_NEGATIVE, {"min": 1e-7, "max": 1e-2, "log": True}),
    "learning_rate": (_POSITIVE, {"min": 1e-4, "max": 1e-2, "log": True}),
    "batch_size": (_INT_AT_LEAST_1, {"min": 32, "max": 1024, "log": True}),
}
# What build_model/fit_model use for hyperparameters a dict leaves out.
DEFAULT_HPARAMS = {"hidden_layers": 2, "units": 64, "activation": "swish", "dropout": 0.0, "l2": 0.0,
                   "learning_rate": 1e-3, "batch_size": 128, "loss": "shot_cross_entropy"}
_UNITS_KEY = re.compile(r"units_(\d+)$")
_RANGE_KEYS = ("min", "max", "log")
_SPEC_KEYS = (*_RANGE_KEYS, "choices", "value")


def _error(source, key, problem):
    return ConfigError(f"{source}: key '{key}': {problem}")


class SearchSpace:
    """The ranges of the committor network's hyperparameters.

    Hidden layers, units per layer, activation, dropout, L2, learning rate and batch size; the defaults are
    those of ``configs/default.toml``.

    Args:
        spec: mapping hyperparameter -> specification (``{"min", "max", "log"}``, ``{"choices"}`` or
            ``{"value"}``); names left out keep their defaults (see ``configs/default.toml``).
        source: file the specification came from, named in error messages.

    Raises:
        ConfigError: naming the source, the key and the fix, for unknown names or keys, ``min > max``,
            non-positive bounds on a log scale, values of the wrong type or range, or empty choices.
    """

    def __init__(self, spec=None, source=MEMORY):
        self.source = str(source)
        spec = {} if spec is None else spec
        if not isinstance(spec, dict):
            raise _error(self.source, "space", "must be a table of hyperparameters")
        unknown = sorted(set(spec) - set(_PARAMETERS))
        if unknown:
            raise _error(self.source, f"space.{unknown[0]}",
                         f"unknown hyperparameter; use one of {', '.join(_PARAMETERS)}")
        self._spec = {name: _normalise(self.source, name, kind, default, spec.get(name))
                      for name, (kind, default) in _PARAMETERS.items()}

    @classmethod
    def from_toml(cls, path):
        """Read the ``[space]`` table of a TOML file (other tables are left to their readers).

        Raises:
            ConfigError: for a missing or unparsable file or an invalid space.
        """
        return cls(read_toml(path).get("space", {}), source=path)

    def to_dict(self):
        """The full specification, defaults filled in (JSON-serialisable, accepted by the constructor)."""
        return copy.deepcopy(self._spec)

    def __eq__(self, other):
        return isinstance(other, SearchSpace) and self._spec == other._spec

    def __repr__(self):
        return f"SearchSpace({self._spec!r})"

    def layer_counts(self):
        """The numbers of hidden layers the space allows, ascending."""
        spec = self._spec["hidden_layers"]
        if "value" in spec:
            return [spec["value"]]
        if "choices" in spec:
            return sorted(spec["choices"])
        return list(range(spec["min"], spec["max"] + 1))

    def declare(self, hp):
        """Declare the space on a Keras Tuner ``HyperParameters`` and return this trial's values.

        Units of layer ``i`` are called ``units_i`` and are active only for networks with more than ``i``
        hidden layers, so inactive widths neither appear in a trial's values nor count as distinct trials.

        Args:
            hp: ``keras_tuner.HyperParameters``.

        Returns:
            dict of the active values, keyed like :func:`committor_keras.model.build_model` expects.
        """
        values = {"hidden_layers": _declare(hp, "hidden_layers", self._spec["hidden_layers"])}
        counts = self.layer_counts()
        for layer in range(max(counts)):
            condition = {"parent_name": "hidden_layers", "parent_values": [n for n in counts if n > layer]}
            units = _declare(hp, f"units_{layer}", self._spec["units"], **condition)
            if units is not None:
                values[f"units_{layer}"] = units
        for name in hparam_names(0)[1:-1]:
            values[name] = _declare(hp, name, self._spec[name])
        return values


def hparam_names(max_layers):
    """Hyperparameter names in table order: ``hidden_layers``, ``units_0..units_<max_layers - 1>``, the rest."""
    rest = [name for name in _PARAMETERS if name not in ("hidden_layers", "units")]
    return ["hidden_layers", *(f"units_{i}" for i in range(max_layers)), *rest, "loss"]


def is_integer_hparam(name):
    """Whether a hyperparameter (``units_3``, ``batch_size``, ...) takes integer values."""
    base = "units" if _UNITS_KEY.match(name) else name
    return base in _PARAMETERS and _PARAMETERS[base][0].type is int


def resolve_hparams(hparams, source=MEMORY):
    """Validate a hyperparameter dict and fill in defaults: the form build_model and fit_model use.

    Accepts what a trial gives (``hidden_layers``, ``units_0``.., ``activation``, ``dropout``, ``l2``,
    ``learning_rate``, ``batch_size``, ``loss``), NumPy scalars and integral floats (as read back from a
    table) included. Widths of layers beyond ``hidden_layers`` are ignored; missing widths default to
    ``DEFAULT_HPARAMS["units"]``.

    Args:
        hparams: mapping of hyperparameter values.
        source: where they came from, named in error messages.

    Returns:
        dict with exactly the keys above, ``units_i`` for each hidden layer.

    Raises:
        ConfigError: for an unknown key or an invalid value.
    """
    given = dict(hparams)
    scalar = set(DEFAULT_HPARAMS) - {"units"}
    unknown = sorted(k for k in given if k not in scalar and not _UNITS_KEY.match(str(k)))
    if unknown:
        raise _error(source, unknown[0], f"unknown hyperparameter; use {', '.join(sorted(scalar))} or units_<i>")
    resolved = {}
    for name in hparam_names(0)[:-1]:
        resolved[name] = _checked(source, name, _PARAMETERS[name][0],
                                  _plain(given.get(name, DEFAULT_HPARAMS[name])))
    for layer in range(resolved["hidden_layers"]):
        key = f"units_{layer}"
        resolved[key] = _checked(source, key, _PARAMETERS["units"][0], _plain(given.get(key, DEFAULT_HPARAMS["units"])))
    resolved["loss"] = given.get("loss", DEFAULT_HPARAMS["loss"])
    if resolved["loss"] not in LOSS_NAMES:
        raise _error(source, "loss", f"{resolved['loss']!r} is not valid; give one of {', '.join(LOSS_NAMES)}")
    return resolved


def _plain(value):
    """A Python scalar from a NumPy/pandas one; integral floats become ints (tables store ints as floats)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
        return int(value)
    return value


def read_toml(path):
    """Parse a TOML file into a dict, turning a missing or malformed file into a ConfigError."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found; check the --config path") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; give a TOML file such as configs/default.toml") from None
    except (PermissionError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not readable as a TOML text file ({error}); check the --config path") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error}); fix the syntax") from None


def _normalise(source, name, kind, default, given):
    """Merge a user specification onto the default one and validate it."""
    key = f"space.{name}"
    if given is None:
        given = {}
    elif not isinstance(given, dict):
        # `units = 64` is a natural shorthand for a fixed value.
        given = {"value": given}
    unknown = sorted(set(given) - set(_SPEC_KEYS))
    if unknown:
        raise _error(source, f"{key}.{unknown[0]}", "unknown key; use min/max/log, choices or value")
    forms = [form for form, keys in (("range", _RANGE_KEYS), ("choices", ("choices",)), ("value", ("value",)))
             if any(k in given for k in keys)]
    if len(forms) > 1:
        raise _error(source, key, f"give one of a range (min/max/log), choices or value, not {' and '.join(forms)}")
    if "value" in given:
        return {"value": _checked(source, f"{key}.value", kind, given["value"])}
    if "choices" in given:
        choices = given["choices"]
        if not isinstance(choices, list) or not choices:
            raise _error(source, f"{key}.choices", "must be a non-empty list of values")
        checked = [_checked(source, f"{key}.choices", kind, value) for value in choices]
        if len(set(checked)) != len(checked):
            raise _error(source, f"{key}.choices", "lists a value twice; remove duplicates")
        return {"choices": checked}
    if kind.type is str:
        if given:
            raise _error(source, key, "takes choices or value, not a range")
        return copy.deepcopy(default)
    spec = {**{k: v for k, v in default.items() if k in _RANGE_KEYS}, **given}
    spec.setdefault("log", False)
    low = _checked(source, f"{key}.min", kind, spec["min"])
    high = _checked(source, f"{key}.max", kind, spec["max"])
    if not isinstance(spec["log"], bool):
        raise _error(source, f"{key}.log", "must be true or false")
    if low > high:
        raise _error(source, key, f"min ({low}) > max ({high}); swap them or fix one bound")
    if spec["log"] and low <= 0:
        raise _error(source, f"{key}.min", f"is {low} on a log scale; give min > 0 or set log = false")
    return {"min": low, "max": high, "log": spec["log"]}


def _checked(source, key, kind, value):
    """``value`` converted to the kind's type, or a ConfigError saying what the key needs."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _error(source, key, f"{value!r} is not valid; give {kind.requirement}")
    if kind.type is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, kind.type) or (kind.type is float and not math.isfinite(value)) \
            or not kind.valid(value):
        raise _error(source, key, f"{value!r} is not valid; give {kind.requirement}")
    return value


def _declare(hp, name, spec, parent_name=None, parent_values=None):
    """Declare one hyperparameter on ``hp``; returns its value (None when its condition is inactive)."""
    condition = {"parent_name": parent_name, "parent_values": parent_values}
    if "value" in spec or ("min" in spec and spec["min"] == spec["max"]):
        return hp.Fixed(name, spec.get("value", spec.get("min")), **condition)
    if "choices" in spec:
        return hp.Choice(name, spec["choices"], **condition)
    sampling = "log" if spec["log"] else "linear"
    declare = hp.Int if isinstance(spec["min"], int) else hp.Float
    return declare(name, spec["min"], spec["max"], sampling=sampling, **condition)
