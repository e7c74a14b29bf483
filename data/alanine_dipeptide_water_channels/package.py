"""Label channels, join the water parts into one set, draw p_B over (phi, psi), write channels.md (finish step).

Run from the repository root after `md make-dataset` wrote WORKDIR/<system>.npz (<system> from md.json):
    python data/alanine_dipeptide_water_channels/package.py [WORKDIR]
or, to print the per-channel progress of every part and write nothing:
    python data/alanine_dipeptide_water_channels/package.py --progress
or, to print the `md run` selection of WORKDIR's next chunk under the stopping rule (NOTES.md) from its
base window list (the drivers' SELECT_CMD):
    python data/alanine_dipeptide_water_channels/package.py --select WORKDIR 0-3,5-8
WORKDIR (default this directory) is one of the parts below: its .npz gets channel labels, and it receives
the figure and channels.md (progress per channel, counts, p_B by window). The combined set
alanine_dipeptide_water_all_channels.npz is always written here, from every part whose .npz exists, so
either work directory's finish step refreshes it. channels.json is read from this directory. The shipped
data/alanine_dipeptide_water/ is only read.

Only committor_keras functions that the frozen code copies of the running drivers have are used here
(data.load, md.status, md._channels, md._config, md._shooting), so this file can change between chunks.
"""

import fcntl
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The combined set's parts, in order: (code in extras["part"], work directory). A part whose .npz does not
# exist yet is left out; codes and window numbers stay those of this table whatever is present.
PARTS = ((0, ROOT / "alanine_dipeptide_water"),
         (1, HERE),
         (2, ROOT / "alanine_dipeptide_water_bridge"))
ALL = "alanine_dipeptide_water_all_channels.npz"
FIGURE = "p_b_phi_psi.png"
MARKERS = {0: "o", 1: "^", 2: "D"}
# psi intervals (degrees) of the channels across phi = 0, from the pilot (NOTES.md); [low, high), wrapping
CHANNEL_FILE = json.loads((HERE / "channels.json").read_text())
CHANNELS = tuple(tuple(c) for c in CHANNEL_FILE["channels"])
BARRIER_PHI = tuple(CHANNEL_FILE["barrier_phi_deg"])
TARGET_IN_RANGE = 400
OUTSIDE_NAME = f"none (basins: phi outside ({BARRIER_PHI[0]:g}, {BARRIER_PHI[1]:g}))"


def md_json(workdir):
    return json.loads((Path(workdir) / "md.json").read_text())


def npz_path(workdir):
    """WORKDIR/<system>.npz, the file `md make-dataset` writes in the finish step."""
    return Path(workdir) / f"{md_json(workdir)['system']}.npz"


def in_range(p_b):
    return (p_b > 0.1) & (p_b < 0.9)


def channel_names():
    names = {code: name for code, (name, _, _) in enumerate(CHANNELS)}
    names[-1] = OUTSIDE_NAME
    return names


def combine(parts):
    """One labelled data set from ``[(code, name, data, n_windows), ...]`` (a subset of PARTS, in order).

    ``extras["part"]`` is the part's code and ``extras["window"]`` its window plus the number of windows of
    every part with a smaller code (all parts of ``parts`` count, present or not: pass ``data=None`` for a
    part without data), so both are the same in every snapshot; ``extras["channel"]`` comes from each
    configuration's own psi (``with_channels``); ``metadata["parts"]`` names every code present.
    """
    from committor_keras.md._channels import join, with_channels

    offsets, offset = {}, 0
    for code, _, _, n_windows in parts:
        offsets[code] = offset
        offset += n_windows
    present = [(code, name, with_channels(data, CHANNELS, barrier_phi=BARRIER_PHI))
               for code, name, data, _ in parts if data is not None]
    joined = join([data for _, _, data in present], [name for _, name, _ in present])
    joined.extras["part"] = np.concatenate([np.full(len(data), code, np.int64) for code, _, data in present])
    joined.extras["window"] = np.concatenate([np.asarray(data.extras["window"]) + offsets[code]
                                              for code, _, data in present])
    joined.metadata["parts"] = {str(code): name for code, name, _ in present}
    joined.metadata["window_offsets"] = {str(code): offsets[code] for code, _, _ in present}
    return joined


