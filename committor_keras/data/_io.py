"""Reading and writing committor data sets: `.npz` (never pickled) and CSV.

`.npz` keys: ``features`` (N, F), ``feature_names`` (F unicode strings), labels as ``n_a`` + ``n_b`` or
``p_b`` + ``n_shots``, optional ``weights``, extras as ``extra.<name>``, ``metadata`` (a JSON string) and
``format`` (the format version).

CSV: one column per feature, label columns ``n_a``/``n_b`` or ``p_b``/``n_shots``, an optional ``weight``
column (label names in any case: ``p_B``, ``n_A``), one-dimensional extras as ``extra.<name>``; metadata as
JSON on a first line starting with ``# committor-keras metadata:`` (optional: a plain CSV of features and
labels reads as it is). PLUMED COLVAR files are read by ``_external.py``.
"""

import csv
import itertools
import json
import zipfile
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np
import pandas as pd

from committor_keras._errors import DataError
from committor_keras._provenance import atomic_path
from committor_keras.data._dataset import (LABEL_COUNTS, CommittorData, _as_matrix, _check_finite,
                                            _check_metadata, _check_names)
from committor_keras.data._external import LABELS, colvar_fields, is_colvar, label_names

FORMAT_VERSION = 1
CSV_METADATA_PREFIX = "# committor-keras metadata:"
EXTRA_PREFIX = "extra."
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with members, an empty archive


def load(path):
    """Read and validate a committor data set.

    Args:
        path: a ``.npz`` or ``.csv`` file, or a PLUMED COLVAR file (any name; recognised by its ``#! FIELDS``
            header) with label columns (see :func:`committor_keras.data.read_colvar` for shots in another file).

    Returns:
        CommittorData whose ``source`` is ``path``.

    Raises:
        DataError: a missing or unreadable file, an unknown suffix, or invalid content (naming the field).
    """
    path = Path(path)
    return CommittorData(**_read_fields(path), source=path)


def load_features(path):
    """Read the features of a data file whose labels may be absent (configurations to predict on).

    Args:
        path: a ``.npz`` or ``.csv`` file in the data set format, or a PLUMED COLVAR file (as :func:`load`
            reads it: periodic fields as sin/cos pairs, ``time`` and bias outputs left out); label columns are
            optional.

    Returns:
        FeatureTable with ``features`` (N, F), ``feature_names``, ``p_b`` (None without labels),
        ``metadata`` and ``source``.

    Raises:
        DataError: as :func:`load`, except that missing labels are allowed.
    """
    path = Path(path)
    fields = _read_fields(path)
    if all(fields[key] is None for key in ("n_a", "n_b", "p_b", "n_shots")):
        features = _as_matrix(fields["features"], str(path))
        names = _check_names(fields["feature_names"], features.shape[1], str(path))
        _check_finite(features, names, str(path))
        return FeatureTable(features, names, None, _check_metadata(fields["metadata"], names, str(path)),
                            str(path))
    data = CommittorData(**fields, source=path)
    return FeatureTable(data.features, data.feature_names, data.p_b, data.metadata, data.source)


class FeatureTable(NamedTuple):
    """Features of points to predict on, with p_B when the file has labels."""

    features: np.ndarray
    feature_names: tuple
    p_b: Optional[np.ndarray]
    metadata: dict
    source: str


