"""Where one epoch of ``fit_model`` goes: the profile behind the training-throughput figure at large batches.

Same network, loss and data as ``bench_training`` (the 90-64-64-1 swish MLP on the vacuum set's training
split, 1,599 points; validation 200 points). Per batch size, medians of ``--repeats`` interleaved runs of
``--epochs`` epochs after a warm-up, in ms per epoch:

- ``fit_model``: the whole routine, as ``bench_training`` times it (callbacks that read no weights);
- ``call``: the compiled epoch called in a plain loop, its logs fetched (no callbacks, no early stopping);
- ``call_validation_only``: the same call with a 1-point training set: the call's fixed cost plus the
  validation pass (loss and three metrics);
- ``call_training_only``: the same call with a 1-point validation set: the reshuffle and every Adam step with
  its training-metric sums, plus the fixed cost.

``fit_model - call`` is the Python side (logs, early stopping, callbacks); ``call - call_validation_only`` is
the steps. ``--threads N`` sets TensorFlow's intra- and inter-op threads. Writes
bench/results/epoch_profile.json (one entry per thread setting).

Usage: python -m bench.bench_epoch_profile [--batch-sizes 1024] [--epochs 30] [--repeats 3] [--threads N]
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from bench._common import record
from bench.bench_training import HPARAMS, _project, _sets


def _profile(batch_size, epochs, repeats):
    import tensorflow as tf

    from committor_keras.model import build_model
    from committor_keras.model._training import _concrete_epoch, _NetworkPlan

    train, validation = _sets()
    hparams = {**HPARAMS, "batch_size": batch_size}
    plan = _NetworkPlan.of(build_model(hparams, train[0], seed=0))
    train_set, validation_set = plan.resident(train), plan.resident(validation)
    one_point = {"train": tuple(t[:1] for t in train_set), "validation": tuple(t[:1] for t in validation_set)}
    variables, moments, velocities = plan.variables()
    depth = len(plan.dense)
    state = [[tf.convert_to_tensor(v) for v in group] for group in (variables, moments, velocities)]
    state.append(tf.convert_to_tensor(plan.optimizer.iterations))
    settings = plan.settings(batch_size)
    run_epoch = _concrete_epoch(plan.structure, depth)

    def call(train_part, validation_part, count):
        weights, moment_values, velocity_values, iterations = state
        start = time.perf_counter()
        for epoch in range(count):
            logs, weights, moment_values, velocity_values, iterations = run_epoch(
                train_part, validation_part, tf.constant([0, epoch], tf.int64), weights[:depth], weights[depth:],
                moment_values, velocity_values, iterations, *settings)
            logs.numpy()
        return (time.perf_counter() - start) / count

    calls = {"call": (train_set, validation_set), "call_validation_only": (one_point["train"], validation_set),
             "call_training_only": (train_set, one_point["validation"])}
    for sets in calls.values():  # warm-up: the first calls of a shape pay for graph optimisation
        call(*sets, 2)
    seconds = {name: [] for name in ("fit_model", *calls)}
    for _ in range(repeats):
        seconds["fit_model"].append(_project(batch_size, epochs))
        for name, sets in calls.items():
            seconds[name].append(call(*sets, epochs))
    return {name: {"ms_per_epoch": 1e3 * statistics.median(values), "runs_ms": [1e3 * v for v in values]}
            for name, values in seconds.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1024])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="TensorFlow intra- and inter-op threads (default: TF's own)")
    parser.add_argument("--out", default="bench/results/epoch_profile.json")
    args = parser.parse_args(argv)
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    load = [os.getloadavg()]
    profiles = {}
    for batch_size in args.batch_sizes:
        profiles[str(batch_size)] = _profile(batch_size, args.epochs, args.repeats)
        load.append(os.getloadavg())
        row = profiles[str(batch_size)]
        print(f"batch {batch_size}: " + ", ".join(f"{k} {v['ms_per_epoch']:.2f} ms" for k, v in row.items())
              + f"; load {load[-1][0]:.1f}")
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    key = f"threads_{args.threads}" if args.threads else "threads_default"
    runs = {**previous.get("runs", {}), key: {"profiles": profiles, "load_averages": load, "epochs": args.epochs,
                                              "repeats": args.repeats}}
    record(args.out, {"benchmark": "one fit_model epoch taken apart (ms per epoch, medians)", "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
