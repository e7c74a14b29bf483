"""The `predict` and `serve-check` commands."""

import argparse
import json
import sys


def register(subparsers):
    """Add `predict` and `serve-check` to the command line."""
    parser = subparsers.add_parser(
        "predict", help="committor of every point of a data set with an exported model",
        description="Load MODEL (a top/NN directory, a .keras file or a SavedModel directory) and write the "
                    "committor q = sigmoid(logit) of every point of DATA (.npz or .csv; labels optional) as "
                    "CSV: index, committor, logit, and p_b when DATA has shot counts. Feature columns are "
                    "matched to the model card by name.",
        epilog="example: committor-keras predict runs/ala2/top/01 new_points.npz --out q.csv")
    parser.add_argument("model", help="model directory (top/NN), .keras file or SavedModel directory")
    parser.add_argument("data", help="data set (.npz or .csv) with the model's feature columns")
    parser.add_argument("--out", help="CSV file to write (default: print to standard output)")
    parser.set_defaults(func=_predict)

    parser = subparsers.add_parser(
        "serve-check", help="check that the served SavedModel matches the Keras model",
        description="Load MODEL_DIR/saved_model/<version> with tf.saved_model.load, call its serving_default "
                    "signature as TF Serving does, and compare the committor with MODEL_DIR/model.keras on "
                    "DATA (default: the data named on the card, which must be there unchanged unless --probes-only) "
                    "plus probes far outside the training data. Prints the largest differences; exits 1 above "
                    "the tolerance.",
        epilog="example: committor-keras serve-check runs/ala2/top/01")
    parser.add_argument("model_dir", help="model directory with card.json, model.keras and saved_model/")
    parser.add_argument("--data", help="data set (.npz or .csv) to compare on")
    parser.add_argument("--tolerance", type=_tolerance, default=None,
                        help="largest acceptable |q_served - q_keras| (default 1e-5)")
    parser.add_argument("--probes-only", action="store_true",
                        help="compare on the probes alone when the card's data file is not available")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_serve_check)


def _tolerance(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 0")
    return value


def _predict(args):
    import numpy as np
    import pandas as pd

    from committor_keras._paths import output_file
    from committor_keras._provenance import atomic_path

    if args.out is not None:
        output_file(args.out)  # before loading anything: a bad --out is reported at once
    from committor_keras.export import load_committor_model
    from committor_keras.export._load import committor_from_logit

    features, names, p_b, source = _read_points(args.data)
    model = load_committor_model(args.model)
    if model.feature_names is not None:
        features = features[:, model.columns(names, source)]
    logit = model.predict_logit(model.features_of(features, source))
    table = pd.DataFrame({"index": np.arange(len(logit)), "committor": committor_from_logit(logit),
                          "logit": logit})
    if p_b is not None:
        table["p_b"] = p_b
    if args.out is None:
        table.to_csv(sys.stdout, index=False, float_format="%.9g")
        return 0
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.9g")
    print(f"wrote {len(table)} committor values to {args.out}")
    return 0


def _read_points(path):
    """Features, names, p_B (or None) and source of a data file; labels are optional for prediction."""
    from committor_keras.data import load_features

    table = load_features(path)
    return table.features, table.feature_names, table.p_b, table.source


def _serve_check(args):
    from committor_keras.export import serve_check
    from committor_keras.export._serve_check import DEFAULT_TOLERANCE

    data = None
    if args.data:
        from committor_keras.data import load

        data = load(args.data)
    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    result = serve_check(args.model_dir, data=data, tolerance=tolerance, probes_only=args.probes_only)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        verdict = "OK" if result["ok"] else "FAILED"
        print(f"serve-check {result['saved_model']}: max |q_served - q_keras| = "
              f"{result['max_abs_diff_committor']:.3g}, max |z_served - z_keras| = "
              f"{result['max_abs_diff_logit']:.3g}, gradients (relative) {result['max_rel_diff_gradient']:.3g} "
              f"over {result['points']} points ({result['inputs']}); "
              f"{verdict} (tolerance {result['tolerance']:g})")
    return 0 if result["ok"] else 1
