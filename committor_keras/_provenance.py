"""Provenance shared by every stage: atomic writes, content hashes, library versions, seeds."""

import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np

_REPORTED_PACKAGES = (
    "committor-keras", "tensorflow", "tensorflow-cpu", "keras", "keras-tuner", "tensorboard", "numpy",
    "pandas", "scikit-learn", "seaborn", "openmm", "MDAnalysis", "shap",
)


def library_versions():
    """Versions of Python and of the libraries that shape a result (absent ones are left out)."""
    versions = {"python": platform.python_version()}
    for name in _REPORTED_PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def sha256_file(path, chunk_size=1 << 20):
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    Readers never see a half-written file, and a failure leaves any earlier file untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        yield Path(tmp)
        # mkstemp creates 0600; results are meant to be read by others (collaborators, a serving container).
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path):
    """Yield an empty temporary directory beside ``path``; move it onto ``path`` only if the block succeeds.

    Readers never see a half-written export: until the rename the target holds its previous content (or does
    not exist), and a failure or interruption leaves at most a hidden ``.NAME.*.tmp`` directory behind.
    An existing ``path`` is replaced as a whole.

    Args:
        path: the directory to create or replace.

    Yields:
        pathlib.Path of the temporary directory to fill.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        # mkdtemp creates 0700; an exported model is meant to be read by other users (a TF Serving container).
        os.chmod(tmp, 0o777 & ~_umask())
        _replace_directory(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_directory(new, path):
    # os.replace cannot move a directory onto a non-empty one, so the old one is first renamed aside.
    if not os.path.lexists(path):
        os.replace(new, path)
        return
    old = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.old")
    os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(old, path)
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


def _umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path, obj):
    """Write ``obj`` as indented JSON through a temporary file and a rename."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def run_record(config, data_sha256=None, seed=None):
    """The record written beside every run's outputs: config, seed, versions, data hash, command line."""
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "seed": seed,
        "data_sha256": data_sha256,
        "config": config,
        "versions": library_versions(),
        "platform": platform.platform(),
    }


def derive_seed(*keys):
    """The one seed-derivation function: a seed in [1, 2**31 - 1) fixed by ``keys``.

    Every derived seed of the package comes from here: MD windows and shots (``derive_seed(seed, stream,
    configuration, shot)``), a search's oracle (``derive_seed(search_seed, "oracle")``), a trial's training
    (``derive_seed(search_seed, "trial", hyperparameters)``) and each retraining of a candidate. The keys are
    hashed together by NumPy's ``SeedSequence``, so neighbouring keys give unrelated seeds (Keras Tuner's
    oracle adds 1 to its seed per random draw: oracles seeded ``s`` and ``s + 1`` would propose the same
    values one draw apart). 0 is avoided because OpenMM and Keras Tuner read it as "pick a random seed".

    Args:
        *keys: non-negative integers (used as they are, so MD seeds of shipped shot records never change)
            or strings (hashed with sha256 to a 64-bit integer first).

    Returns:
        int in [1, 2**31 - 1).
    """
    entropy = []
    for key in keys:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if key < 0:
                raise ValueError(f"seed keys must be >= 0, got {key}")
            entropy.append(int(key))
        else:
            entropy.append(int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:8], "little"))
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return int(state % (2**31 - 2)) + 1


def seed_everything(seed):
    """Seed Python, NumPy and (when imported) TensorFlow/Keras from one integer.

    Keras Tuner and OpenMM take the seed explicitly where they are constructed.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)
