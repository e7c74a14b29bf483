"""``WORKDIR/README.md``: how a shot data set was made, what it holds, and the hash of every file."""

import datetime
import json
from pathlib import Path

import numpy as np

from committor_keras._provenance import sha256_file, write_text_atomic
from committor_keras.md._config import load_config
from committor_keras.md._sampling import CONFIGURATIONS_JSON
from committor_keras.md._shooting import shot_timing
from committor_keras.md._workdir import BUILD_JSON, status


def _window_text(window):
    psi = "" if window.psi0 is None else f", psi0 {window.psi0:g}, k_psi {window.k_psi:g}"
    return f"({window.phi0:g}, {window.k:g}, {window.n}{psi})"


def write_readme(workdir, title, commands, notes=""):
    """Write ``WORKDIR/README.md`` from the work directory's own records.

    Args:
        workdir: the work directory.
        title: the first heading.
        commands: the exact shell commands that made it, in order.
        notes: extra Markdown (choices, caveats) placed after the summary.

    Returns:
        The README path.
    """
    workdir = Path(workdir)
    config = load_config(workdir)
    report = status(workdir)
    build = json.loads((workdir / BUILD_JSON).read_text()) if (workdir / BUILD_JSON).is_file() else {}
    lines = [f"# {title}", "",
             f"Generated {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='minutes')} by "
             "`committor_keras.md` from this directory's records; regenerate after more shooting.", ""]
    if not report.get("sampled"):
        lines += [f"> **Status: in progress: sampling** (windows done {report.get('windows_done')}); no shots "
                  "yet. Resume with the commands below.", ""]
    elif not _complete(report):
        lines += [f"> **Status: in progress.** {report.get('configurations_with_base_shots', 0)} of "
                  f"{report.get('n_configurations', '?')} configurations have their first shots and "
                  f"{report.get('shots_pending_known', '?')} shots are known to be pending; the `.npz` holds "
                  "the configurations shot so far, some still without their top-up shots. Resume with the "
                  "commands below.", ""]
    lines += ["## How it was made", "", "```bash", *commands, "```", "",
              "Every step resumes from the files here: running the commands again continues where they stopped.", ""]
    states = config.states.to_metadata()
    waters = f", TIP3P water ({build.get('n_waters')} molecules)" if config.solvent == "water" else ""
    lines += ["## System and parameters", "",
              f"- Alanine dipeptide (ACE-ALA-NME, 22 atoms, seed numbering: phi = C5-N7-C9-C15, "
              f"psi = N7-C9-C15-N17){waters}; force field {', '.join(config.forcefield)} (OpenMM).",
              f"- {config.temperature_K:g} K, LangevinMiddleIntegrator, friction {config.friction_per_ps:g}/ps, "
              f"time step {config.timestep_ps * 1000:g} fs, {config.constraints} constraints, platform "
              f"{config.platform}" + ("" if config.platform != "CPU" else " (1 thread per worker, deterministic "
                                      "forces)") + ".",
              ]
    if config.solvent == "water":
        lines.append(
            f"- PME, cutoff {config.cutoff_nm:g} nm, {config.box_shape} box with padding "
            f"{config.padding_nm:g} nm ({build.get('n_atoms')} atoms); NVT {config.nvt_equilibration_ps:g} ps + "
            f"NPT {config.npt_equilibration_ps:g} ps (MonteCarloBarostat, {config.pressure_bar:g} bar), stopped "
            f"at a volume of {build.get('volume_final_nm3', float('nan')):.3f} nm^3 (second-half NPT mean "
            f"{build.get('volume_mean_nm3', float('nan')):.3f}; density "
            f"{build.get('density_g_per_cm3', float('nan')):.4f} g/cm^3); sampling and shooting in NVT in that box.")
    else:
        lines.append("- No cutoff (vacuum).")
    lines += [f"- States: A = {states['A']['name']}: {states['A']['definition']}; "
              f"B = {states['B']['name']}: {states['B']['definition']}.",
              f"- Master seed {config.seed}; every window, shot velocity and Langevin noise stream is derived "
              "from it (see `md.json` and the data set's `metadata.provenance.seed_derivation`).",
              f"- Windows (phi0 in degrees, restraint k in kJ/mol/rad^2, 0 = free basin sampling, configurations"
              + ("; psi0 and k_psi where psi is restrained" if any(w.psi0 is not None for w in config.windows)
                 else "") + "): "
              + ", ".join(_window_text(w) for w in config.windows)
              + f"; pulled over {config.pull_ps:g} ps, equilibrated {config.window_equilibration_ps:g} ps, "
              f"one configuration every {config.stride_steps} steps.",
              f"- Shooting: {config.n_shots} shots per configuration"
              + (f", topped up to {config.topup_shots} where {config.topup_range[0]:g} < p_B < "
                 f"{config.topup_range[1]:g} after the first {config.n_shots}" if config.topup_shots else "")
              + f"; state checked every {config.check_every} steps; at most {config.max_steps} steps "
              f"({config.max_steps * config.timestep_ps:g} ps), after which a shot counts as uncommitted.", ""]
    lines += ["## Progress and results", ""]
    if report.get("sampled"):
        seconds, timed_shots, steps = shot_timing(workdir)
        histogram = report["p_b_histogram_10_bins"]
        lines += [
            f"- Configurations: {report['n_configurations']}; with their first {config.n_shots} shots: "
            f"{report['configurations_with_base_shots']}; shots fired: {report['shots_fired']} "
            f"(uncommitted: {report['uncommitted']}); shots known to be pending: {report['shots_pending_known']}.",
            f"- Fraction of shot configurations with {config.topup_range[0]:g} < p_B < {config.topup_range[1]:g}: "
            f"{report['fraction_in_range']:.3f}." if report["fraction_in_range"] is not None else "- No shots yet.",
            "- p_B histogram (10 bins from 0 to 1): " + ", ".join(str(h) for h in histogram) + ".",
        ]
        if timed_shots:
            lines.append(f"- Measured: {seconds / timed_shots:.4f} worker-seconds per shot, mean "
                         f"{steps / timed_shots:.0f} steps per shot, {steps / seconds:.0f} steps/s per worker "
                         "(shared, loaded machine).")
        table = json.loads((workdir / CONFIGURATIONS_JSON).read_text())
        window_seconds = [s for s in table.get("window_seconds", []) if s is not None]
        if window_seconds:
            lines.append(f"- Sampling: {np.mean(window_seconds):.0f} s per window (mean of {len(window_seconds)}).")
    else:
        lines.append(f"- Sampling in progress: windows done {report.get('windows_done')}.")
    if build.get("seconds"):
        lines.append(f"- Build: {build['seconds']:g} s.")
    lines.append("")
    if notes:
        lines += [notes.strip(), ""]
    lines += ["## Files", "", "| file | sha256 |", "|---|---|"]
    for path in sorted(p for p in workdir.rglob("*") if p.is_file() and p.name != "README.md"
                       and not p.name.startswith(".")):
        lines.append(f"| `{path.relative_to(workdir)}` | `{sha256_file(path)}` |")
    lines.append("")
    readme = workdir / "README.md"
    write_text_atomic(readme, "\n".join(lines))
    return readme


def _complete(report):
    """Whether every configuration is sampled and shot, top-ups included."""
    return bool(report.get("sampled")) and report.get("shots_pending_known") == 0 and \
        report.get("configurations_with_base_shots") == report.get("n_configurations")
