"""Molecular dynamics for committor data: OpenMM shooting and MDAnalysis featurisers (the ``md`` extra).

A shot work directory is made and run with::

    from committor_keras import md
    md.init("work", md.water_preset())
    md.run("work", workers=2)              # build -> sample -> shoot; resumable
    md.make_dataset("work", "ala2_water.npz")

OpenMM is imported only when a system is built or shot; the featurisers need MDAnalysis and are loaded on
first use.
"""

from committor_keras._provenance import derive_seed
from committor_keras.md._config import MDConfig, Window, load_config, vacuum_preset, water_preset
from committor_keras.md._dataset import make_dataset
from committor_keras.md._report import write_readme
from committor_keras.md._sampling import load_configurations, sample
from committor_keras.md._shooting import Shooter, ShotTable, read_shots, shoot
from committor_keras.md._states import VACUUM_STATES, WATER_STATES, States, StateBox, phi_psi, torsion_deg
from committor_keras.md._workdir import build, init, run, status

_FEATURES = ("DistanceFeatures", "Features", "SolventPotential", "TorsionFeatures", "featurise",
             "universe_from_openmm")

__all__ = [
    "MDConfig", "Shooter", "ShotTable", "StateBox", "States", "VACUUM_STATES", "WATER_STATES", "Window",
    "build", "derive_seed", "init", "load_config", "load_configurations", "make_dataset", "phi_psi",
    "read_shots", "run", "sample", "shoot", "status", "torsion_deg", "vacuum_preset", "water_preset",
    "write_readme",
    *_FEATURES,
]


def __getattr__(name):
    # The featurisers import MDAnalysis at module level; load them only when asked for.
    if name in _FEATURES:
        from committor_keras.md import _features

        return getattr(_features, name)
    raise AttributeError(f"module 'committor_keras.md' has no attribute {name!r}")
