"""The `inspect` command: validate a committor data set and describe it."""

import json


def register(subparsers):
    """Add `inspect` to the command line."""
    parser = subparsers.add_parser(
        "inspect", help="validate a committor data set and print its summary",
        description="Load DATA (.npz or .csv), run every validation check, and print a summary: points, "
                    "features, shots, the p_B distribution, feature groups and states.",
        epilog="example: committor-keras inspect data/alanine_dipeptide_vacuum/alanine_dipeptide_vacuum.npz")
    parser.add_argument("data", help="committor data set (.npz or .csv)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=_inspect)


def _inspect(args):
    from committor_keras.data import load

    data = load(args.data)
    summary = data.summary()
    summary["sha256"] = data.content_sha256()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(repr(data))
    for key, value in summary.items():
        print(f"  {key}: {value}")
    groups = [name for name, members in data.groups() if len(members) > 1]
    if groups:
        print(f"  grouped features: {', '.join(data.alias(g) for g in groups[:12])}"
              + (" ..." if len(groups) > 12 else ""))
    return 0
