"""OpenMM systems for alanine dipeptide: build, solvate, equilibrate, and make simulation contexts.

OpenMM is imported inside the functions so that importing :mod:`committor_keras.md` stays cheap.
"""

import importlib.resources
import math

from committor_keras._errors import ConfigError
from committor_keras._provenance import atomic_path

SOLUTE_ATOMS = 22
# A box narrower than twice the cutoff plus this margin (nm) is refused: the barostat shrinks it a little.
BOX_MARGIN_NM = 0.1


def solute_pdb_path():
    """Path of the shipped ACE-ALA-NME PDB (22 atoms in the seed's numbering)."""
    return importlib.resources.files("committor_keras.md") / "structures" / "alanine_dipeptide.pdb"


def water_box_pdb_path():
    """Path of the shipped small equilibrated water box (used by tests and as a quick start)."""
    return importlib.resources.files("committor_keras.md") / "structures" / "alanine_dipeptide_water_box.pdb"


def forcefield(config):
    """The OpenMM ``ForceField`` named by ``config.forcefield``."""
    from openmm import app

    return app.ForceField(*config.forcefield)


def build_topology(config):
    """Topology and positions of the solute, solvated for a water config.

    Returns:
        ``(topology, positions)``; positions is an OpenMM ``Quantity``.
    """
    from openmm import app, unit

    pdb = app.PDBFile(str(solute_pdb_path()))
    if config.solvent == "vacuum":
        return pdb.topology, pdb.positions
    modeller = app.Modeller(pdb.topology, pdb.positions)
    modeller.addSolvent(forcefield(config), model="tip3p", padding=config.padding_nm * unit.nanometer,
                        boxShape=config.box_shape)
    check_box(modeller.topology.getPeriodicBoxVectors(), config.cutoff_nm)
    return modeller.topology, modeller.positions


def check_box(box_vectors, cutoff_nm):
    """Refuse a periodic box whose reduced heights are below ``2 * cutoff + margin``.

    Raises:
        ConfigError: naming the padding to raise.
    """
    from openmm import unit

    heights = [box_vectors[i][i].value_in_unit(unit.nanometer) for i in range(3)]
    if min(heights) < 2 * cutoff_nm + BOX_MARGIN_NM:
        raise ConfigError(
            f"md.json: field 'padding_nm': the box's smallest height {min(heights):.3f} nm is below "
            f"2 x cutoff + {BOX_MARGIN_NM} nm = {2 * cutoff_nm + BOX_MARGIN_NM:.2f} nm; raise padding_nm")


def create_system(config, topology, barostat=False):
    """The OpenMM ``System``: NoCutoff in vacuum, PME in water, HBonds constraints.

    Args:
        config: an :class:`~committor_keras.md.MDConfig`.
        topology: the topology from :func:`build_topology` or a saved PDB.
        barostat: add a ``MonteCarloBarostat`` (water equilibration only).
    """
    import openmm
    from openmm import app, unit

    choices = {"HBonds": app.HBonds, "AllBonds": app.AllBonds, "None": None}
    if config.constraints not in choices:
        raise ConfigError(f"md.json: field 'constraints' is {config.constraints!r}; use HBonds, AllBonds or None")
    constraints = choices[config.constraints]
    if config.solvent == "vacuum":
        system = forcefield(config).createSystem(topology, nonbondedMethod=app.NoCutoff, constraints=constraints)
    else:
        system = forcefield(config).createSystem(
            topology, nonbondedMethod=app.PME, nonbondedCutoff=config.cutoff_nm * unit.nanometer,
            constraints=constraints, rigidWater=True)
    if barostat:
        system.addForce(openmm.MonteCarloBarostat(config.pressure_bar * unit.bar,
                                                  config.temperature_K * unit.kelvin, 25))
    return system


def create_integrator(config, seed):
    """A ``LangevinMiddleIntegrator`` at the config's temperature, friction and time step, seeded."""
    import openmm
    from openmm import unit

    integrator = openmm.LangevinMiddleIntegrator(config.temperature_K * unit.kelvin,
                                                 config.friction_per_ps / unit.picosecond,
                                                 config.timestep_ps * unit.picoseconds)
    integrator.setRandomNumberSeed(seed)
    return integrator


def create_context(config, system, integrator, threads=1):
    """A ``Context`` on the config's platform; CPU runs ``threads`` threads with deterministic forces."""
    import openmm

    platform = openmm.Platform.getPlatformByName(config.platform)
    properties = {}
    if config.platform == "CPU":
        properties = {"Threads": str(threads), "DeterministicForces": "true"}
    return openmm.Context(system, integrator, platform, properties)


def add_phi_restraint(system):
    """Add a harmonic restraint on phi with global parameters ``k_phi`` (kJ/mol/rad^2) and ``phi0`` (rad)."""
    from committor_keras.md._states import PHI_ATOMS

    return add_torsion_restraint(system, PHI_ATOMS, "phi")


