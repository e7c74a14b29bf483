"""What the benchmarks share: the data, the "before" checkout, worker processes and the result record."""

import datetime
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from committor_keras._provenance import library_versions, write_json_atomic

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "alanine_dipeptide_vacuum" / "alanine_dipeptide_vacuum.npz"
# main before issue 11 (make one with `git worktree add /tmp/before bd6e259`); override with --before.
BEFORE = Path(os.environ.get("COMMITTOR_BENCH_BEFORE", "/tmp/before"))
BEFORE_COMMIT = "bd6e259"


def before_dir(before):
    """A folder from which ``python -m bench...`` imports committor_keras from ``before``, bench from here.

    It holds two links, ``committor_keras`` (to the ``before`` checkout's package) and ``bench`` (to this
    checkout's benchmarks), so a worker process run there compares the old code with the same scripts.

    Raises:
        SystemExit: when ``before`` is not a checkout of the package.
    """
    before = Path(before).resolve()
    if not (before / "committor_keras" / "__init__.py").is_file():
        raise SystemExit(f"{before}: no committor_keras checkout to compare with; make one with "
                         f"`git worktree add {before} {BEFORE_COMMIT}` or pass --before")
    folder = Path(tempfile.gettempdir()) / f"committor-bench-before-{os.getuid()}"
    folder.mkdir(exist_ok=True)
    for name, target in (("committor_keras", before / "committor_keras"), ("bench", ROOT / "bench"),
                         ("data", ROOT / "data")):
        link = folder / name
        if link.is_symlink() and link.resolve() != target:
            link.unlink()
        if not link.is_symlink():
            link.symlink_to(target)
    return folder


def run_worker(command, cwd=ROOT):
    """Run ``command`` (a benchmark worker, ``python -m bench...``) in ``cwd``; its last stdout line is JSON."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark worker failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def record(path, result):
    """Write ``result`` with the machine, versions, date and load average to ``path`` (JSON)."""
    result = {**result, "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "cpu_count": os.cpu_count(), "load_average_end": os.getloadavg(), "platform": platform.platform(),
              "processor": platform.processor() or platform.machine(), "versions": library_versions()}
    write_json_atomic(path, result)
    print(f"wrote {path}")
    return result


def timed(function, repeats=2):
    """Best wall time of ``repeats`` calls, and the last result."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result
