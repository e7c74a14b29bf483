"""``committor-keras md ...``: build, sample, shoot and package alanine dipeptide committor data.

OpenMM and MDAnalysis are imported inside the handlers so ``--help`` stays instant.
"""

import argparse
import json
import sys

from committor_keras._errors import ConfigError


def register(subparsers):
    """Add the ``md`` command group to the ``committor-keras`` parser."""
    md = subparsers.add_parser("md", help="OpenMM shooting for alanine dipeptide (needs the md extra)",
                               description=DESCRIPTION)
    _add_commands(md)
    # The issue's and the docs' short form: `committor-keras shoot WORKDIR` is `committor-keras md shoot WORKDIR`.
    _add_stage(subparsers, "shoot", _STAGES["shoot"] + " (same as `md shoot`)")
    return md


DESCRIPTION = ("Make committor data by shooting: init a work directory from a preset, then `run` it "
               "(build -> sample -> shoot), resumable at any point; `make-dataset` writes the .npz.")


_STAGES = {
    "build": "build system.pdb (water: solvate + NPT equilibration)",
    "sample": "sample configurations.xtc (restrained windows + basins)",
    "shoot": "fire the missing shots into shots/*.jsonl",
    "run": "build, sample and shoot whatever is missing",
}


def _add_stage(subparsers, name, helptext):
    p = subparsers.add_parser(name, help=helptext, description=helptext.capitalize() + "; resumable.")
    p.add_argument("workdir")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--threads", type=int, default=1, help="CPU-platform threads per worker (default 1)")
    if name in ("shoot", "run"):
        p.add_argument("--max-minutes", type=float, default=None,
                       help="stop submitting shots after this long (exit status 3: more to do)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--windows", default=None, type=_parse_windows, metavar="LIST",
                       help="only configurations sampled in these windows (0-based, md.json's order), "
                            "e.g. 0-12,19; the rest wait for a later run")
        p.add_argument("--finish-started", action="store_true",
                       help="only the missing top-ups of configurations that already have shots: finish "
                            "what was started, start nothing new")
    if name == "shoot":
        p.add_argument("--slice", default=None, metavar="K/N",
                       help="only configurations with index %% N == K, into shots/slice-K-of-N.jsonl "
                            "(one cluster array task); results of all slices merge automatically")
    p.set_defaults(func={"build": _build, "sample": _sample, "shoot": _shoot, "run": _run}[name])


