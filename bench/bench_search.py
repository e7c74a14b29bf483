"""Where a search's time goes, trial by trial, before and after issue 11; and searches in parallel.

``search``: one Bayesian search (``--trials`` trials, the default space, 200 epochs, patience 20) on the
vacuum set's split, in its own process, for this checkout (``after``) and for ``--before`` (main at bd6e259).
The two searches run at the same time (same load). A callback records, per trial, the time of every
epoch end and the process's CPU time, so a trial's wall time (from the end of the
previous trial's training) splits into the first epoch (tracing and warm-up), the later, steady-state
epochs (training steps and the per-epoch validation) and the rest (oracle, model building, checkpoints,
session clearing); the oracle's own CPU time and the process's RSS after each trial are recorded too.
Goals: 100 trials in <= 3 min on 2 idle cores; >= 75 % of the wall time in steady-state epochs; RSS growth
<= 50 MB from trial 10 to trial 100.

``parallel``: ``committor-keras tune`` with ``--searches S --jobs S`` against ``--jobs 1``
(``--parallel-trials`` trials per search, 10 by default: with 2 the fixed costs of starting processes and
retraining the top model decide; goal: <= 0.6x). Wall time, the CPU seconds of the command and its
children, and the load before and after each side are recorded.

``--only search`` or ``--only parallel`` runs one of the two; ``--before-trials 0`` skips the before
search. Each trial's row (wall, CPU-s, the share of each part, epochs, RSS, oracle CPU-s, 1-minute load at
its end) is printed as it ends and written to the result. The default ``tune`` and ``study`` configurations
are timed by ``bench/bench_commands.py``.

The load average is recorded throughout: on a shared machine the wall times are upper bounds (CPU seconds
per trial are the robust figure). Writes bench/results/search.json.

Usage: python -m bench.bench_search [--trials 100] [--before-trials 100] [--parallel-trials 10]
       [--only search|parallel] [--deadline 3600]
"""

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import BEFORE, DATA, ROOT, before_dir, record, run_worker

_EVENTS = []


def _cpu_s():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _recorder(progress, oracle_seconds):
    """A callback that appends each trial's timings to the JSON-lines file ``progress`` as it ends.

    Keras Tuner deep-copies callbacks for every trial, so the callback keeps its state in module globals.
    """
    import keras

    def trial_end(logs):
        _EVENTS.append(("end", time.perf_counter(), _rss_mb(), _cpu_s()))
        starts = [e for e in _EVENTS if e[0] in ("start", "end")]
        previous, end = starts[-2], starts[-1]
        begin = next(e[1] for e in reversed(_EVENTS) if e[0] == "begin")
        epochs = [e[1] for e in _EVENTS if e[0] == "epoch" and begin < e[1] < end[1]]
        row = {"trial": sum(1 for e in _EVENTS if e[0] == "end") - 1,
               "wall_s": end[1] - previous[1], "before_fit_s": begin - previous[1],
               "first_epoch_s": epochs[0] - begin, "steady_epochs_s": epochs[-1] - epochs[0],
               "after_last_epoch_s": end[1] - epochs[-1], "epochs": len(epochs), "rss_mb": end[2],
               "cpu_s": end[3] - previous[3], "oracle_cpu_s": sum(oracle_seconds), "load_1min": os.getloadavg()[0]}
        oracle_seconds.clear()
        with open(progress, "a") as file:
            file.write(json.dumps(row) + "\n")

    callback = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: _EVENTS.append(("begin", time.perf_counter())),
        on_epoch_end=lambda epoch, logs: _EVENTS.append(("epoch", time.perf_counter())),
        on_train_end=trial_end)
    callback.reads_weights = False  # as the search's own callbacks: fit_model need not copy weights per epoch
    return callback


def _time_oracle(seconds):
    """Patch the Bayesian oracles' populate_space to add their CPU time to ``seconds``."""
    import keras_tuner

    classes = [keras_tuner.oracles.BayesianOptimizationOracle]
    try:
        from committor_keras.search._oracle import CommittorOracle
        classes.append(CommittorOracle)
    except ImportError:  # the code before issue 11 has no oracle of its own
        pass
    for cls in classes:
        original = cls.__dict__["populate_space"]

        def timed(self, trial_id, original=original):
            start = time.process_time()
            try:
                return original(self, trial_id)
            finally:
                seconds.append(time.process_time() - start)

        cls.populate_space = timed


