"""The water committor test read per crossing channel (issue #9 item 3): docs/results/committor_test_water/.

After a water committor test, e.g.
    committor-keras committor-test runs/water-all/top/01 --md data/alanine_dipeptide_water_committor_test \
        --n 100 --shots 50 --workers 2 --out runs/ct-water --seed 0 --no-progress
this writes, from the repository root,
    python data/tools/water_committor_test.py runs/ct-water --out docs/results/committor_test_water
OUT/committor_test.json and .png (copies), and OUT/per_channel.csv: `committor_test_summary` of the
picked configurations grouped by crossing channel, labelled from each one's own phi and psi with the
channels of data/alanine_dipeptide_water_channels/channels.json (the labels of the training data). The
table is printed as Markdown for the README.
"""

import argparse
import importlib.util
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "data" / "alanine_dipeptide_water_channels" / "package.py"
FILES = ("committor_test.json", "committor_test.png")


def _channels_module():
    spec = importlib.util.spec_from_file_location("water_channels_package", PACKAGE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_channel(result):
    """``committor_test_summary`` of a committor-test result by crossing channel (DataFrame)."""
    from committor_keras.validate import committor_test_summary

    channels = _channels_module()
    picked = result["configurations"]
    codes = channels.channel_codes([c["phi"] for c in picked], [c["psi"] for c in picked])
    names = channels.channel_names()
    return committor_test_summary([c["q"] for c in picked], [c["n_a"] for c in picked],
                                  [c["n_b"] for c in picked], groups=[names[int(code)] for code in codes])


def markdown(table):
    columns = ["n", "mean_q", "mean_p_b", "median_p_b", "std_p_b", "std_binomial", "std_expected", "width_ratio"]
    lines = ["| group | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, row in table.iterrows():
        lines.append(f"| {name} | {int(row['n'])} | "
                     + " | ".join(f"{row[c]:.3f}" for c in columns[1:]) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("test", help="the committor test's --out directory")
    parser.add_argument("--out", required=True, help="results directory (created)")
    args = parser.parse_args(argv)
    source = Path(args.test)
    missing = [name for name in FILES if not (source / name).is_file()]
    if missing:
        print(f"error: {source}: no {', '.join(missing)}; run the committor test to the end first", file=sys.stderr)
        return 2
    table = per_channel(json.loads((source / FILES[0]).read_text()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(source / name, out / name)
    table.to_csv(out / "per_channel.csv", index_label="group", float_format="%.4f")
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
