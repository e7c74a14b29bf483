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
        row = {"wall_s": end[1] - previous[1], "before_fit_s": begin - previous[1],
               "first_epoch_s": epochs[0] - begin, "steady_epochs_s": epochs[-1] - epochs[0],
               "after_last_epoch_s": end[1] - epochs[-1], "epochs": len(epochs), "rss_mb": end[2],
               "cpu_s": end[3] - previous[3], "oracle_cpu_s": sum(oracle_seconds)}
        oracle_seconds.clear()
        with open(progress, "a") as file:
            file.write(json.dumps(row) + "\n")

    return keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: _EVENTS.append(("begin", time.perf_counter())),
        on_epoch_end=lambda epoch, logs: _EVENTS.append(("epoch", time.perf_counter())),
        on_train_end=trial_end)


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
    return {"trials": len(trials), "wall_s": total, "wall_s_per_trial": total / len(trials),
            "cpu_s_per_trial": sum(t["cpu_s"] for t in trials) / len(trials),
            "steady_state_fraction": sum(t["steady_epochs_s"] for t in trials) / total,
            "first_epoch_fraction": sum(t["first_epoch_s"] for t in trials) / total,
            "overhead_fraction": sum(t["before_fit_s"] + t["after_last_epoch_s"] for t in trials) / total,
            "epochs_per_trial": sum(t["epochs"] for t in trials) / len(trials),
            "rss_mb_first": rss[0], "rss_mb_last": rss[-1],
            "rss_growth_mb_trial_10_to_last": rss[-1] - rss[min(9, len(rss) - 1)],
            "oracle_cpu_s_max": max(t["oracle_cpu_s"] for t in trials),
            "oracle_cpu_s_total": sum(t["oracle_cpu_s"] for t in trials)}


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
    parser.add_argument("--deadline", type=float, default=3600.0,
                        help="seconds after which the searches are stopped and summarised (default 3600)")
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
    # After and before run at the same time, so that both see the same load on a shared machine; a search
    # still running after --deadline seconds is stopped and summarised over the trials it finished.
    searches, workers = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for name, trials in (("after", args.trials), ("before", args.before_trials)):
            if trials:
                cwd = before_dir(args.before) if name == "before" else ROOT
                progress = Path(folder) / f"{name}.jsonl"
                workers[name] = (progress, subprocess.Popen(
                    [sys.executable, "-m", "bench.bench_search", "--worker", str(trials), "--progress", str(progress)],
                    cwd=cwd, env={**os.environ, "PYTHONPATH": str(cwd)}, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + args.deadline
        for name, (progress, worker) in workers.items():
            try:
                worker.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.terminate()
                worker.wait()
            trials = [json.loads(line) for line in progress.read_text().splitlines()] if progress.exists() else []
            if not trials:
                raise SystemExit(f"the {name} search finished no trial")
            searches[name] = {"summary": _summary(trials), "complete": worker.returncode == 0, "trials": trials}
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
