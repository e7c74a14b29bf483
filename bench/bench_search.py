"""Where a search's time goes, trial by trial, before and after issue 11; and searches in parallel.

``search``: one Bayesian search (``--trials`` trials, the default space, 200 epochs, patience 20) on the
vacuum set's split, in its own process, for this checkout (``after``) and for ``--before`` (main at bd6e259).
A callback records, per trial, the time of every epoch end, so a trial's wall time (from the end of the
previous trial's training) splits into the first epoch (tracing and warm-up), the later, steady-state
epochs (training steps and the per-epoch validation) and the rest (oracle, model building, checkpoints,
session clearing); the oracle's own CPU time and the process's RSS after each trial are recorded too.
Goals: 100 trials in <= 3 min on 2 idle cores; >= 75 % of the wall time in steady-state epochs; RSS growth
<= 50 MB from trial 10 to trial 100.

``parallel``: ``committor-keras tune`` with ``--searches S --jobs S`` against ``--jobs 1`` (goal: <= 0.6x).

``default-tune``: the wall time of ``committor-keras tune`` with the default configuration (3 searches of
30 trials, top 5), for after (and before with ``--default-tune-before``); slow, so only on request.

The load average is recorded throughout: on a shared machine the wall times are upper bounds.
Writes bench/results/search.json.

Usage: python -m bench.bench_search [--trials 100] [--before-trials 100] [--parallel-trials 10]
       [--default-tune] [--default-tune-before]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench._common import BEFORE, DATA, ROOT, before_dir, record, run_worker

_EVENTS = []


def _rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _recorder():
    """A callback writing fit start / epoch end / fit end times to the module's list (survives deepcopy)."""
    import keras

    return keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: _EVENTS.append(("begin", time.perf_counter())),
        on_epoch_end=lambda epoch, logs: _EVENTS.append(("epoch", time.perf_counter())),
        on_train_end=lambda logs: _EVENTS.append(("end", time.perf_counter(), _rss_mb())))


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


def search_worker(trials):
    """Run one default search with ``trials`` trials; per-trial timings (run in its own process)."""
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
        start = time.perf_counter()
        _EVENTS.append(("start", start))
        run_search(train, validation, run_dir, seed=0, config=config, verbose=0, callbacks=[_recorder()])
        wall = time.perf_counter() - start
    rows, previous_end, epochs = [], start, []
    for event in _EVENTS[1:]:
        if event[0] == "begin":
            begin, epochs = event[1], []
        elif event[0] == "epoch":
            epochs.append(event[1])
        else:
            end = event[1]
            rows.append({"wall_s": end - previous_end, "before_fit_s": begin - previous_end,
                         "first_epoch_s": epochs[0] - begin, "steady_epochs_s": epochs[-1] - epochs[0],
                         "after_last_epoch_s": end - epochs[-1], "epochs": len(epochs), "rss_mb": event[2]})
            previous_end = end
    return {"wall_s": wall, "trials": rows, "oracle_cpu_s": oracle_seconds}


def _summary(result):
    trials = result["trials"]
    total = sum(t["wall_s"] for t in trials)
    rss = [t["rss_mb"] for t in trials]
    return {"trials": len(trials), "wall_s": result["wall_s"], "wall_s_per_trial": result["wall_s"] / len(trials),
            "steady_state_fraction": sum(t["steady_epochs_s"] for t in trials) / total,
            "first_epoch_fraction": sum(t["first_epoch_s"] for t in trials) / total,
            "overhead_fraction": sum(t["before_fit_s"] + t["after_last_epoch_s"] for t in trials) / total,
            "epochs_per_trial": sum(t["epochs"] for t in trials) / len(trials),
            "rss_mb_first": rss[0], "rss_mb_last": rss[-1],
            "rss_growth_mb_trial_10_to_last": rss[-1] - rss[min(9, len(rss) - 1)],
            "oracle_cpu_s_max": max(result["oracle_cpu_s"], default=0.0),
            "oracle_cpu_s_total": sum(result["oracle_cpu_s"])}


def _tune_seconds(out, searches, trials, jobs, cwd=ROOT, config=None):
    command = [sys.executable, "-c", "import sys; from committor_keras.cli import main; sys.exit(main())", "tune", str(DATA), "--out", str(out), "--seed", "0",
               "--quiet", "--top-k", "1"]
    if searches:
        command += ["--searches", str(searches), "--max-trials", str(trials), "--jobs", str(jobs)]
    if config:
        command += ["--config", str(config)]
    start = time.perf_counter()
    run_worker([sys.executable, "-m", "bench.bench_search", "--run", json.dumps(command)], cwd)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--before-trials", type=int, default=100, help="trials of the before search (0: skip)")
    parser.add_argument("--parallel-trials", type=int, default=10, help="trials per search of the parallel "
                        "comparison (0: skip)")
    parser.add_argument("--parallel-searches", type=int, default=2)
    parser.add_argument("--default-tune", action="store_true", help="time the default tune configuration")
    parser.add_argument("--default-tune-before", action="store_true", help="... and the before code's")
    parser.add_argument("--before", default=str(BEFORE))
    parser.add_argument("--out", default="bench/results/search.json")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(search_worker(args.worker)))
        return 0
    if args.run is not None:  # a command whose output is not JSON; report {} when it succeeds
        import subprocess
        subprocess.run(json.loads(args.run), check=True, stdout=subprocess.DEVNULL)
        print("{}")
        return 0

    result = {"benchmark": "one default Bayesian search on the vacuum set, trial by trial; parallel searches",
              "goals": {"wall_s_100_trials": 180, "steady_state_fraction": 0.75, "rss_growth_mb": 50,
                        "parallel_over_sequential": 0.6},
              "load_averages": [os.getloadavg()]}
    searches = {}
    for name, trials in (("after", args.trials), ("before", args.before_trials)):
        if trials:
            cwd = before_dir(args.before) if name == "before" else ROOT
            raw = run_worker([sys.executable, "-m", "bench.bench_search", "--worker", str(trials)], cwd)
            searches[name] = {"summary": _summary(raw), **raw}
            result["load_averages"].append(os.getloadavg())
            print(f"{name}: " + ", ".join(f"{k} {v:.3g}" for k, v in searches[name]["summary"].items()))
    result["search"] = searches
    with tempfile.TemporaryDirectory() as folder:
        if args.parallel_trials:
            sequential = _tune_seconds(Path(folder) / "jobs1", args.parallel_searches, args.parallel_trials, 1)
            parallel = _tune_seconds(Path(folder) / "jobsS", args.parallel_searches, args.parallel_trials,
                                     args.parallel_searches)
            result["parallel"] = {"searches": args.parallel_searches, "trials_per_search": args.parallel_trials,
                                  "sequential_s": sequential, "parallel_s": parallel,
                                  "ratio": parallel / sequential, "includes": "the whole tune command (top 1)"}
            result["load_averages"].append(os.getloadavg())
            print(f"parallel: {parallel:.1f} s vs sequential {sequential:.1f} s = {parallel / sequential:.2f}x")
        if args.default_tune:
            result["default_tune_s"] = {"after": _tune_seconds(Path(folder) / "default", None, None, 1)}
            if args.default_tune_before:
                result["default_tune_s"]["before"] = _tune_seconds(Path(folder) / "default-before", None, None, 1,
                                                                   cwd=before_dir(args.before))
            result["load_averages"].append(os.getloadavg())
            print(f"default tune: {result['default_tune_s']}")
    record(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
