"""Label channels, join with the shipped water set, draw p_B over (phi, psi), write channels.md (finish.sh step).

Run from the repository root after `md make-dataset` wrote alanine_dipeptide_water_channels.npz:
    python data/alanine_dipeptide_water_channels/package.py [WORKDIR]
(WORKDIR, default this directory, holds the shot work directory and receives every output; channels.json
is read from this directory.) Reads the shipped data/alanine_dipeptide_water/alanine_dipeptide_water.npz and
never writes it.
"""

import json
import sys
from pathlib import Path

import numpy as np

from committor_keras.data import load
from committor_keras.md import status
from committor_keras.md._channels import join, torsion_from_features, with_channels

HERE = Path(__file__).resolve().parent
SHIPPED = HERE.parent / "alanine_dipeptide_water" / "alanine_dipeptide_water.npz"
NEW = "alanine_dipeptide_water_channels.npz"
ALL = "alanine_dipeptide_water_all_channels.npz"
FIGURE = "p_b_phi_psi.png"
# psi intervals (degrees) of the channels across phi = 0, from the pilot (NOTES.md); [low, high), wrapping
CHANNEL_FILE = json.loads((HERE / "channels.json").read_text())
CHANNELS = tuple(CHANNEL_FILE["channels"])
BARRIER_PHI = tuple(CHANNEL_FILE["barrier_phi_deg"])
TARGET_IN_RANGE = 400


def in_range(data):
    p_b = data.p_b
    return (p_b > 0.1) & (p_b < 0.9)


def counts_table(data, label):
    rows = [f"| {label} | channel | configurations | 0.1 < p_B < 0.9 | shots |", "|---|---|---:|---:|---:|"]
    names = {int(k): v["name"] for k, v in data.metadata["channels"]["codes"].items()}
    names[-1] = f"none (basins: phi outside ({BARRIER_PHI[0]:g}, {BARRIER_PHI[1]:g}))"
    channel = data.extras["channel"]
    for code in sorted(set(channel.astype(int).tolist())):
        members = channel == code
        rows.append(f"| | {names[code]} | {members.sum()} | {(members & in_range(data)).sum()} | "
                    f"{int(data.n_shots[members].sum())} |")
    return rows


def window_table(data):
    rows = ["| window | phi0 | psi0 | k_psi | configurations | mean p_B | 0.1 < p_B < 0.9 | mean psi |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    psi = torsion_from_features(data, "psi")
    for window in np.unique(data.extras["window"]):
        m = data.extras["window"] == window
        psi0 = data.extras["psi0_deg"][m][0] if "psi0_deg" in data.extras else np.nan
        kpsi = data.extras["restraint_k_psi"][m][0] if "restraint_k_psi" in data.extras else 0
        mean_psi = np.degrees(np.angle(np.mean(np.exp(1j * np.radians(psi[m])))))
        rows.append(f"| {int(window)} | {data.extras['phi0_deg'][m][0]:g} | "
                    f"{'free' if np.isnan(psi0) else f'{psi0:g}'} | {kpsi:g} | {m.sum()} | "
                    f"{data.p_b[m].mean():.2f} | {in_range(data)[m].sum()} | {mean_psi:.0f} |")
    return rows


def figure(data, path, pilot):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phi = torsion_from_features(data, "phi")
    psi = torsion_from_features(data, "psi")
    near = np.abs(phi) < 40
    fig, ax = plt.subplots(figsize=(5.6, 4.2), dpi=90)
    for part, marker in ((0, "o"), (1, "^")):
        m = near & (data.extras["part"] == part)
        if m.any():
            ax.scatter(phi[m], psi[m], c=data.p_b[m], cmap="coolwarm", vmin=0, vmax=1, s=9, marker=marker,
                       linewidths=0, label=data.metadata["parts"][str(part)])
    points = [(a, b, nb / (na + nb)) for w in pilot["windows"] for a, b, na, nb in
              zip(w["phi"], w["psi"], w["n_a"], w["n_b"])]
    a, b, p = np.array(points).T
    sc = ax.scatter(a, b, c=p, cmap="coolwarm", vmin=0, vmax=1, s=30, marker="s", edgecolors="k",
                    linewidths=0.4, label="pilot (10 shots each)")
    fig.colorbar(sc, ax=ax, label="p_B (shots)")
    ax.set(xlabel="phi (degrees)", ylabel="psi (degrees)", xlim=(-40, 40), ylim=(-180, 180),
           title="p_B near the phi = 0 barrier (water)")
    ax.set_yticks(range(-180, 181, 60))
    ax.legend(loc="center left", fontsize=7, markerscale=1.2, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(workdir=HERE):
    workdir = Path(workdir)
    shipped = with_channels(load(SHIPPED), CHANNELS, barrier_phi=BARRIER_PHI)
    parts, names = [shipped], ["alanine_dipeptide_water"]
    new = None
    if (workdir / NEW).is_file():  # make-dataset writes it once configurations have shots
        new = with_channels(load(workdir / NEW), CHANNELS, barrier_phi=BARRIER_PHI)
        new.save(workdir / NEW)
        parts.append(new)
        names.append("alanine_dipeptide_water_channels")
    joined = join(parts, names)
    joined.save(workdir / ALL)
    figure(joined, workdir / FIGURE, json.loads((HERE / "pilot.json").read_text()))
    progress = status(workdir)
    lines = ["", "## Channels and progress (written by package.py after every chunk)", ""]
    base = json.loads((workdir / "md.json").read_text())["n_shots"]
    if not progress["sampled"]:
        state = f"in progress: sampling, windows done {progress['windows_done']}; no shots yet"
    else:
        done, total = progress["configurations_with_base_shots"], progress["n_configurations"]
        finished = progress["shots_pending_known"] == 0 and done == total
        state = (f"{'complete' if finished else 'in progress'}: {done} of {total} configurations have their "
                 f"first {base} shots; shots fired {progress['shots_fired']}; estimated remaining worker-hours "
                 f"{progress.get('estimated_remaining_worker_hours')}")
    lines += [f"- Status: {state}.",
              f"- Channels (psi intervals in degrees, [low, high), wrapping through 180 when low > high) of the "
              f"configurations with {BARRIER_PHI[0]:g} < phi < {BARRIER_PHI[1]:g}: "
              + "; ".join(f"{name} [{low:g}, {high:g})" for name, low, high in CHANNELS) + "; the others get "
              "channel -1 (`channels.json`).",
              f"- Target: at least {TARGET_IN_RANGE} configurations with 0.1 < p_B < 0.9 in every channel.",
              "", f"Counts of the combined set `{ALL}` ({' + '.join(names)}):", ""]
    lines += counts_table(joined, "all")
    if new is not None:
        lines += ["", f"This directory's part alone (`{NEW}`):", ""]
        lines += counts_table(new, "new")
        lines += ["", "p_B by window of this directory (shot configurations so far):", ""]
        lines += window_table(new)
    lines += ["", f"![p_B over (phi, psi)]({FIGURE})", "",
              f"`{FIGURE}`: every configuration with |phi| < 40 degrees, coloured by p_B: circles the shipped "
              "phi-restrained set, triangles this directory's phi- and psi-restrained windows (once shot), "
              "squares the pilot's configurations (10 shots each, so p_B to within ~0.15).", ""]
    (workdir / "channels.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
