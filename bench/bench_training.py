"""Training throughput of the 90-64-64-1 swish committor MLP: the project against naive Keras and PyTorch.

Every variant trains the same network (90 inputs, two hidden layers of 64 swish units, one logit; Adam at
1e-3) with the same shot-weighted cross-entropy on the vacuum set's training split (1,599 points), computes
the validation KL per shot after every epoch, and is timed over ``--epochs`` epochs after one untimed epoch
(tracing, warm-up), the wall time between the ends of the epochs:

- ``after``: ``committor_keras.model.fit_model`` of this checkout (the trials' and top-k's path);
- ``before``: ``fit_model`` of ``--before`` (main at bd6e259 by default; imported in its own process);
- ``keras``: naive ``model.fit`` on NumPy arrays with ``validation_data``;
- ``torch``: a plain PyTorch loop (index slicing of a per-epoch permutation, ``torch.no_grad`` validation),
  with 1 and with 2 threads; the better is kept.

Each variant runs in its own process (thread settings and imports stay apart); the variants are interleaved
``--repeats`` times and the median kept, with the load average recorded (wall times are upper bounds on a
shared machine). Writes bench/results/training.json.

Usage: python -m bench.bench_training [--batch-sizes 32 256 1024] [--epochs 30] [--repeats 3]
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

from bench._common import BEFORE, DATA, ROOT, before_dir, record, run_worker

HIDDEN = 64
HPARAMS = {"hidden_layers": 2, "units_0": HIDDEN, "units_1": HIDDEN, "activation": "swish", "dropout": 0.0,
           "l2": 0.0, "learning_rate": 1e-3}
VARIANTS = ("after", "before", "keras", "torch")


def _sets():
    from committor_keras.data import labels, load, split_indices

    data = load(DATA)
    split = split_indices(data, 0)
    return [(data.features[i].astype(np.float32), labels(data)[i].astype(np.float32), None)
            for i in (split.train, split.validation)]


class _Clock:
    """Times the epochs of one training run: ``tick()`` at every epoch end (also a Keras callback)."""

    def __init__(self):
        self.ends = []

    @property
    def callback(self):
        import keras

        callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: self.tick())
        callback.reads_weights = False  # fit_model then leaves the model's variables alone until the end
        return callback

    def tick(self):
        self.ends.append(time.perf_counter())

    def seconds_per_epoch(self):
        """Mean wall time of the epochs after the first (tracing, warm-up)."""
        return (self.ends[-1] - self.ends[0]) / (len(self.ends) - 1)


def _project(batch_size, epochs):
    from committor_keras.model import build_model, fit_model

    train, validation = _sets()
    hparams = {**HPARAMS, "batch_size": batch_size}
    model = build_model(hparams, train[0], seed=0)
    clock = _Clock()
    fit_model(model, hparams, train, validation, epochs=epochs + 1, patience=epochs + 2, callbacks=[clock.callback])
    return clock.seconds_per_epoch()


def _keras(batch_size, epochs):
    from committor_keras.model import build_model

    (x, y, _), (xv, yv, _) = _sets()
    model = build_model({**HPARAMS, "batch_size": batch_size}, x, seed=0)
    clock = _Clock()
    model.fit(x, y, batch_size=batch_size, epochs=epochs + 1, validation_data=(xv, yv), shuffle=True, verbose=0,
              callbacks=[clock.callback])
    return clock.seconds_per_epoch()


def _torch(batch_size, epochs, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    (x, y, _), (xv, yv, _) = _sets()
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-7)
    x, xv = (torch.from_numpy((a - mean) / std) for a in (x, xv))
    y, yv = torch.from_numpy(y), torch.from_numpy(yv)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.SiLU(), torch.nn.Linear(HIDDEN, HIDDEN),
                                torch.nn.SiLU(), torch.nn.Linear(HIDDEN, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    softplus = torch.nn.functional.softplus
    n_v = yv.sum(dim=1)
    entropy_v = -(torch.special.xlogy(yv[:, 0], yv[:, 0] / n_v) + torch.special.xlogy(yv[:, 1], yv[:, 1] / n_v))

    def shot_ce(labels, z):
        return labels[:, 1] * softplus(-z) + labels[:, 0] * softplus(z)

    clock = _Clock()
    for _ in range(epochs + 1):
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            loss = shot_ce(y[index], model(x[index])[:, 0]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            float(((shot_ce(yv, model(xv)[:, 0]) - entropy_v).sum() / n_v.sum()))
        clock.tick()
    return clock.seconds_per_epoch()


def worker(variant, batch_sizes, epochs):
    """Seconds per epoch of one variant at each batch size (run in its own process)."""
    if variant == "torch":
        return {str(b): min(_torch(b, epochs, threads) for threads in (1, 2)) for b in batch_sizes}
    if variant == "keras":
        return {str(b): _keras(b, epochs) for b in batch_sizes}
    return {str(b): _project(b, epochs) for b in batch_sizes}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 256, 1024])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--before", default=str(BEFORE), help="checkout of the code to compare with")
    parser.add_argument("--out", default="bench/results/training.json")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.batch_sizes, args.epochs)))
        return 0

    n_train = len(_sets()[0][0])
    seconds = {variant: [] for variant in args.variants}
    loads = [os.getloadavg()]
    for _ in range(args.repeats):
        for variant in args.variants:
            cwd = before_dir(args.before) if variant == "before" else ROOT
            command = [sys.executable, "-m", "bench.bench_training", "--worker", variant, "--epochs", str(args.epochs),
                       "--batch-sizes", *map(str, args.batch_sizes)]
            seconds[variant].append(run_worker(command, cwd))
            loads.append(os.getloadavg())
    rows = []
    for batch in map(str, args.batch_sizes):
        row = {"batch_size": int(batch)}
        for variant in args.variants:
            row[f"{variant}_samples_per_s"] = n_train / statistics.median(r[batch] for r in seconds[variant])
        for variant in args.variants:
            if variant != "after" and "after_samples_per_s" in row:
                row[f"after_over_{variant}"] = row["after_samples_per_s"] / row[f"{variant}_samples_per_s"]
        rows.append(row)
        print("batch %5s: " % batch + ", ".join(f"{v} {row[f'{v}_samples_per_s'] / 1e3:7.1f}k/s" for v in args.variants))
    record(args.out, {
        "benchmark": "training samples/s of the 90-64-64-1 swish MLP with per-epoch validation (median of "
                     "interleaved repeats)",
        "goal": "after >= torch at every batch size", "n_train": n_train, "epochs_timed": args.epochs,
        "repeats": args.repeats, "results": rows, "raw_seconds_per_epoch": seconds, "load_averages": loads,
        "met": all(r.get("after_over_torch", 0) >= 1 for r in rows) if "torch" in args.variants else None,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