def search_worker(trials, progress):
    """Run one default search with ``trials`` trials, appending per-trial timings to ``progress``."""
    from committor_keras.data import labels, load, split_indices
    from committor_keras.search import load_config, run_search

    data = load(DATA)
    split = split_indices(data, 0)
    y = labels(data)
    train, validation = ((data.features[i], y[i], None) for i in (split.train, split.validation))
    config = load_config(None).with_overrides(max_trials=trials)
    oracle_seconds = []
    _time_oracle(oracle_seconds)
    with tempfile.TemporaryDirectory() as run_dir:
        _EVENTS.append(("start", time.perf_counter(), None, _cpu_s()))
        run_search(train, validation, run_dir, seed=0, config=config, verbose=0,
                   callbacks=[_recorder(progress, oracle_seconds)])


def _summary(trials):
    total = sum(t["wall_s"] for t in trials)
    rss = [t["rss_mb"] for t in trials]
    loads = [t["load_1min"] for t in trials if "load_1min" in t]
    return {"trials": len(trials), "wall_s": total, "wall_s_per_trial": total / len(trials),
            "cpu_s_per_trial": sum(t["cpu_s"] for t in trials) / len(trials),
            "steady_state_fraction": sum(t["steady_epochs_s"] for t in trials) / total,
            "first_epoch_fraction": sum(t["first_epoch_s"] for t in trials) / total,
            "overhead_fraction": sum(t["before_fit_s"] + t["after_last_epoch_s"] for t in trials) / total,
            # before the fit: oracle, session clearing, model building; after the last epoch: restoring the
            # best weights, the checkpoint, the history file, Keras Tuner's bookkeeping.
            "before_fit_fraction": sum(t["before_fit_s"] for t in trials) / total,
            "after_fit_fraction": sum(t["after_last_epoch_s"] for t in trials) / total,
            "epochs_per_trial": sum(t["epochs"] for t in trials) / len(trials),
            "rss_mb_first": rss[0], "rss_mb_last": rss[-1],
            "rss_growth_mb_trial_10_to_last": rss[-1] - rss[min(9, len(rss) - 1)],
            "oracle_cpu_s_max": max(t["oracle_cpu_s"] for t in trials),
            "oracle_cpu_s_total": sum(t["oracle_cpu_s"] for t in trials),
            "load_1min_min": min(loads) if loads else None, "load_1min_max": max(loads) if loads else None,
            "load_1min_mean": sum(loads) / len(loads) if loads else None}


def _print_row(name, row):
    print(f"{name} trial {row.get('trial', '?'):>3}: wall {row['wall_s']:6.2f} s, CPU {row['cpu_s']:5.2f} s, "
          f"steady {row['steady_epochs_s'] / row['wall_s']:4.0%}, first epoch {row['first_epoch_s']:5.2f} s, "
          f"before fit {row['before_fit_s']:5.2f} s, after {row['after_last_epoch_s']:5.2f} s, "
          f"{row['epochs']:3d} epochs, RSS {row['rss_mb']:6.0f} MB, oracle {row['oracle_cpu_s']:.3f} CPU-s, "
          f"load {row.get('load_1min', float('nan')):.1f}", flush=True)


def _children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tune_seconds(out, searches, trials, jobs, cwd=ROOT):
    """Wall and CPU seconds (this process's waited-for children) of one ``tune`` command, and the loads."""
    command = [sys.executable, "-c", "import sys; from committor_keras.cli import main; sys.exit(main())", "tune",
               str(DATA), "--out", str(out), "--seed", "0", "--quiet", "--top-k", "1", "--searches", str(searches),
               "--max-trials", str(trials), "--jobs", str(jobs)]
    load, cpu, start = os.getloadavg()[0], _children_cpu_s(), time.perf_counter()
    run_worker([sys.executable, "-m", "bench.bench_search", "--run", json.dumps(command)], cwd)
    return {"wall_s": time.perf_counter() - start, "cpu_s": _children_cpu_s() - cpu,
            "load_1min_start": load, "load_1min_end": os.getloadavg()[0]}