def sampled_angles(workdir):
    """(window, phi, psi) of every configuration sampled so far: configurations.json, else the finished
    windows' files (sampling still running)."""
    workdir = Path(workdir)
    table = workdir / "configurations.json"
    if table.is_file():
        per = json.loads(table.read_text())["per_configuration"]
        return np.asarray(per["window"]), np.asarray(per["phi"], float), np.asarray(per["psi"], float), True
    window, phi, psi = [], [], []
    for path in sorted((workdir / "configurations").glob("window-*.json")):
        record = json.loads(path.read_text())
        window += [record["window"]] * len(record["phi"])
        phi += record["phi"]
        psi += record["psi"]
    return np.asarray(window, int), np.asarray(phi, float), np.asarray(psi, float), False


def channel_codes(phi, psi):
    """Channel codes of (phi, psi) in degrees; -1 outside the barrier's phi interval."""
    from committor_keras.md._channels import OUTSIDE, label_channels

    codes = label_channels(psi, CHANNELS)
    codes[(np.asarray(phi) <= BARRIER_PHI[0]) | (np.asarray(phi) >= BARRIER_PHI[1])] = OUTSIDE
    return codes


def progress(workdir):
    """Per channel code: configurations expected (those sampled, plus the windows not sampled yet counted at
    their restraint centre), sampled, with their first shots, with 0.1 < p_B < 0.9 now, of those the final
    ones (nothing left to shoot: the count that only grows, for the stopping rule in NOTES.md), and to top up
    / topped up (base p_B in range / every top-up shot fired). Channels come from the sampled phi and psi
    (configurations.json or the finished windows' files, before the coordinates' rounding)."""
    from committor_keras.md._config import load_config
    from committor_keras.md._shooting import needs_topup, read_shots

    config = load_config(workdir)
    windows = md_json(workdir)["windows"]
    window, phi, psi, complete = sampled_angles(workdir)
    sampled = channel_codes(phi, psi)
    todo = [w for i, w in enumerate(windows) if i not in set(window.tolist())]
    centres = np.repeat(window_channels(todo), [w["n"] for w in todo]).astype(int)
    keys = ("expected", "sampled", "shot", "in_range", "final_in_range", "topup_needed", "topped_up")
    rows = {code: dict.fromkeys(keys, 0) for code in sorted(set(centres.tolist()) | set(sampled.tolist()))}
    for code in sampled.tolist():
        rows[code]["sampled"] += 1
        rows[code]["expected"] += 1
    for code in centres.tolist():
        rows[code]["expected"] += 1
    if complete:
        table = read_shots(workdir, len(sampled))
        for i, code in enumerate(sampled.tolist()):
            if (0, config.n_shots) not in table.batches[i]:
                continue
            row = rows[code]
            row["shot"] += 1
            done = True
            if needs_topup(config, table, i):
                done = bool(table.n_shots[i] >= config.topup_shots)
                row["topup_needed"] += 1
                row["topped_up"] += done
            row["in_range"] += bool(in_range(table.p_b[i]))
            row["final_in_range"] += bool(in_range(table.p_b[i])) and done
    return rows


def window_channels(windows):
    """Channel code of each md.json window at its restraint centre (no psi restraint: no channel)."""
    return channel_codes(np.asarray([w["phi0"] for w in windows], float),
                         np.asarray([np.nan if w.get("psi0") is None else w["psi0"] for w in windows], float))


def select(workdir, windows):
    """The `md run` selection arguments of WORKDIR's next chunk under the stopping rule (NOTES.md).

    Of ``windows`` (WORKDIR's base list), those whose channel (at the window's restraint centre) has fewer
    than TARGET_IN_RANGE final configurations in range over all parts keep taking new configurations, and
    its basin windows with them; when none is left, ``--finish-started``: the configurations already started
    get their top-ups and nothing new starts.
    """
    from committor_keras.md._shooting import _ranges

    final = {}
    for _, path in PARTS:
        if (path / "md.json").is_file():
            for channel, row in progress(path).items():
                final[channel] = final.get(channel, 0) + row["final_in_range"]
    channels = window_channels(md_json(workdir)["windows"])
    keep = [w for w in windows if channels[w] >= 0 and final.get(channels[w], 0) < TARGET_IN_RANGE]
    if not keep:
        return ["--finish-started"]
    keep += [w for w in windows if channels[w] < 0]
    return ["--windows", _ranges(sorted(keep))]