def add_psi_restraint(system):
    """Add a harmonic restraint on psi with global parameters ``k_psi`` (kJ/mol/rad^2) and ``psi0`` (rad)."""
    from committor_keras.md._states import PSI_ATOMS

    return add_torsion_restraint(system, PSI_ATOMS, "psi")


def add_torsion_restraint(system, atoms, name):
    """Add a harmonic restraint on the torsion ``atoms`` with global parameters ``k_NAME`` and ``NAME0``.

    The distance is taken along the shorter arc, so the restraint is periodic in the torsion.
    """
    import openmm

    force = openmm.CustomTorsionForce(f"0.5*k_{name}*d^2; d = min(dt, 2*pi - dt); dt = abs(theta - {name}0);"
                                      f" pi = {math.pi!r}")
    force.addGlobalParameter(f"k_{name}", 0.0)
    force.addGlobalParameter(f"{name}0", 0.0)
    force.addTorsion(*atoms, [])
    system.addForce(force)
    return force


def equilibrate_water(config, topology, positions, threads=1, log=print):
    """Minimise, NVT-equilibrate, then NPT-equilibrate a water box; stop at a volume near the NPT mean.

    The final instantaneous box of an NPT run fluctuates by about 1 % in a box this small, so the NPT run
    is continued in short pieces until the volume lies within 0.2 % of the mean of its second half.

    Returns:
        ``(positions, box_vectors, record)`` where ``record`` holds the volume statistics.
    """
    import openmm
    from openmm import unit

    system = create_system(config, topology, barostat=True)
    barostat = system.getForce(system.getNumForces() - 1)
    barostat.setRandomNumberSeed(config.seed)
    barostat.setFrequency(0)  # no volume moves while minimising and in NVT
    integrator = create_integrator(config, config.seed)
    context = create_context(config, system, integrator, threads)
    context.setPeriodicBoxVectors(*topology.getPeriodicBoxVectors())
    context.setPositions(positions)
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, 5000)
    context.setVelocitiesToTemperature(config.temperature_K * unit.kelvin, config.seed)
    steps_per_ps = round(1.0 / config.timestep_ps)
    integrator.step(round(config.nvt_equilibration_ps * steps_per_ps))
    log(f"NVT {config.nvt_equilibration_ps:g} ps done")
    barostat.setFrequency(25)
    context.reinitialize(preserveState=True)
    volumes = []
    n_blocks = max(2, round(config.npt_equilibration_ps * 2))  # one volume sample every 0.5 ps
    for block in range(n_blocks):
        integrator.step(steps_per_ps // 2)
        volumes.append(context.getState().getPeriodicBoxVolume().value_in_unit(unit.nanometer**3))
        if (block + 1) % 20 == 0:
            log(f"NPT {(block + 1) / 2:g} ps, volume {volumes[-1]:.3f} nm^3")
    mean = sum(volumes[len(volumes) // 2:]) / (len(volumes) - len(volumes) // 2)
    extra = 0
    while abs(volumes[-1] - mean) > 0.002 * mean and extra < 200:
        integrator.step(50)
        volumes.append(context.getState().getPeriodicBoxVolume().value_in_unit(unit.nanometer**3))
        extra += 1
    state = context.getState(positions=True, enforcePeriodicBox=True)
    box = state.getPeriodicBoxVectors()
    check_box(box, config.cutoff_nm)
    n_waters = sum(1 for r in topology.residues() if r.name == "HOH")
    mass_g = sum(a.element.mass.value_in_unit(unit.dalton) for a in topology.atoms()) / 6.02214076e23
    record = {"volume_mean_nm3": mean, "volume_final_nm3": volumes[-1], "extra_npt_steps": 50 * extra,
              "density_g_per_cm3": mass_g / (volumes[-1] * 1e-21), "n_waters": n_waters,
              "n_atoms": topology.getNumAtoms(),
              "volume_trace_nm3": [round(v, 4) for v in volumes]}
    return state.getPositions(), box, record


def minimise_vacuum(config, topology, positions):
    """Energy-minimised vacuum positions."""
    import openmm

    system = create_system(config, topology)
    integrator = create_integrator(config, config.seed)
    context = create_context(config, system, integrator)
    context.setPositions(positions)
    openmm.LocalEnergyMinimizer.minimize(context, 1.0, 5000)
    return context.getState(positions=True).getPositions()


def write_pdb(path, topology, positions, box_vectors=None):
    """Write a PDB atomically, with ``box_vectors`` set on the topology first (CRYST1 record)."""
    from openmm import app

    if box_vectors is not None:
        topology.setPeriodicBoxVectors(box_vectors)
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        app.PDBFile.writeFile(topology, positions, handle, keepIds=True)


def read_pdb(path):
    """``(topology, positions)`` of a saved PDB."""
    from openmm import app

    pdb = app.PDBFile(str(path))
    return pdb.topology, pdb.positions
