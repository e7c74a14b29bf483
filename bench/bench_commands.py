"""Wall time of the default ``tune`` and ``study`` configurations on the vacuum set (slow: run on request).

``tune``: ``committor-keras tune DATA --out OUT --seed 0 --quiet`` with the built-in defaults
(configs/default.toml: 3 searches of 30 trials, top 5 retrained and exported), for this checkout and, with
``--before``, for main at bd6e259 (``COMMITTOR_BENCH_BEFORE``) in its own folder.

``study``: ``committor-keras study DATA --out OUT --seed 0 --quiet`` with the built-in defaults
(configs/study.toml; searches, repeats, cross-validation, ensemble, baselines, XAI, report). The code
before issue 11 has no ``study`` command, so there is no before side.

Each command runs in a fresh output folder, as one process tree; recorded: wall time, the CPU seconds of
the command and its children (robust to the load of a shared machine), the 1-minute load before and after.
A command still running after ``--deadline`` seconds is stopped and recorded as a lower bound. A command
not run keeps its figures from the last run that measured it. Writes bench/results/commands.json, which
``python -m bench.report`` reads.

Usage: python -m bench.bench_commands [--tune] [--study] [--before] [--deadline 14400]
       (neither --tune nor --study: both)
"""

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import BEFORE, DATA, ROOT, before_dir, record

_CLI = "import sys; from committor_keras.cli import main; sys.exit(main())"


def _children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(name, out, deadline, cwd=ROOT):
    """Run ``committor-keras NAME DATA --out OUT --seed 0 --quiet`` (defaults) in ``cwd``; its timings."""
    command = [sys.executable, "-c", _CLI, name, str(DATA), "--out", str(out), "--seed", "0", "--quiet"]
    load, cpu, start = os.getloadavg()[0], _children_cpu_s(), time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, "PYTHONPATH": str(cwd)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, error = process.communicate(timeout=deadline)
        finished = process.returncode == 0
        if not finished:
            raise SystemExit(f"{' '.join(command)} failed:\n{error[-3000:]}")
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 15)
        process.communicate()
        finished = False
    return {"wall_s": time.perf_counter() - start, "cpu_s": _children_cpu_s() - cpu, "finished": finished,
            "lower_bound": not finished, "deadline_s": deadline, "load_1min_start": load,
            "load_1min_end": os.getloadavg()[0], "command": f"committor-keras {name} DATA --out OUT --seed 0 --quiet",
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="time the default tune")
    parser.add_argument("--study", action="store_true", help="time the default study")
    parser.add_argument("--before", nargs="?", const=str(BEFORE), default=None,
                        help="also time the default tune of this checkout of the code before (default "
                             f"{BEFORE})")
    parser.add_argument("--deadline", type=float, default=4 * 3600.0,
                        help="seconds after which a command is stopped (recorded as a lower bound)")
    parser.add_argument("--out", default="bench/results/commands.json")
    args = parser.parse_args(argv)
    both = not (args.tune or args.study)
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    result = {"benchmark": "wall time of the default tune and study configurations on the vacuum set",
              "data": str(DATA.relative_to(ROOT)), "load_averages": [os.getloadavg()]}
    with tempfile.TemporaryDirectory() as folder:
        runs = []
        if args.tune or both:
            runs.append(("tune", "after", ROOT))
            if args.before:
                runs.append(("tune", "before", before_dir(args.before)))
        if args.study or both:
            runs.append(("study", "after", ROOT))
        for name, side, cwd in runs:
            timing = time_command(name, Path(folder) / f"{name}-{side}", args.deadline, cwd)
            result.setdefault(name, {})[side] = timing
            result["load_averages"].append(os.getloadavg())
            print(f"{name} ({side}): {timing['wall_s']:.0f} s wall{' (stopped: lower bound)' * timing['lower_bound']}, "
                  f"{timing['cpu_s']:.0f} CPU-s, load {timing['load_1min_start']:.1f} -> {timing['load_1min_end']:.1f}",
                  flush=True)
    for name in ("tune", "study"):
        for side, timing in (previous.get(name) or {}).items():
            result.setdefault(name, {}).setdefault(side, timing)
    record(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
