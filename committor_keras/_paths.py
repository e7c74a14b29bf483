"""Paths a user gives and paths a run records: checked outputs, and records relative to the file holding them.

A run directory records the files it depends on relative to itself (with their sha256), so it still works
when it is moved, copied to another machine together with its data, or used from another working directory.
"""

import os
from pathlib import Path

from committor_keras._errors import ConfigError


def output_directory(path, flag="--out"):
    """Create the directory ``path`` (and its parents) or raise a one-line ConfigError saying why not.

    Args:
        path: the directory to create or reuse.
        flag: the command-line option that gave it, named in the error.

    Returns:
        Path.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path}: is a file, not a directory; give a directory (it is created if "
                          "missing)")
    _check_ancestors(path, flag)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{flag} {path}: cannot create the directory ({error.strerror}); give a path under a "
                          "writable directory") from None
    return path


def output_file(path, flag="--out"):
    """Check that a file can be written at ``path`` (missing parent directories are created on writing).

    Args:
        path: the file to write.
        flag: the command-line option that gave it, named in the error.

    Returns:
        Path.

    Raises:
        ConfigError: ``path`` is a directory, or lies below a file.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path}: is a directory; give a file name such as {path / 'q.csv'}")
    _check_ancestors(path, flag)
    return path


def _check_ancestors(path, flag):
    # The nearest existing ancestor must be a directory: mkdir below a file fails with a bare OSError.
    for parent in Path(path).parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{flag} {path}: {parent} is a file, not a directory; give a path below a "
                                  "directory")
            return


def relative_to(path, base):
    """``path`` written relative to the directory ``base`` (``..`` allowed), as a POSIX string."""
    return Path(os.path.relpath(Path(path).resolve(), Path(base).resolve())).as_posix()


def resolve_from(recorded, base):
    """A recorded path: absolute as it is, relative ones taken from the directory ``base``."""
    recorded = Path(recorded)
    return recorded if recorded.is_absolute() else Path(os.path.normpath(Path(base) / recorded))


def find_recorded(recorded, base):
    """The file a run or card records as ``recorded``: first relative to ``base`` (the directory holding the
    record, as records are written), then, for records made before paths were written that way, relative to
    the working directory. None when neither is a file.

    Returns:
        ``(path or None, the path looked for in base)``.
    """
    primary = resolve_from(recorded, base)
    # The record's own directory wins: a same-named file where the command runs must not shadow it.
    return next((p for p in (primary, Path(recorded)) if p.is_file()), None), primary
