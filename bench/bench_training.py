"""Time one training epoch of a 45-64-64-1 committor MLP: naive ``fit`` against the pipeline fit_model uses.

- naive: ``model.fit(x, y, batch_size=B)`` on NumPy arrays, one Python-driven step per batch;
- pipeline: a cached, shuffled, batched ``tf.data.Dataset`` with ``steps_per_execution`` = steps per epoch,
  so the whole epoch runs inside one ``tf.function`` call (what ``committor_keras.model.fit_model`` does).

Both train the same network (``build_model``, same seed) on random data with the shape of the alanine
dipeptide set (45 features, [n_a, n_b] labels); the first epoch (tracing) is excluded and the best of the
repeats is kept. The machine's load average is recorded, since other jobs inflate wall times.
Writes bench/results/training.json.

Usage: python -m bench.bench_training [--points 8000] [--batch-sizes 32 128 512] [--epochs 3] [--repeats 3]
"""

import argparse
import math
import os
import platform
import time

import numpy as np

from committor_keras._provenance import library_versions, write_json_atomic

HPARAMS = {"hidden_layers": 2, "units_0": 64, "units_1": 64, "activation": "swish", "learning_rate": 1e-3}


def _epoch_seconds(fit_one_epoch, epochs, repeats):
    """Best over ``repeats`` of the mean wall time per epoch, after one untimed (tracing) epoch."""
    fit_one_epoch()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(epochs):
            fit_one_epoch()
        best = min(best, (time.perf_counter() - start) / epochs)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=8000)
    parser.add_argument("--features", type=int, default=45)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench/results/training.json")
    args = parser.parse_args(argv)

    from committor_keras.model import build_model, make_dataset

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.points, args.features)).astype(np.float32)
    shots = 10
    n_b = rng.binomial(shots, 1 / (1 + np.exp(-x[:, :2].sum(axis=1)))).astype(np.float32)
    y = np.stack([shots - n_b, n_b], axis=1)

    load_before = os.getloadavg()
    rows = []
    for batch_size in args.batch_sizes:
        steps = math.ceil(args.points / batch_size)
        hparams = {**HPARAMS, "batch_size": batch_size}

        naive_model = build_model(hparams, x, seed=args.seed)
        naive = _epoch_seconds(
            lambda: naive_model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0),
            args.epochs, args.repeats)

        pipeline_model = build_model(hparams, x, seed=args.seed)
        pipeline_model.steps_per_execution = steps
        dataset = make_dataset(x, y, batch_size=batch_size, shuffle_seed=args.seed)
        pipeline = _epoch_seconds(lambda: pipeline_model.fit(dataset, epochs=1, shuffle=False, verbose=0),
                                  args.epochs, args.repeats)
        rows.append({"batch_size": batch_size, "steps_per_epoch": steps,
                     "naive_ms_per_step": 1e3 * naive / steps, "pipeline_ms_per_step": 1e3 * pipeline / steps,
                     "naive_s_per_epoch": naive, "pipeline_s_per_epoch": pipeline, "speedup": naive / pipeline})
        print(f"batch {batch_size:5d}: naive {1e3 * naive / steps:7.3f} ms/step, pipeline "
              f"{1e3 * pipeline / steps:7.3f} ms/step, speed-up x{naive / pipeline:.1f}")

    write_json_atomic(args.out, {
        "benchmark": "training epoch of a 45-64-64-1 MLP: naive fit vs tf.data + steps_per_execution",
        "points": args.points, "features": args.features, "epochs_timed": args.epochs, "repeats": args.repeats,
        "results": rows,
        "cpu_count": os.cpu_count(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "platform": platform.platform(), "versions": library_versions(),
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
