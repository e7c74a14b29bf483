"""CPU time of the Bayesian oracle per trial, up to 200 trials: Keras Tuner's against CommittorOracle.

Both oracles get the default search space, the seed a search with ``--seed`` gives its oracle
(``committor_keras.search._tuner.oracle_seed``, i.e. ``derive_seed(seed, "oracle")``) and the same synthetic
scores (a smooth function of the trial's hyperparameters plus seeded noise), so only the proposal step is
timed: ``populate_space`` for each new trial, as CPU seconds of this process (``time.process_time``: robust to
the load of a shared machine, unlike wall time; BLAS threads spinning count too). "Before" is Keras Tuner's
own ``BayesianOptimizationOracle``, which the searches used before issue 11; "after" is ``CommittorOracle``.
The goal is at most 0.5 CPU-s per trial for every trial up to 200. Writes bench/results/oracle.json.

Usage: python -m bench.bench_oracle [--trials 200] [--before-trials 200] [--seed 0]
"""

import argparse
import math
import os
import tempfile
import time

import numpy as np

from bench._common import record


def _score(values, rng):
    """A smooth synthetic objective of the trial's hyperparameters, with a little noise."""
    return (abs(math.log10(values["learning_rate"]) + 3) + 0.3 * abs(values["hidden_layers"] - 2)
            + abs(math.log2(values["batch_size"]) - 7) / 5 + values["dropout"] + 0.01 * rng.standard_normal())


def time_oracle(oracle_class, trials, seed=0):
    """CPU seconds of ``populate_space`` for each of ``trials`` trials of ``oracle_class``."""
    import keras_tuner

    from committor_keras.model import SearchSpace
    from committor_keras.search._tuner import oracle_seed

    hp = keras_tuner.HyperParameters()
    SearchSpace().declare(hp)
    oracle = oracle_class(objective=keras_tuner.Objective("score", "min"), max_trials=trials + 1,
                          num_initial_points=10, seed=oracle_seed(seed), hyperparameters=hp)
    oracle.verbose = 0
    seconds = []
    populate_space = oracle.populate_space

    def timed_populate_space(trial_id):
        start = time.process_time()
        response = populate_space(trial_id)
        seconds.append(time.process_time() - start)
        return response

    oracle.populate_space = timed_populate_space
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as folder:
        oracle._set_project_dir(folder, "bench")
        for index in range(trials):
            trial = oracle.create_trial("tuner0")
            oracle.update_trial(trial.trial_id, {"score": _score(trial.hyperparameters.values, rng)})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--before-trials", type=int, default=200,
                        help="trials of Keras Tuner's oracle (it takes seconds a trial: fewer to save time)")
    parser.add_argument("--seed", type=int, default=0, help="the search seed whose oracle seed is used")
    parser.add_argument("--out", default="bench/results/oracle.json")
    args = parser.parse_args(argv)

    import keras_tuner

    from committor_keras.search._oracle import CommittorOracle

    loads = [os.getloadavg()]
    after = time_oracle(CommittorOracle, args.trials, args.seed)
    loads.append(os.getloadavg())
    before = time_oracle(keras_tuner.oracles.BayesianOptimizationOracle, args.before_trials, args.seed)
    loads.append(os.getloadavg())
    summary = {name: {"max_cpu_s": max(values), "max_at_trial": int(np.argmax(values)),
                      "mean_cpu_s": float(np.mean(values)),
                      "mean_cpu_s_last_20": float(np.mean(values[-20:])), "trials": len(values),
                      "total_cpu_s": float(np.sum(values))}
               for name, values in (("before", before), ("after", after))}
    for name, values in summary.items():
        print(f"{name:6s}: max {values['max_cpu_s']:.3f} CPU-s/trial (trial {values['max_at_trial']}), mean "
              f"{values['mean_cpu_s']:.3f}, total {values['total_cpu_s']:.1f}; load {loads[-1][0]:.1f}")
    record(args.out, {
        "benchmark": f"Bayesian oracle CPU-s per proposed trial, default space ({args.trials} trials after, "
                     f"{args.before_trials} before)",
        "goal": "after: <= 0.5 CPU-s for every trial", "met": summary["after"]["max_cpu_s"] <= 0.5,
        "speedup_first_trials": float(np.sum(before) / np.sum(after[:len(before)])),
        "seed": args.seed, "oracle_seed": "derive_seed(seed, 'oracle')",
        "summary": summary, "cpu_s_per_trial": {"before": before, "after": after}, "load_averages": loads,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