def progress_table(workdirs):
    """Markdown rows: per channel and part, configurations expected / sampled / shot / in range / topped up,
    with a total per channel against the target and a projection at the rate seen so far."""
    names = channel_names()
    per_part = {code: progress(workdir) for code, workdir in workdirs}
    rows = ["| channel | part | expected | sampled | first 20 shots | 0.1 < p_B < 0.9 now | of those final | "
            "topped up to 60 (of those needing it) | projected in range |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for channel in sorted({c for table in per_part.values() for c in table}, key=lambda c: (c < 0, c)):
        total = dict.fromkeys(("expected", "sampled", "shot", "in_range", "final_in_range", "topup_needed",
                               "topped_up"), 0)
        projected_total = 0.0
        for part, workdir in workdirs:
            row = per_part[part].get(channel)
            if row is None:
                continue
            for key in total:
                total[key] += row[key]
            # in-range rate of this part and channel so far, times the configurations expected there
            projected = row["in_range"] / row["shot"] * row["expected"] if row["shot"] else float("nan")
            projected_total += projected if row["shot"] else 0.0
            rows.append(f"| {names[channel]} | {part} `{Path(workdir).name}` | {row['expected']} | {row['sampled']} | "
                        f"{row['shot']} | {row['in_range']} | {row['final_in_range']} | "
                        f"{row['topped_up']} of {row['topup_needed']} | "
                        f"{'-' if not row['shot'] else f'~{projected:.0f}'} |")
        target = f" (target {TARGET_IN_RANGE})" if channel >= 0 else ""
        rows.append(f"| **{names[channel]}, all parts** | | {total['expected']} | {total['sampled']} | "
                    f"{total['shot']} | **{total['in_range']}**{target} | {total['final_in_range']} | "
                    f"{total['topped_up']} of "
                    f"{total['topup_needed']} | ~{projected_total:.0f} |")
    return rows


def counts_table(data, label):
    rows = [f"| {label} | channel | configurations | 0.1 < p_B < 0.9 | shots |", "|---|---|---:|---:|---:|"]
    names = channel_names()
    channel = data.extras["channel"]
    for code in sorted(set(channel.astype(int).tolist())):
        members = channel == code
        rows.append(f"| | {names[code]} | {members.sum()} | {(members & in_range(data.p_b)).sum()} | "
                    f"{int(data.n_shots[members].sum())} |")
    return rows


def window_table(data):
    from committor_keras.md._channels import torsion_from_features

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
                    f"{data.p_b[m].mean():.2f} | {in_range(data.p_b)[m].sum()} | {mean_psi:.0f} |")
    return rows


