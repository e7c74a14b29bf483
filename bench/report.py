"""Write BENCHMARKS.md from the JSON files in bench/results/: each figure with its goal, before and after.

Usage: python -m bench.report [--results bench/results] [--out BENCHMARKS.md]
"""

import argparse
import json
from pathlib import Path

from bench._common import BEFORE_COMMIT, ROOT


def _load(folder, name):
    path = Path(folder) / name
    return json.loads(path.read_text()) if path.is_file() else None


def _met(flag):
    return {True: "met", False: "**not met**", None: "-"}[flag]


def _rows(results):
    """(figure, goal, before, after, ratio, status) rows of the table, for the results present."""
    rows = []
    search = (results["search"] or {}).get("search", {})
    after, before = (search.get(k, {}).get("summary") for k in ("after", "before"))
    if after:
        loads = f"load {after['load_1min_min']:.1f}-{after['load_1min_max']:.1f}" if after.get("load_1min_min") else ""
        per_trial = [before["wall_s_per_trial"] if before else None, after["wall_s_per_trial"]]
        rows.append((f"search wall time per trial (default space, {after['trials']} trials after"
                     + (f", {before['trials']} before" if before else "")
                     + ("; one after the other)" if search.get("one_at_a_time") else
                        "; at the same time)" if before else ")"),
                     "100 trials <= 180 s (1.8 s/trial)", *[None if v is None else f"{v:.2f} s" for v in per_trial],
                     f"{per_trial[0] / per_trial[1]:.1f}x faster" if before else "",
                     _met(after["wall_s_per_trial"] * 100 <= 180) if not loads else
                     f"{_met(after['wall_s_per_trial'] * 100 <= 180)} ({loads}; "
                     # the search's own two threads keep the load near 2 on an otherwise idle machine
                     + ("nothing else running)" if after["load_1min_max"] < 3 else "shared machine: an upper bound)")))
        rows.append(("search CPU-s per trial (robust to load)", "-",
                     f"{before['cpu_s_per_trial']:.2f} CPU-s" if before else None,
                     f"{after['cpu_s_per_trial']:.2f} CPU-s ({after['epochs_per_trial']:.0f} epochs/trial)",
                     f"{before['cpu_s_per_trial'] / after['cpu_s_per_trial']:.1f}x less" if before else "", "-"))
        rows.append(("share of trial wall time in steady-state epochs", ">= 75 %",
                     f"{before['steady_state_fraction']:.0%}" if before else None,
                     f"{after['steady_state_fraction']:.0%}", "", _met(after["steady_state_fraction"] >= 0.75)))
        rows.append(("share in the first epoch (tracing) / outside training (oracle, build, checkpoints)", "-",
                     f"{before['first_epoch_fraction']:.0%} / {before['overhead_fraction']:.0%}" if before else None,
                     f"{after['first_epoch_fraction']:.0%} / {after['overhead_fraction']:.0%}"
                     + (f" (before the fit {after['before_fit_fraction']:.0%}, after it "
                        f"{after['after_fit_fraction']:.0%})" if "before_fit_fraction" in after else ""), "", "-"))
        rows.append(("RSS growth from trial 10 to the last", "<= 50 MB",
                     f"{before['rss_growth_mb_trial_10_to_last']:.0f} MB (to trial {before['trials']})"
                     if before else None,
                     f"{after['rss_growth_mb_trial_10_to_last']:.0f} MB (to trial {after['trials']})", "",
                     _met(after["rss_growth_mb_trial_10_to_last"] <= 50)))
    parallel = (results["search"] or {}).get("parallel")
    if parallel:
        cpu = (f" ({parallel['sequential']['cpu_s']:.0f} / {parallel['parallel']['cpu_s']:.0f} CPU-s; load "
               f"{parallel['sequential']['load_1min_start']:.1f}-{parallel['parallel']['load_1min_end']:.1f})"
               if "sequential" in parallel else "")
        if parallel.get("date_utc"):
            cpu += f", measured {parallel['date_utc'][:16]}"
        rows.append((f"tune, {parallel['searches']} searches x {parallel['trials_per_search']} trials: --jobs "
                     f"{parallel['searches']} vs --jobs 1{cpu}", "<= 0.6x", f"{parallel['sequential_s']:.0f} s",
                     f"{parallel['parallel_s']:.0f} s", f"{parallel['ratio']:.2f}x", _met(parallel["ratio"] <= 0.6)))
    commands = results.get("commands") or {}

    def _command(timing):
        if not timing:
            return "not measured"
        bound = ">= " if timing.get("lower_bound") else ""
        return (f"{bound}{timing['wall_s']:.0f} s ({timing['cpu_s']:.0f} CPU-s, load "
                f"{timing['load_1min_start']:.1f}-{timing['load_1min_end']:.1f})")

    tune, study = commands.get("tune") or {}, commands.get("study") or {}
    rows.append(("`tune` with the default configuration (3 x 30 trials, top 5)", "-", _command(tune.get("before")),
                 _command(tune.get("after")), "", "-"))
    rows.append(("`study` with the default configuration (configs/study.toml)", "-",
                 "- (no study command before)", _command(study.get("after")), "", "-"))
    oracle = results["oracle"]
    if oracle:
        b, a = oracle["summary"]["before"], oracle["summary"]["after"]
        rows.append((f"oracle CPU-s per trial, max / mean ({a['trials']} trials after, {b['trials']} before)",
                     "<= 0.5 s every trial up to 200", f"{b['max_cpu_s']:.2f} / {b['mean_cpu_s']:.2f} s",
                     f"{a['max_cpu_s']:.3f} / {a['mean_cpu_s']:.3f} s",
                     f"{oracle['speedup_first_trials']:.0f}x less CPU over the first {b['trials']}", _met(oracle["met"])))
    training = results["training"]
    if training and "results" in training and "after_samples_per_s" in training["results"][0]:
        for row in training["results"]:
            torch = row.get("torch_samples_per_s")
            rows.append((f"training samples/s, batch {row['batch_size']} (Keras naive "
                         f"{row.get('keras_samples_per_s', 0) / 1e3:.0f}k, PyTorch {torch / 1e3:.0f}k)",
                         ">= PyTorch", f"{row['before_samples_per_s'] / 1e3:.0f}k" if "before_samples_per_s" in row
                         else None, f"{row['after_samples_per_s'] / 1e3:.0f}k",
                         f"{row['after_over_torch']:.2f}x PyTorch", _met(row["after_over_torch"] >= 1)))
    features = results["featurisation"]
    if features:
        after, before = features["after"], features["before"]
        if "angles_s" in after:
            rows.append((f"{after['torsions']} torsions of {after['frames']} in-memory frames, set-up done once "
                         f"(`TorsionFeatures.angles_of`) vs `mdtraj.compute_dihedrals` with the same indices "
                         f"(mdtraj {after['mdtraj_s'] * 1e3:.1f} ms; largest difference "
                         f"{after['max_abs_difference_deg']:.0e} deg)", "<= mdtraj", "-",
                         f"{after['angles_s'] * 1e3:.1f} ms", f"{features['angles_over_mdtraj_time']:.1f}x mdtraj's time",
                         _met(features["met"]["torsions"])))
            rows.append((f"the same through `featurise(universe)`, set-up included (set-up alone "
                         f"{after['setup_s'] * 1e3:.1f} ms; run machinery, sin/cos)", "-",
                         f"{before['featurise_s'] * 1e3:.0f} ms", f"{after['featurise_s'] * 1e3:.0f} ms",
                         f"{features['after_over_mdtraj_time']:.1f}x mdtraj's time", "-"))
        else:
            rows.append((f"{after['torsions']} torsions of {after['frames']} in-memory frames (mdtraj "
                         f"{after['mdtraj_s'] * 1e3:.0f} ms; largest difference {after['max_abs_difference_deg']:.0e} "
                         "deg)", "<= mdtraj", f"{before['featurise_s'] * 1e3:.0f} ms",
                         f"{after['featurise_s'] * 1e3:.0f} ms", f"{features['after_over_mdtraj_time']:.1f}x mdtraj's time",
                         _met(features["met"]["torsions"])))
        rows.append((f"{after['esp_values']} solvent ESP values of {after['esp_frames']} water frames (NumPy "
                     f"reference {after['esp_reference_s']:.1f} s; largest difference "
                     f"{after['esp_max_abs_difference']:.0e} kJ/mol/e)", "<= NumPy reference",
                     f"{before['esp_s']:.1f} s", f"{after['esp_s']:.1f} s",
                     f"{features['esp_after_over_reference_time']:.2f}x the reference's time",
                     _met(features["met"]["esp"])))
    return rows


