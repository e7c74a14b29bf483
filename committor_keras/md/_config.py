"""The parameters of one committor calculation, kept in ``WORKDIR/md.json``.

Every stage (build, sample, shoot, make-dataset) reads the same file, so a work directory carries the
exact recipe that produced it and a later session resumes with the parameters it started with.
"""

import dataclasses
import json
from pathlib import Path

from committor_keras._errors import ConfigError
from committor_keras._provenance import write_json_atomic
from committor_keras.md._states import VACUUM_STATES, WATER_STATES, States

CONFIG_NAME = "md.json"


@dataclasses.dataclass(frozen=True)
class Window:
    """One sampling window: MD restrained to ``phi0`` (or free when ``k == 0``), optionally also to ``psi0``.

    Args:
        phi0: restraint centre in degrees; the system is pulled there before sampling.
        k: harmonic force constant in kJ/mol/rad^2 while sampling; 0 samples the basin freely.
        n: configurations saved from this window.
        psi0: psi restraint centre in degrees, or None for no psi restraint (psi free, as in the presets);
            psi is pulled there together with phi.
        k_psi: psi force constant in kJ/mol/rad^2 while sampling (with ``psi0`` only).
    """

    phi0: float
    k: float
    n: int
    psi0: float | None = None
    k_psi: float = 0.0

    def __post_init__(self):
        if self.psi0 is None and self.k_psi:
            raise ConfigError(f"md.json: window at phi0={self.phi0}: 'k_psi' needs 'psi0'; set psi0 or drop k_psi")
        if self.n < 1 or self.k < 0 or self.k_psi < 0:
            raise ConfigError(f"md.json: window at phi0={self.phi0}: 'n' must be >= 1 and 'k', 'k_psi' >= 0")

    def to_dict(self):
        """JSON form; a window without a psi restraint is written as before psi restraints existed."""
        obj = dataclasses.asdict(self)
        if self.psi0 is None:
            del obj["psi0"], obj["k_psi"]
        return obj

    @classmethod
    def from_dict(cls, obj, source="<memory>"):
        """The inverse of :meth:`to_dict`; unknown fields are an error."""
        unknown = sorted(set(obj) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"{source}: window field(s) {unknown} unknown; use phi0, k, n, psi0, k_psi")
        return cls(**obj)


_POSITIVE_INTS = ("n_shots", "check_every", "max_steps", "stride_steps")
_POSITIVE_FLOATS = ("temperature_K", "timestep_ps")