def figure(data, path, pilot):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from committor_keras.md._channels import torsion_from_features

    phi = torsion_from_features(data, "phi")
    psi = torsion_from_features(data, "psi")
    near = np.abs(phi) < 40
    fig, ax = plt.subplots(figsize=(5.6, 4.2), dpi=90)
    for part, name in sorted(data.metadata["parts"].items()):
        m = near & (data.extras["part"] == int(part))
        if m.any():
            ax.scatter(phi[m], psi[m], c=data.p_b[m], cmap="coolwarm", vmin=0, vmax=1, s=9,
                       marker=MARKERS.get(int(part), "o"), linewidths=0, label=name)
    points = [(a, b, nb / (na + nb)) for w in pilot["windows"] for a, b, na, nb in
              zip(w["phi"], w["psi"], w["n_a"], w["n_b"])]
    a, b, p = np.array(points).T
    sc = ax.scatter(a, b, c=p, cmap="coolwarm", vmin=0, vmax=1, s=30, marker="s", edgecolors="k",
                    linewidths=0.4, label="pilot (10 shots each)")
    fig.colorbar(sc, ax=ax, label="p_B (shots)")
    ax.set(xlabel="phi (degrees)", ylabel="psi (degrees)", xlim=(-40, 40), ylim=(-180, 180),
           title="p_B near the phi = 0 barrier (water)")
    ax.set_yticks(range(-180, 181, 60))
    ax.legend(loc="lower left", fontsize=7, markerscale=1.2, framealpha=0.9)
    fig.tight_layout()
    tmp = Path(path).with_name(Path(path).stem + ".partial.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def status_line(workdir):
    from committor_keras.md import status

    report = status(workdir)
    base = md_json(workdir)["n_shots"]
    if not report["sampled"]:
        return f"in progress: sampling, windows done {report['windows_done']}; no shots yet"
    done, total = report["configurations_with_base_shots"], report["n_configurations"]
    finished = report["shots_pending_known"] == 0 and done == total
    return (f"{'complete' if finished else 'in progress'}: {done} of {total} configurations have their first "
            f"{base} shots; shots fired {report['shots_fired']}; shots known to be pending "
            f"{report['shots_pending_known']}; estimated remaining worker-hours (one unloaded core, top-ups "
            f"included at the rate so far) {report.get('estimated_remaining_worker_hours')}")


def main(workdir=HERE):
    from committor_keras.data import load
    from committor_keras.md._channels import with_channels

    workdir = Path(workdir).resolve()
    codes = {path.resolve(): code for code, path in PARTS}
    if workdir not in codes:
        raise SystemExit(f"{workdir}: not one of the parts of the combined set ({[str(p) for _, p in PARTS]})")
    own = npz_path(workdir)
    if own.is_file():  # make-dataset writes it once configurations have shots
        with_channels(load(own), CHANNELS, barrier_phi=BARRIER_PHI).save(own)
    parts = []
    for code, path in PARTS:
        present = (path / "md.json").is_file()
        data = load(npz_path(path)) if present and npz_path(path).is_file() else None
        parts.append((code, npz_path(path).stem if present else path.name, data,
                      len(md_json(path)["windows"]) if present else 0))
    # both drivers run this: one at a time writes the combined set (each write is atomic anyway)
    with open(HERE / "channels.json") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        joined = combine(parts)
        joined.save(HERE / ALL)
    figure(joined, workdir / FIGURE, json.loads((HERE / "pilot.json").read_text()))
    present = [(code, path) for code, path in PARTS if (path / "md.json").is_file()]
    lines = ["", "## Channels and progress (written by package.py after every chunk)", "",
             f"- Status of this directory: {status_line(workdir)}."]
    for code, path in present:
        if path.resolve() != workdir and code != 0:
            lines.append(f"- Status of `{path.relative_to(ROOT.parent)}`: {status_line(path)}.")
    lines += [f"- Channels (psi intervals in degrees, [low, high), wrapping through 180 when low > high) of the "
              f"configurations with {BARRIER_PHI[0]:g} < phi < {BARRIER_PHI[1]:g}: "
              + "; ".join(f"{name} [{low:g}, {high:g})" for name, low, high in CHANNELS) + "; the others get "
              "channel -1 (`channels.json`).",
              f"- Target: at least {TARGET_IN_RANGE} configurations with 0.1 < p_B < 0.9 in every channel.",
              "", "Progress per channel and part (from each work directory's records, channels from the sampled phi "
              "and psi; `expected` adds the windows not sampled yet at their restraint centre; `0.1 < p_B < 0.9 now` counts "
              "configurations with their first 20 shots, some still waiting for their top-up to 60, so it can "
              "still move; `projected` = expected x the in-range rate seen so far in that part and "
              "channel, a guide that is noisy while few are shot):", ""]
    lines += progress_table(present)
    lines += ["", f"Counts of the combined set `{ALL}` ({' + '.join(joined.metadata['parts'].values())}; "
              "configurations with shots only):", ""]
    lines += counts_table(joined, "all")
    mine = joined.extras["part"] == codes[workdir]
    if mine.any():
        part = joined.subset(np.flatnonzero(mine))
        lines += ["", f"This directory's part alone (`{own.name}`):", ""]
        lines += counts_table(part, "new")
        lines += ["", "p_B by window of this directory (shot configurations so far; window numbers as in the "
                  "combined set):", ""]
        lines += window_table(part)
    lines += ["", f"![p_B over (phi, psi)]({FIGURE})", "",
              f"`{FIGURE}`: every configuration with |phi| < 40 degrees, coloured by p_B: circles the shipped "
              "phi-restrained set, triangles the channels directory's phi- and psi-restrained windows, diamonds "
              "the bridge directory's (once shot), squares the pilot's configurations (10 shots each, so p_B to "
              "within ~0.15).", ""]
    (workdir / "channels.md").write_text("\n".join(lines))
    return 0


def print_progress():
    """Print the per-channel progress table of every part present (writes nothing)."""
    present = [(code, path) for code, path in PARTS if (path / "md.json").is_file()]
    for code, path in present:
        if code:
            print(f"{path.name}: {status_line(path)}")
    print("\n".join(progress_table(present)))
    return 0


def print_selection(workdir, windows):
    """Print WORKDIR's selection arguments for its next chunk (``--select``)."""
    from committor_keras.md._cli import _parse_windows

    print(" ".join(select(Path(workdir), _parse_windows(windows))))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--select"] and len(sys.argv) == 4:
        sys.exit(print_selection(*sys.argv[2:]))
    sys.exit(print_progress() if sys.argv[1:] == ["--progress"] else main(*sys.argv[1:]))