def render(results, notes=""):
    """The BENCHMARKS.md text: the table, then ``notes`` (the analysis, bench/notes.md)."""
    rows = _rows(results)
    meta = next((r for r in (results["search"], results["training"], results["oracle"], results["featurisation"]) if r),
                {})
    loads = []
    for name in ("search", "training", "oracle", "featurisation", "commands"):
        result = results.get(name) or {}
        values = result.get("load_averages") or [result.get("load_average_start"), result.get("load_average_end")]
        if result:
            loads += [f"{name} ({result.get('date_utc', '-')}): " + ", ".join(f"{v[0]:.1f}" for v in values if v)]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.report` from `bench/results/*.json`). Before = main at "
        f"{BEFORE_COMMIT} (its code imported in a separate process), after = this checkout; each pair was measured "
        "in one run, side by side.",
        "",
        f"- date (UTC): {meta.get('date_utc', '-')}",
        f"- machine: {meta.get('processor', '-')}, {meta.get('cpu_count', '-')} cores, {meta.get('platform', '-')}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in sorted((meta.get("versions") or {}).items())),
        "- 1-minute load average during the runs (date of each run in brackets): " + "; ".join(loads),
        "",
        "On a loaded machine every wall time is an upper bound and the ratios are the robust figures: both "
        "sides of a ratio ran under the same load.",
        "",
        "| figure | goal | before | after | ratio | status |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join("-" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    lines += ["", "See bench/README.md for what each script measures and how to run one alone.", ""]
    if notes:
        lines += [notes.strip(), ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    results = {name: _load(args.results, f"{name}.json")
               for name in ("search", "oracle", "training", "featurisation", "commands")}
    notes = ROOT / "bench" / "notes.md"
    Path(args.out).write_text(render(results, notes.read_text() if notes.is_file() else ""))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