def _add_commands(md):
    sub = md.add_subparsers(dest="md_command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create WORKDIR/md.json from a preset",
                       description="Create WORKDIR/md.json from a preset, with optional overrides.")
    p.add_argument("workdir")
    p.add_argument("--preset", choices=("vacuum", "water"), required=True)
    p.add_argument("--seed", type=int, default=2024, help="master seed of every OpenMM stream (default 2024)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                   help="override an md.json field, e.g. --set n_shots=50 --set 'topup_range=[0.2,0.8]'")
    p.set_defaults(func=_init)

    for name, helptext in _STAGES.items():
        _add_stage(sub, name, helptext)

    p = sub.add_parser("status", help="print progress of WORKDIR as JSON")
    p.add_argument("workdir")
    p.set_defaults(func=_status)

    p = sub.add_parser("readme", help="write WORKDIR/README.md (recipe, progress, p_B histogram, sha256)",
                       description="Write WORKDIR/README.md from the work directory's records: parameters, "
                                   "states, seeds, counts, timings, the p_B histogram and the sha256 of every file.")
    p.add_argument("workdir")
    p.add_argument("--title", default=None, help="first heading (default: the system name)")
    p.add_argument("--command", action="append", default=[], dest="commands", metavar="CMD",
                   help="a command that makes the data set (repeat, in order)")
    p.add_argument("--notes", default=None, metavar="FILE", help="Markdown file with notes to include")
    p.set_defaults(func=_readme)

    p = sub.add_parser("make-dataset", help="featurise configurations and write the CommittorData .npz",
                       description="Featurise configurations.xtc and write OUT (.npz) with n_a/n_b counts, "
                                   "commit times and metadata; configurations without shots are left out.")
    p.add_argument("workdir")
    p.add_argument("--out", required=True, help="output .npz path")
    p.add_argument("--require-complete", action="store_true",
                   help="refuse to write while shots are still pending")
    p.set_defaults(func=_make_dataset)


def _command_line():
    """``sys.argv`` as the user typed it (``python -m committor_keras.md`` rather than a path to __main__)."""
    from pathlib import Path

    program = Path(sys.argv[0]).name
    return (["python", "-m", "committor_keras.md"] if program == "__main__.py" else [program]) + sys.argv[1:]


def _log_command(workdir):
    import shlex
    from pathlib import Path

    from committor_keras.md._workdir import logger

    if Path(workdir).is_dir():
        logger(workdir, echo=False)("command: " + shlex.join(_command_line()))


def _parse_overrides(items):
    overrides = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected FIELD=JSON, e.g. --set n_shots=50")
        try:
            overrides[field] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--set {item!r}: the value is not JSON ({exc}); quote strings") from exc
    return overrides


def _init(args):
    from committor_keras.md._config import PRESETS, MDConfig
    from committor_keras.md._workdir import init

    obj = PRESETS[args.preset](seed=args.seed).to_dict()
    overrides = _parse_overrides(args.set)
    unknown = sorted(set(overrides) - set(obj))
    if unknown:
        raise ConfigError(f"--set: unknown field(s) {unknown}; see md.json of a preset for the names")
    obj.update(overrides)
    path = init(args.workdir, MDConfig.from_dict(obj, source="--set"))
    print(path)
    return 0


def _build(args):
    _log_command(args.workdir)
    from committor_keras.md._workdir import build, logger

    build(args.workdir, threads=max(args.threads, args.workers), log=logger(args.workdir))
    return 0


def _sample(args):
    _log_command(args.workdir)
    from committor_keras.md._sampling import sample

    print(sample(args.workdir, workers=args.workers, threads=args.threads))
    return 0


def _parse_slice(text):
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        k = n = -1
    if not 0 <= k < n:
        raise ConfigError(f"--slice {text!r}: expected K/N with 0 <= K < N, e.g. --slice 3/16")
    return k, n


def _parse_windows(text):
    """``"0-2,5"`` -> ``[0, 1, 2, 5]``; argparse reports a bad list as a usage error (exit 2)."""
    numbers = []
    for item in text.split(","):
        first, dash, last = item.strip().partition("-")
        if not (first.isdigit() and (not dash or last.isdigit())) or (dash and int(last) < int(first)):
            raise argparse.ArgumentTypeError(f"{text!r}: expected window numbers and ranges, e.g. 0-12,19")
        numbers += range(int(first), int(last if dash else first) + 1)
    return numbers


def _shoot(args):
    _log_command(args.workdir)
    from committor_keras.md._shooting import shoot
    from committor_keras.md._workdir import logger

    part = None if args.slice is None else _parse_slice(args.slice)
    finished = shoot(args.workdir, workers=args.workers, threads=args.threads, part=part,
                     max_minutes=args.max_minutes, progress=not args.no_progress, log=logger(args.workdir),
                     windows=args.windows, finish_started=args.finish_started)
    return 0 if finished else 3


def _run(args):
    _log_command(args.workdir)
    from committor_keras.md._workdir import run

    finished = run(args.workdir, workers=args.workers, threads=args.threads, max_minutes=args.max_minutes,
                   progress=not args.no_progress, windows=args.windows, finish_started=args.finish_started)
    return 0 if finished else 3


def _status(args):
    from committor_keras.md._workdir import status

    print(json.dumps(status(args.workdir), indent=2))
    return 0


def _readme(args):
    from pathlib import Path

    from committor_keras.md._config import load_config
    from committor_keras.md._report import write_readme

    notes = Path(args.notes).read_text() if args.notes else ""
    title = args.title or load_config(args.workdir).system
    print(write_readme(args.workdir, title, args.commands, notes))
    return 0


def _make_dataset(args):
    from committor_keras.md._dataset import make_dataset

    print(make_dataset(args.workdir, args.out, require_complete=args.require_complete, command=_command_line()))
    return 0


def main(argv=None):
    """Stand-alone entry (``python -m committor_keras.md``) until the group is wired into the main CLI."""
    from committor_keras._errors import CommittorKerasError

    parser = argparse.ArgumentParser(prog="python -m committor_keras.md", description=DESCRIPTION)
    _add_commands(parser)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CommittorKerasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