@dataclasses.dataclass(frozen=True)
class MDConfig:
    """Everything that defines the system, the sampling and the shooting (see ``docs/md.md``)."""

    system: str
    solvent: str
    seed: int
    states: States
    windows: tuple
    forcefield: tuple = ("amber14-all.xml", "amber14/tip3p.xml")
    temperature_K: float = 300.0
    friction_per_ps: float = 1.0
    timestep_ps: float = 0.002
    constraints: str = "HBonds"
    cutoff_nm: float = 1.0
    padding_nm: float = 1.4
    box_shape: str = "octahedron"
    pressure_bar: float = 1.0
    nvt_equilibration_ps: float = 10.0
    npt_equilibration_ps: float = 100.0
    platform: str = "Reference"
    pull_ps: float = 5.0
    pull_k: float = 2000.0
    window_equilibration_ps: float = 5.0
    stride_steps: int = 250
    n_shots: int = 20
    topup_shots: int = 0
    topup_range: tuple = (0.1, 0.9)
    check_every: int = 10
    max_steps: int = 10000

    def __post_init__(self):
        if self.solvent not in ("vacuum", "water"):
            raise ConfigError(f"md.json: field 'solvent' is {self.solvent!r}; use 'vacuum' or 'water'")
        if self.solvent == "water" and self.platform == "Reference":
            raise ConfigError("md.json: field 'platform': use CPU (or CUDA/OpenCL) for a water system")
        for name in _POSITIVE_INTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"md.json: field '{name}' is {value!r}; use an integer >= 1")
        if isinstance(self.topup_shots, bool) or not isinstance(self.topup_shots, int) or self.topup_shots < 0:
            raise ConfigError(f"md.json: field 'topup_shots' is {self.topup_shots!r}; use an integer >= 0 "
                              "(0: no top-up)")
        for name in _POSITIVE_FLOATS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"md.json: field '{name}' is {value!r}; use a number > 0")
        if not 0 < self.seed < 2**31:
            raise ConfigError(f"md.json: field 'seed' is {self.seed}; use an integer in [1, 2**31)")
        if self.topup_shots and self.topup_shots <= self.n_shots:
            raise ConfigError("md.json: field 'topup_shots' must exceed 'n_shots' (or be 0 for no top-up)")
        if self.max_steps % self.check_every:
            raise ConfigError("md.json: field 'max_steps' must be a multiple of 'check_every'")

    @property
    def n_configurations(self):
        """Configurations over all windows."""
        return sum(w.n for w in self.windows)

    def to_dict(self):
        """JSON form written to ``md.json``."""
        obj = dataclasses.asdict(self)
        obj["states"] = self.states.to_dict()
        obj["windows"] = [w.to_dict() for w in self.windows]
        return obj

    @classmethod
    def from_dict(cls, obj, source="<memory>"):
        """The inverse of :meth:`to_dict`; unknown fields are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(obj) - names)
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {unknown}; remove them")
        obj = dict(obj)
        obj["states"] = States.from_dict(obj["states"])
        obj["windows"] = tuple(Window.from_dict(w, source) for w in obj["windows"])
        for field in ("forcefield", "topup_range"):
            if field in obj:
                obj[field] = tuple(obj[field])
        return cls(**obj)

    def replace(self, **changes):
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def vacuum_preset(seed=2024):
    """Alanine dipeptide in vacuum, C7eq -> C7ax: 2,000 configurations x 100 shots."""
    # A pilot (8 configurations per window x 20 shots) found 0.1 < p_B < 0.9 mostly for -12 < phi < 12.
    windows = tuple(Window(float(phi0), 2000.0, 200) for phi0 in range(-12, 13, 3))
    windows += (Window(-80.0, 0.0, 100), Window(65.0, 0.0, 100))
    return MDConfig(
        system="alanine_dipeptide_vacuum", solvent="vacuum", seed=seed, states=VACUUM_STATES,
        windows=windows, forcefield=("amber14-all.xml",), platform="Reference", stride_steps=250,
        n_shots=100, topup_shots=0, max_steps=10000)


def water_preset(seed=2024):
    """Alanine dipeptide in TIP3P water, phi < 0 -> phi > 0: >= 1,000 configurations x 20 (60) shots."""
    # A pilot (36 configurations x 10 shots) put the phi = 0 barrier's transition region at phi ~ +3..+9
    # degrees (all shots from phi0 <= 0 went to A, almost all from phi0 >= 12 to B), hence these windows.
    windows = tuple(Window(float(phi0), 2000.0, 105) for phi0 in range(1, 10))
    windows += (Window(-80.0, 0.0, 50), Window(60.0, 0.0, 50))
    return MDConfig(
        system="alanine_dipeptide_water", solvent="water", seed=seed, states=WATER_STATES,
        windows=windows, platform="CPU", stride_steps=150, n_shots=20, topup_shots=60,
        max_steps=2500)


PRESETS = {"vacuum": vacuum_preset, "water": water_preset}


def save_config(workdir, config):
    """Write ``md.json`` atomically."""
    write_json_atomic(Path(workdir) / CONFIG_NAME, config.to_dict())


def load_config(workdir):
    """Read ``WORKDIR/md.json``.

    Raises:
        ConfigError: when the file is missing or malformed.
    """
    path = Path(workdir) / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(f"{path}: not found; create it with `committor-keras md init {workdir} --preset ...`")
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); restore it from version control") from exc
    return MDConfig.from_dict(obj, source=path)
