"""The `explain` command: explain and compare the top-k models of one or more runs."""

import argparse


def register(subparsers):
    """Add `explain` to the command line."""
    parser = subparsers.add_parser(
        "explain", help="explain the top-k models of runs and compare them (IG, permutation, SHAP)",
        description="Explain every RUN_DIR/top/NN/model.keras on the run's test split with integrated gradients, "
                    "permutation importance on the KL per shot and (with the 'shap' extra) SHAP, then compare "
                    "the models: importance heatmap, ranks, Spearman/Kendall correlations between models and "
                    "between methods, and the feature groups in every model's top five. Writes report.md, CSVs "
                    "and PNGs to RUN_DIR/xai/ (the first run's, unless --out is given).",
        epilog="example: committor-keras explain runs/ala2 --methods ig,permutation --region transition")
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directory from `committor-keras tune`")
    parser.add_argument("--methods", default="ig,permutation",
                        help="comma-separated: ig, permutation, shap (default: ig,permutation)")
    parser.add_argument("--steps", type=_positive_int, default=64, help="IG Gauss-Legendre nodes (default 64)")
    parser.add_argument("--baseline", choices=("mean", "A", "B"), default="mean",
                        help="IG baseline: training mean, or the mean of basin A or B (default mean)")
    parser.add_argument("--output", choices=("logit", "committor"), default="logit",
                        help="output explained by IG and SHAP (default logit)")
    parser.add_argument("--region", choices=("all", "transition"), default="all",
                        help="average over all test points or the transition region 0.4 < q < 0.6 "
                             "(by each model's own q; default all)")
    parser.add_argument("--repeats", type=_positive_int, default=10, help="permutation repeats (default 10)")
    parser.add_argument("--shap-points", type=_positive_int, default=100,
                        help="test points explained by SHAP (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of permutations, bootstraps, SHAP draws")
    parser.add_argument("--data", default=None, help="data file, if it moved since the run (same sha256)")
    parser.add_argument("--out", default=None, help="report directory (default: RUN_DIR/xai of the first run)")
    parser.add_argument("--group", default="feature", metavar="feature|bond|FILE.json",
                        help="feature grouping: 'feature' (each sin/cos pair once; default), 'bond' (torsions "
                             "grouped by central bond, e.g. the six about N7-C9 as one), or a JSON file mapping "
                             "group names to feature names")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG heatmaps")
    parser.set_defaults(func=_explain)


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _explain(args):
    from committor_keras.explain import explain_run

    report = explain_run(
        args.run_dirs, methods=args.methods, out_dir=args.out, data_path=args.data, steps=args.steps,
        baseline=args.baseline, output=args.output, region=args.region, repeats=args.repeats,
        shap_points=args.shap_points, seed=args.seed, figures=not args.no_figures, grouping=args.group,
    )
    models = report.importances["model"].nunique()
    print(f"explained {models} model(s) with {', '.join(dict.fromkeys(report.importances['short_method']))}")
    for method, labels in report.consensus.items():
        print(f"  {method}: in every model's top 5: {', '.join(labels) if labels else 'none'}")
    print(f"report: {report.out_dir / 'report.md'}")
    return 0
