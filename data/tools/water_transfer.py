"""Transfer across the water crossing channels (issue #9 item 2): the water results' transfer section.

From the combined set (data/alanine_dipeptide_water_channels/alanine_dipeptide_water_all_channels.npz, with
extras["channel"]), `committor_keras.validate.channel_transfer` trains the package's network on each
channel's training part alone and on all of them, and scores every model on every channel's test part
(test KL per shot, RMSE of q against p_B); repeated over seeds (each seed: its own split and initialisation).
A constant model (q = the training part's mean p_B) is scored on the same splits as the scale of "nothing
learnt". The network's hyperparameters are the best water candidate's (rank 1 of the water study's
docs/results/water/tables/candidates.csv) unless --hparams gives a JSON file.

Once both water work directories have finished shooting (their finish.sh has written the combined set):
    python data/tools/water_transfer.py --out docs/results/water_transfer
writes OUT/transfer.csv (every seed, model and pair), OUT/transfer_summary.csv (mean and sd over seeds) and
OUT/README.md (the section: tables of test KL per shot, train channel x test channel). While shooting runs,
--partial labels everything as a smoke test of a partial snapshot (numbers not results); --epochs and
--seeds make it quick.
"""

import argparse
import csv
import datetime
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "alanine_dipeptide_water_channels" / "alanine_dipeptide_water_all_channels.npz"
CANDIDATES = ROOT / "docs" / "results" / "water" / "tables" / "candidates.csv"


def best_hparams(path=CANDIDATES):
    """The hp_* columns of the rank-1 candidate, typed, empty ones dropped."""
    with open(path) as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: int(row["rank"]))
    hparams = {}
    for key, value in rows[0].items():
        if not key.startswith("hp_") or value == "":
            continue
        name = key[3:]
        if name in ("hidden_layers", "batch_size") or name.startswith("units_"):
            hparams[name] = int(float(value))
        else:
            try:
                hparams[name] = float(value)
            except ValueError:
                hparams[name] = value
    return hparams


def constant_fit(train):
    """q = the training part's mean p_B everywhere."""
    q = float(train.n_b.sum() / max(train.n_a.sum() + train.n_b.sum(), 1))
    return lambda features: np.full(len(features), q)


def summarise(rows):
    """Mean and sd over seeds per (model, train, test)."""
    groups = {}
    for row in rows:
        groups.setdefault((row["model"], row["train"], row["test"]), []).append(row)
    out = []
    for (model, train, test), members in groups.items():
        kl = np.array([m["kl_per_shot"] for m in members])
        rmse = np.array([m["rmse"] for m in members])
        out.append({"model": model, "train": train, "test": test, "seeds": len(members),
                    "n_train_mean": float(np.mean([m["n_train"] for m in members])),
                    "n_test_mean": float(np.mean([m["n_test"] for m in members])),
                    "kl_per_shot_mean": float(kl.mean()), "kl_per_shot_sd": float(kl.std(ddof=1)) if len(kl) > 1 else 0.0,
                    "rmse_mean": float(rmse.mean()), "rmse_sd": float(rmse.std(ddof=1)) if len(rmse) > 1 else 0.0})
    return out


def _shown(path):
    """A path as the README shows it: relative to the repository root (where its commands run) when inside."""
    path = Path(path).resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def markdown(summary, data, args, hparams):
    tests = list(dict.fromkeys(r["test"] for r in summary))
    trains = list(dict.fromkeys(r["train"] for r in summary if r["model"] == "network"))
    cell = {(r["model"], r["train"], r["test"]): r for r in summary}

    def fmt(r):
        return f"{r['kl_per_shot_mean']:.4f} ± {r['kl_per_shot_sd']:.4f}" if r["seeds"] > 1 else f"{r['kl_per_shot_mean']:.4f}"

    channel = np.asarray(data.extras["channel"], float)
    counts = {name: int((channel == int(code)).sum()) for code, name in
              ((c, v["name"]) for c, v in data.metadata["channels"]["codes"].items())}
    p_b = data.n_b / np.maximum(data.n_a + data.n_b, 1)
    in_range = {name: int(((channel == int(code)) & (p_b > 0.1) & (p_b < 0.9)).sum()) for code, name in
                ((c, v["name"]) for c, v in data.metadata["channels"]["codes"].items())}
    lines = ["# Transfer across the water crossing channels", ""]
    if args.partial:
        lines += ["> **PARTIAL SNAPSHOT, SMOKE TEST ONLY: these numbers are not results.** The shooting was still "
                  "running; channels hold few configurations and the test parts are tiny.", ""]
    lines += [f"Made {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='minutes')} with "
              f"`python data/tools/water_transfer.py --data {_shown(args.data)} --out {_shown(args.out)} --seeds "
              f"{' '.join(map(str, args.seeds))} --epochs {args.epochs}{' --partial' if args.partial else ''}` "
              f"from `{Path(args.data).name}` ({len(data)} configurations; parts "
              f"{', '.join(data.metadata.get('parts', {}).values())}).", "",
              "Configurations per channel (near the barrier, -45 < phi < 45; basins left out): "
              + ", ".join(f"{name} {counts[name]} ({in_range[name]} with 0.1 < p_B < 0.9)" for name in counts) + ".", "",
              f"Each channel is split once per seed (stratified over p_B, 80/10/10; the 10 % test part is scored); the "
              f"network ({json.dumps(hparams)}) is trained on one channel's training part, or on all channels' "
              f"(`all`), with early stopping on an inner validation split, {args.epochs} epochs at most. Test KL "
              f"per shot (nats, lower is better; mean ± sd over {len(args.seeds)} seed(s)); rows: trained on, "
              "columns: tested on. A model that describes another channel has a cross-channel KL close to the "
              "in-channel one (the diagonal).", "",
              "| trained on \\ tested on | " + " | ".join(tests) + " |", "|---|" + "---:|" * len(tests)]
    for train in trains:
        lines.append(f"| {train} | " + " | ".join(fmt(cell[("network", train, t)]) if ("network", train, t) in cell
                                                 else "-" for t in tests) + " |")
    lines.append("| constant q (training mean p_B, own channel) | "
                 + " | ".join(fmt(cell[("constant", t, t)]) for t in tests) + " |")
    lines += ["", "`transfer.csv`: every seed, model and (train, test) pair (n_train, n_test, shots_test, "
              "kl_per_shot, rmse); `transfer_summary.csv`: mean and sd over seeds.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA), help="combined set with extras['channel'] (default: %(default)s)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--hparams", default=None, help="JSON file of hyperparameters (default: best water candidate)")
    parser.add_argument("--partial", action="store_true", help="label the output as a partial-snapshot smoke test")
    args = parser.parse_args(argv)

    from committor_keras.data import load
    from committor_keras.validate import channel_transfer, keras_fit

    data = load(args.data)
    hparams = json.loads(Path(args.hparams).read_text()) if args.hparams else best_hparams()
    rows = []
    for seed in args.seeds:
        for model, fit in (("network", keras_fit(hparams, epochs=args.epochs, patience=args.patience, seed=seed)),
                           ("constant", constant_fit)):
            table = channel_transfer(data, "channel", fit, seed=seed)
            for row in table.to_dict("records"):
                if model == "constant" and row["train"] != row["test"]:
                    continue
                rows.append({"model": model, "seed": seed, **row})
            print(f"seed {seed} {model}: done", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in (("transfer.csv", rows), ("transfer_summary.csv", summarise(rows))):
        with open(out / name, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    (out / "README.md").write_text(markdown(summarise(rows), data, args, hparams))
    print(out / "README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