def _run_searches(planned, folder, args):
    """Run the searches ``planned`` ((name, trials) pairs) at the same time until they end or ``args.deadline``
    passes, printing each trial's row as it ends; returns name -> summary, completeness and trial rows."""
    workers, searches = {}, {}
    for name, trials in planned:
        cwd = before_dir(args.before) if name == "before" else ROOT
        progress = Path(folder) / f"{name}.jsonl"
        workers[name] = (progress, subprocess.Popen(
            [sys.executable, "-m", "bench.bench_search", "--worker", str(trials), "--progress", str(progress)],
            cwd=cwd, env={**os.environ, "PYTHONPATH": str(cwd)}, stdout=subprocess.DEVNULL))
    deadline = time.monotonic() + args.deadline
    printed = dict.fromkeys(workers, 0)

    def print_new_rows():
        for name, (progress, _) in workers.items():
            lines = progress.read_text().splitlines() if progress.exists() else []
            for line in lines[printed[name]:]:
                _print_row(name, json.loads(line))
            printed[name] = len(lines)

    while any(w.poll() is None for _, w in workers.values()) and time.monotonic() < deadline:
        print_new_rows()
        time.sleep(2.0)
    print_new_rows()
    for name, (progress, worker) in workers.items():
        if worker.poll() is None:
            worker.terminate()
            worker.wait()
        trials = [json.loads(line) for line in progress.read_text().splitlines()] if progress.exists() else []
        if not trials:
            raise SystemExit(f"the {name} search finished no trial")
        searches[name] = {"summary": _summary(trials), "complete": worker.returncode == 0, "trials": trials}
        print(f"{name}: " + ", ".join(f"{k} {v:.3g}" for k, v in searches[name]["summary"].items()))
    return searches


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--before-trials", type=int, default=100, help="trials of the before search (0: skip)")
    parser.add_argument("--parallel-trials", type=int, default=10, help="trials per search of the parallel "
                        "comparison (0: skip)")
    parser.add_argument("--parallel-searches", type=int, default=2)
    parser.add_argument("--only", choices=("search", "parallel"), help="run only the search measurement or only "
                        "the parallel comparison")
    parser.add_argument("--before", default=str(BEFORE))
    parser.add_argument("--out", default="bench/results/search.json")
    parser.add_argument("--deadline", type=float, default=3600.0,
                        help="seconds after which the searches are stopped and summarised (default 3600; with "
                             "--one-at-a-time, for each search)")
    parser.add_argument("--one-at-a-time", action="store_true",
                        help="run the after search, then the before one, each alone on the machine (idle cores: "
                             "each gets both cores) instead of both at once (a loaded machine: same load)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--progress", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        search_worker(args.worker, args.progress)
        return 0
    if args.run is not None:  # a command whose output is not JSON; report {} when it succeeds
        subprocess.run(json.loads(args.run), check=True, stdout=subprocess.DEVNULL)
        print("{}")
        return 0

    result = {"benchmark": "one default Bayesian search on the vacuum set, trial by trial; parallel searches",
              "goals": {"wall_s_100_trials": 180, "steady_state_fraction": 0.75, "rss_growth_mb": 50,
                        "parallel_over_sequential": 0.6},
              "load_averages": [os.getloadavg()]}
    # After and before run at the same time, so that both see the same load on a shared machine (or, with
    # --one-at-a-time, one after the other on idle cores); a search still running after --deadline seconds
    # is stopped and summarised over the trials it finished.
    searches = {}
    planned = [(name, trials) for name, trials in (("after", args.trials), ("before", args.before_trials))
               if trials and args.only != "parallel"]
    with tempfile.TemporaryDirectory() as folder:
        for group in ([[item] for item in planned] if args.one_at_a_time else [planned]):
            searches.update(_run_searches(group, folder, args))
            result["load_averages"].append(os.getloadavg())
    measured = []
    if searches:
        result["search"] = {**searches, "one_at_a_time": args.one_at_a_time}
        measured.append("search")
    if args.parallel_trials and args.only != "search":
        with tempfile.TemporaryDirectory() as folder:
            sequential = _tune_seconds(Path(folder) / "jobs1", args.parallel_searches, args.parallel_trials, 1)
            parallel = _tune_seconds(Path(folder) / "jobsS", args.parallel_searches, args.parallel_trials,
                                     args.parallel_searches)
        result["parallel"] = {"searches": args.parallel_searches, "trials_per_search": args.parallel_trials,
                              "sequential_s": sequential["wall_s"], "parallel_s": parallel["wall_s"],
                              "ratio": parallel["wall_s"] / sequential["wall_s"], "sequential": sequential,
                              "parallel": parallel, "includes": "the whole tune command (top 1)"}
        result["load_averages"].append(os.getloadavg())
        measured.append("parallel")
        print(f"parallel: {parallel['wall_s']:.1f} s ({parallel['cpu_s']:.0f} CPU-s) vs sequential "
              f"{sequential['wall_s']:.1f} s ({sequential['cpu_s']:.0f} CPU-s) = "
              f"{parallel['wall_s'] / sequential['wall_s']:.2f}x; load {os.getloadavg()[0]:.1f}")
    # A part not measured in this run (--only) keeps its figures from the last run that measured it.
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    for part in ("search", "parallel"):
        if part not in result and part in previous:
            result[part] = {**previous[part], "date_utc": previous[part].get("date_utc", previous.get("date_utc")),
                            "load_averages": previous[part].get("load_averages", previous.get("load_averages"))}
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    for part in measured:
        result[part] = {**result[part], "date_utc": stamp, "load_averages": result["load_averages"]}
    record(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
