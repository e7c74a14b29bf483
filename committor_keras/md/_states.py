"""Stable states of alanine dipeptide as boxes in (phi, psi), and the torsion arithmetic behind them.

A state is a box in degrees on the torus: each of phi and psi is either unconstrained or restricted to an
interval ``(low, high)`` with ``-180 <= low < high <= 180``. The shooting loop evaluates two torsions every
few steps, so the torsion here is plain Python on four points (cheaper than NumPy for one frame).
"""

import dataclasses
import math

from committor_keras._errors import ConfigError

# 0-based atom indices of the seed's 1-based numbering: phi = C5-N7-C9-C15, psi = N7-C9-C15-N17.
PHI_ATOMS = (4, 6, 8, 14)
PSI_ATOMS = (6, 8, 14, 16)


def torsion_deg(p0, p1, p2, p3):
    """Torsion angle in degrees, in (-180, 180], of four points given as 3-sequences (IUPAC sign)."""
    ax, ay, az = p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]
    bx, by, bz = p2[0] - p1[0], p2[1] - p1[1], p2[2] - p1[2]
    cx, cy, cz = p3[0] - p2[0], p3[1] - p2[1], p3[2] - p2[2]
    # atan2(|b| a.(b x c), (a x b).(b x c))
    nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
    mx, my, mz = by * cz - bz * cy, bz * cx - bx * cz, bx * cy - by * cx
    y = math.sqrt(bx * bx + by * by + bz * bz) * (ax * mx + ay * my + az * mz)
    x = nx * mx + ny * my + nz * mz
    return math.degrees(math.atan2(y, x))


def phi_psi(positions):
    """(phi, psi) in degrees from a sequence of per-atom 3-vectors in the seed's atom order."""
    a, b, c, d = (positions[i] for i in PHI_ATOMS)
    phi = torsion_deg(a, b, c, d)
    a, b, c, d = (positions[i] for i in PSI_ATOMS)
    return phi, torsion_deg(a, b, c, d)


@dataclasses.dataclass(frozen=True)
class StateBox:
    """A stable state: open intervals of phi and psi in degrees; ``None`` leaves an angle free.

    Args:
        name: the conformer's name, e.g. ``"C7eq"``.
        phi: ``(low, high)`` in degrees or ``None``.
        psi: ``(low, high)`` in degrees or ``None``.
    """

    name: str
    phi: tuple | None = None
    psi: tuple | None = None

    def __post_init__(self):
        for field in ("phi", "psi"):
            interval = getattr(self, field)
            if interval is None:
                continue
            if len(interval) != 2 or not -180.0 <= interval[0] < interval[1] <= 180.0:
                raise ConfigError(
                    f"state {self.name!r}: {field} interval {interval!r} must be (low, high) with "
                    "-180 <= low < high <= 180 degrees")
            object.__setattr__(self, field, (float(interval[0]), float(interval[1])))

    def contains(self, phi, psi):
        """True when (phi, psi) in degrees lies inside the box."""
        if self.phi is not None and not self.phi[0] < phi < self.phi[1]:
            return False
        return self.psi is None or self.psi[0] < psi < self.psi[1]

    def definition(self):
        """Human-readable definition, e.g. ``-100 < phi < -60 and 40 < psi < 100 (degrees)``."""
        parts = []
        for name, interval in (("phi", self.phi), ("psi", self.psi)):
            if interval is not None:
                parts.append(f"{interval[0]:g} < {name} < {interval[1]:g}")
        return (" and ".join(parts) or "everywhere") + " (degrees)"

    def to_dict(self):
        """JSON form; :meth:`from_dict` reads it back."""
        return {"name": self.name, "phi": self.phi, "psi": self.psi}

    @classmethod
    def from_dict(cls, obj):
        """The inverse of :meth:`to_dict`."""
        return cls(obj["name"], _interval(obj.get("phi")), _interval(obj.get("psi")))


def _interval(value):
    return None if value is None else tuple(value)


@dataclasses.dataclass(frozen=True)
class States:
    """The reactant ``A`` and product ``B`` of a committor calculation."""

    a: StateBox
    b: StateBox

    def classify(self, phi, psi):
        """``"A"``, ``"B"`` or ``None`` for (phi, psi) in degrees."""
        if self.a.contains(phi, psi):
            return "A"
        if self.b.contains(phi, psi):
            return "B"
        return None

    def to_metadata(self):
        """The ``states`` entry of a data set's metadata (docs/architecture.md)."""
        return {
            "A": {"name": self.a.name, "definition": self.a.definition(), **self.a.to_dict()},
            "B": {"name": self.b.name, "definition": self.b.definition(), **self.b.to_dict()},
        }

    def to_dict(self):
        """JSON form; :meth:`from_dict` reads it back."""
        return {"A": self.a.to_dict(), "B": self.b.to_dict()}

    @classmethod
    def from_dict(cls, obj):
        """The inverse of :meth:`to_dict`."""
        return cls(StateBox.from_dict(obj["A"]), StateBox.from_dict(obj["B"]))


# Cores of the two vacuum minima of Amber ff14SB alanine dipeptide (C7eq near (-83, 73), C7ax near
# (73, -60)), boxes of the size used by Mori et al. (2020) and Kikutsuji et al. (2022).
VACUUM_STATES = States(
    StateBox("C7eq", phi=(-100.0, -60.0), psi=(40.0, 100.0)),
    StateBox("C7ax", phi=(50.0, 80.0), psi=(-100.0, -40.0)),
)

# In water the phi < 0 basin (C7eq/PPII/alphaR/beta) and the phi > 0 basin (alphaL) are each one state;
# psi interconverts within a basin in picoseconds, so only phi is constrained.
WATER_STATES = States(
    StateBox("phi<0 (C7eq/PPII/alphaR)", phi=(-180.0, -50.0)),
    StateBox("phi>0 (alphaL/C7ax)", phi=(30.0, 100.0)),
)
