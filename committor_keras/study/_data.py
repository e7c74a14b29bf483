"""What a study reads: the package's ``.npz``/``.csv`` data sets, and plain shot-count text tables.

A text table (such as the methane clathrate set in ``shared/external/methane_clathrate``) has one row per
configuration: ``n_A n_B`` then the descriptors, whitespace-separated, ``#`` lines ignored. Its feature names
come from a known layout (by file name) or are ``x1, x2, ...``. A directory is read when it holds exactly one
such file or one data set.
"""

import copy
from pathlib import Path

import numpy as np

from committor_keras._errors import DataError

_TABLE_SUFFIXES = (".txt", ".dat")
_DATA_SUFFIXES = (".npz", ".csv")
# Column layouts of known third-party tables (names from the data's own documentation).
KNOWN_LAYOUTS = {
    "shooting_data_280K.txt": {
        "system": "methane clathrate nucleation, 280 K (Arjun, Berendsen & Bolhuis, PNAS 116, 19305 (2019))",
        "states": {"A": {"name": "liquid", "definition": "MCG < 18"},
                   "B": {"name": "solid", "definition": "MCG > 120"}},
        "features": ["MCG", "N_w,4", "N_w,3", "N_w,2", "N_sw,3-4", "N_sw,2-3", "F4", "R_g", "5^12 6^2", "5^12", "CR",
                     "N_s,2", "N_s,3", "N_c,2", "N_c,3", "N_s,4", "N_c,4", "5^12 6^3", "5^12 6^4", "4^1 5^10 6^2",
                     "4^1 5^10 6^3", "4^1 5^10 6^4"],
    },
}


def load_study_data(path):
    """Read the data of a study.

    Args:
        path: a ``.npz``/``.csv`` data set, a shot-count text table, or a directory holding exactly one of
            these.

    Returns:
        CommittorData. A text table comes back as an in-memory data set (``source`` ``"<memory>"``, the file
        named in ``metadata["provenance"]``), so a study saves it as ``RUN/data.npz`` beside its results.

    Raises:
        DataError: no readable file, several candidates, or malformed content.
    """
    from committor_keras.data import load

    path = Path(path)
    if path.is_dir():
        path = _only_file(path)
    if path.suffix.lower() in _TABLE_SUFFIXES:
        return read_shot_table(path)
    return load(path)


def read_shot_table(path):
    """Read a whitespace-separated ``n_A n_B feature...`` table (``#`` comment lines ignored)."""
    from committor_keras.data import CommittorData

    path = Path(path)
    try:
        table = np.loadtxt(path, comments="#", ndmin=2)
    except (OSError, ValueError) as error:
        raise DataError(path, "file", f"not a whitespace-separated numeric table ({error}); give n_A n_B and "
                                      "the features on each line") from None
    if table.shape[1] < 3:
        raise DataError(path, "columns", f"{table.shape[1]} columns; need n_A, n_B and at least one feature")
    layout = KNOWN_LAYOUTS.get(path.name, {})
    names = layout.get("features") or [f"x{i}" for i in range(1, table.shape[1] - 1)]
    if len(names) != table.shape[1] - 2:
        raise DataError(path, "columns", f"{table.shape[1] - 2} feature columns, but the known layout of "
                                         f"{path.name} names {len(names)}; check the file")
    metadata = {key: copy.deepcopy(layout[key]) for key in ("system", "states") if key in layout}
    metadata["provenance"] = {"file": str(path), "format": "n_A n_B features (whitespace-separated text)"}
    return CommittorData(table[:, 2:], names, n_a=table[:, 0], n_b=table[:, 1], metadata=metadata)


def _only_file(directory):
    found = sorted(p for p in directory.iterdir() if p.suffix.lower() in (*_TABLE_SUFFIXES, *_DATA_SUFFIXES)
                   and not p.name.startswith("."))
    if len(found) != 1:
        what = ", ".join(p.name for p in found) or "none"
        raise DataError(directory, "file", f"a study reads one data file from a directory, found {what}; "
                                           "give the file itself")
    return found[0]
