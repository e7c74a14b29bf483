"""Time integrated gradients (64 Gauss-Legendre nodes) + permutation importance (10 repeats) for 10 models on
2,000 points.

The models are fresh package networks (``build_model``, 2-3 hidden layers of 64-128 units, adapted
normalisation); the cost does not depend on the weights, so they are not trained. Each model is new to the
explainers, so every timing includes tracing its functions once, as ``committor-keras explain`` pays it.
The data are synthetic: 2 relevant features, 8 decoys and one sin/cos angle pair (12 features, 11 groups).
Writes bench/results/explain.json.

Usage: python -m bench.bench_explain [--models 10] [--points 2000] [--steps 64] [--repeats 10]
"""

import argparse
import os
import platform
import time
import warnings

from committor_keras._provenance import library_versions, write_json_atomic


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench/results/explain.json")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from committor_keras.data import make_synthetic
    from committor_keras.explain import integrated_gradients, permutation_importance
    from committor_keras.model import build_model

    warnings.simplefilter("ignore")
    data = make_synthetic(n_points=args.points, n_relevant=2, n_decoys=8, shots_per_point=20, seed=args.seed,
                          angle_weight=1.0)
    shapes = [(2, 64), (3, 64), (2, 128), (3, 128), (2, 96)]
    models = []
    for i in range(args.models):
        layers, units = shapes[i % len(shapes)]
        hparams = {"hidden_layers": layers, "activation": "swish", **{f"units_{k}": units for k in range(layers)}}
        models.append((f"{layers}x{units}", build_model(hparams, data.features, seed=i)))

    rows = []
    load_before = os.getloadavg()
    # CPU time next to wall time: on a shared machine the wall time also measures the other processes.
    start_all, cpu_all = time.perf_counter(), time.process_time()
    for name, model in models:
        start = time.perf_counter()
        ig = integrated_gradients(model, data, steps=args.steps)
        ig_seconds = time.perf_counter() - start
        start = time.perf_counter()
        permutation = permutation_importance(model, data, repeats=args.repeats, seed=args.seed)
        permutation_seconds = time.perf_counter() - start
        start = time.perf_counter()
        ig.table()
        permutation.table()
        table_seconds = time.perf_counter() - start
        rows.append({"model": name, "ig_s": round(ig_seconds, 3), "permutation_s": round(permutation_seconds, 3),
                     "tables_s": round(table_seconds, 3), "max_completeness_delta": float(ig.delta.max())})
    total, total_cpu = time.perf_counter() - start_all, time.process_time() - cpu_all
    explain_only = sum(row["ig_s"] + row["permutation_s"] for row in rows)

    # The same model a second time: the traced functions are reused, so this is the cost without tracing.
    name, model = models[0]
    start = time.perf_counter()
    integrated_gradients(model, data, steps=args.steps)
    warm_ig = time.perf_counter() - start
    start = time.perf_counter()
    permutation_importance(model, data, repeats=args.repeats, seed=args.seed)
    warm_permutation = time.perf_counter() - start

    n_groups = len(data.groups())
    result = {
        "benchmark": "integrated gradients + permutation importance for several models",
        "models": args.models, "points": args.points, "features": data.n_features, "groups": n_groups,
        "ig_steps": args.steps, "ig_quadrature": "gauss-legendre", "ig_model_rows_per_model": args.points * args.steps,
        "permutation_repeats": args.repeats,
        "permutation_model_rows_per_model": args.points * (args.repeats * n_groups + 1),
        "total_seconds": round(total, 2), "total_cpu_seconds": round(total_cpu, 2),
        "ig_plus_permutation_seconds": round(explain_only, 2),
        "tables_seconds": round(sum(row["tables_s"] for row in rows), 2),
        "target_seconds": 10.0, "meets_target": explain_only < 10.0,
        "per_model": rows,
        "warm_second_call_seconds": {"model": name, "ig": round(warm_ig, 3),
                                     "permutation": round(warm_permutation, 3)},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                    "load_average_before": [round(v, 2) for v in load_before],
                    "load_average_after": [round(v, 2) for v in os.getloadavg()],
                    "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads()},
        "versions": library_versions(),
    }
    write_json_atomic(args.out, result)
    print(f"{args.models} models x {args.points} points: IG ({args.steps} nodes) + permutation "
          f"({args.repeats} repeats, {n_groups} groups) in {explain_only:.2f} s (target 10 s; with tables "
          f"{total:.2f} s wall, {total_cpu:.2f} s CPU); written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