def _read_fields(path):
    if not path.is_file():
        raise DataError(path, "file", "does not exist or is not a file; check the path")
    if is_colvar(path):
        return colvar_fields(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".csv":
        return _read_csv(path)
    raise DataError(path, "file", f"unknown suffix {path.suffix!r}; use a .npz or .csv committor data set")


def save(data, path):
    """Write ``data`` to ``path`` (``.npz`` or ``.csv``) through a temporary file and a rename."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".csv"):
        raise DataError(path, "file", f"unknown suffix {path.suffix!r}; save as .npz or .csv")
    with atomic_path(path) as tmp:
        if suffix == ".npz":
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, **_npz_arrays(data))
        else:
            _write_csv(data, tmp)


def _label_columns(data):
    """The labels in the form the data came in: counts stay counts, p_B estimates stay p_B with shots."""
    if data.label_kind == LABEL_COUNTS:
        return {"n_a": data.n_a, "n_b": data.n_b}
    return {"p_b": data.p_b, "n_shots": data.n_shots}


def _npz_arrays(data):
    arrays = {
        "format": np.array(FORMAT_VERSION),
        "features": data.features,
        "feature_names": np.array(data.feature_names, dtype=np.str_),
        "metadata": np.array(json.dumps(data.metadata)),
    }
    arrays.update(_label_columns(data))
    if data.weights is not None:
        arrays["weights"] = data.weights
    arrays.update({EXTRA_PREFIX + name: values for name, values in data.extras.items()})
    return arrays


def _read_npz(path):
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic not in _ZIP_MAGICS:
        # np.load would take any non-archive for a pickle and report "pickled objects".
        raise DataError(path, "file", f"not a .npz archive (it starts with {magic!r}, not a zip header); save "
                                      "the data with CommittorData.save or numpy.savez, or name a CSV file .csv")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:
        raise DataError(path, "file", f"holds pickled objects, which are never loaded ({error}); "
                                      "re-save with plain numeric/string arrays") from None
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(path, "file", f"not a readable .npz archive ({error})") from None
    version = int(arrays.pop("format", FORMAT_VERSION))
    if version > FORMAT_VERSION:
        raise DataError(path, "format", f"version {version} is newer than this committor-keras reads "
                                        f"({FORMAT_VERSION}); upgrade committor-keras")
    for required in ("features", "feature_names"):
        if required not in arrays:
            raise DataError(path, required, "missing from the archive; see docs/data.md for the keys")
    metadata = {}
    if "metadata" in arrays:
        try:
            metadata = json.loads(str(arrays["metadata"]))
        except json.JSONDecodeError as error:
            raise DataError(path, "metadata", f"not valid JSON ({error})") from None
    extras = {key[len(EXTRA_PREFIX):]: arrays[key] for key in arrays if key.startswith(EXTRA_PREFIX)}
    return dict(features=arrays["features"], feature_names=arrays["feature_names"],
                n_a=arrays.get("n_a"), n_b=arrays.get("n_b"), p_b=arrays.get("p_b"),
                n_shots=arrays.get("n_shots"), weights=arrays.get("weights"), extras=extras, metadata=metadata)


def _write_csv(data, path):
    columns = {name: data.features[:, i] for i, name in enumerate(data.feature_names)}
    columns.update(_label_columns(data))
    if data.weights is not None:
        columns["weight"] = data.weights
    for name, values in data.extras.items():
        if values.ndim != 1:
            raise DataError(path, f"extras.{name}", "has more than one dimension; CSV holds only 1-D extras, "
                                                    "save as .npz instead")
        columns[EXTRA_PREFIX + name] = values
    with open(path, "w", newline="") as handle:
        handle.write(f"{CSV_METADATA_PREFIX} {json.dumps(data.metadata)}\n")
        pd.DataFrame(columns).to_csv(handle, index=False, float_format="%.17g")


def _read_csv(path):
    with open(path) as handle:
        first = handle.readline()
    metadata, skip = {}, 0
    if first.startswith(CSV_METADATA_PREFIX):
        skip = 1
        try:
            metadata = json.loads(first[len(CSV_METADATA_PREFIX):])
        except json.JSONDecodeError as error:
            raise DataError(path, "metadata", f"the first line is not valid JSON ({error})") from None
    try:
        frame = pd.read_csv(path, skiprows=skip)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(path, "file", f"not a readable CSV ({str(error).strip()})") from None
    header = next(csv.reader([_header_line(path, skip)]), [])
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataError(path, "feature_names", f"duplicate column name(s) {duplicates}; names must be unique")
    if frame.empty:
        raise DataError(path, "rows", "the file has a header but no data rows; add one row per point")
    frame = frame.rename(columns=label_names(frame.columns, path))
    feature_columns = [c for c in frame.columns if c not in LABELS and not c.startswith(EXTRA_PREFIX)]
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise DataError(path, non_numeric[0], "has non-numeric values; every column must hold numbers")

    def column(name):
        return frame[name].to_numpy(dtype=np.float64) if name in frame else None

    extras = {c[len(EXTRA_PREFIX):]: frame[c].to_numpy() for c in frame.columns if c.startswith(EXTRA_PREFIX)}
    return dict(features=frame[feature_columns].to_numpy(dtype=np.float64), feature_names=feature_columns,
                n_a=column("n_a"), n_b=column("n_b"), p_b=column("p_b"), n_shots=column("n_shots"),
                weights=column("weight"), extras=extras, metadata=metadata)


def _header_line(path, skip):
    with open(path, newline="") as handle:
        return next(itertools.islice(handle, skip, None), "")
