"""Committor data from other tools: PLUMED COLVAR files and shot tables such as OpenPathSampling's.

A PLUMED COLVAR file starts with ``#! FIELDS name ...`` and may carry ``#! SET min_<name>``/``max_<name>`` lines
for periodic variables; a restarted run repeats the header further down. Periodic variables enter as a
grouped sin/cos pair (the package's convention for angles); ``time`` and PLUMED's bias outputs (``*.bias``,
``*.rbias``, ``*.rct``) are not features unless asked for.

Shot counts come from label columns of the same table (``n_a``/``n_b`` or ``p_b``/``n_shots``, in any case) or
from a separate shot table joined by row order or by a key column. OpenPathSampling's
``ShootingPointAnalysis.to_pandas()`` written with ``DataFrame.to_csv`` is such a table: one column per state
name holding counts, and the unnamed index column (read back as ``frame``).
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd

from committor_keras._errors import DataError
from committor_keras.data._dataset import MEMORY, CommittorData

COLVAR_MAGIC = "#! FIELDS"
LABELS = ("n_a", "n_b", "p_b", "n_shots", "weight")
_NOT_FEATURES = re.compile(r"^time$|\.(bias|rbias|rct)$")
_PI_MULTIPLE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)?)\*?pi$")


def is_colvar(path):
    """Whether ``path`` starts like a PLUMED COLVAR file."""
    with open(path, errors="replace") as handle:
        return handle.readline().startswith(COLVAR_MAGIC)


def read_colvar(path, *, shots=None, states=None, on=None, features=None, metadata=None):
    """A committor data set from a PLUMED COLVAR file, one row per shooting point.

    Args:
        path: the COLVAR file (``#! FIELDS`` header).
        shots: optional shot table (CSV, see :func:`read_shot_table`); without it the COLVAR's own label
            columns are used.
        states: for ``shots``: ``{"A": column, "B": column}`` naming the columns that count shots into A and B
            (an OpenPathSampling table names them after its states).
        on: key column present in both files (e.g. ``time``) to join on; by default rows pair in order.
        features: COLVAR fields to use (default: all but ``time``, bias outputs and label columns).
        metadata: extra metadata (system, states, ...), merged over what the reader records.

    Returns:
        CommittorData whose ``source`` is ``path``.

    Raises:
        DataError: malformed header or rows, unknown fields, or shots that do not pair with the rows.
    """
    path = Path(path)
    table, periods = _colvar_table(path)
    if shots is not None:
        table = join_shots(table, read_shot_table(shots, states=states), on=on, source=path)
    frame, names, info = _colvar_frame(table, periods, features, on, path)
    return data_from_frame(frame, names, {**info, **(metadata or {})}, path)


def colvar_fields(path):
    """The fields of a COLVAR file as ``load`` reads any data file: features (periodic ones as sin/cos),
    names, the label columns it has (None for those it lacks) and metadata. Labels are optional here, so
    ``load_features`` reads a COLVAR of configurations to predict on with the reader ``load`` uses.

    Raises:
        DataError: malformed header or rows, or a non-numeric feature.
    """
    path = Path(path)
    frame, names, info = _colvar_frame(*_colvar_table(path), None, None, path)
    return {**_frame_fields(frame, names, path), "metadata": info}


def _colvar_frame(table, periods, features, on, path):
    """The feature frame, feature names and metadata (provenance, sin/cos groups) of a COLVAR table."""
    frame, names, groups = _periodic_as_sin_cos(table, _feature_fields(table, features, on, path), periods)
    info = {"provenance": {"format": "PLUMED COLVAR", "file": path.name}}
    if groups:
        info["feature_groups"] = groups
        info["units"] = {name: "1" for members in groups.values() for name in members}
    return frame, names, info


def read_shot_table(path, *, states=None):
    """A shot table: label columns per shooting point, and any key columns.

    Args:
        path: a CSV with ``n_a``/``n_b`` (or ``p_b``/``n_shots``) columns in any case, or OpenPathSampling's
            ``to_pandas()`` table written with ``to_csv`` (counts per state name; the index column becomes
            ``frame``).
        states: ``{"A": column, "B": column}``: the columns counting shots into A and B; states no shot
            reached may be empty (counted as 0).

    Returns:
        DataFrame with canonical label columns (``n_a``, ``n_b`` or ``p_b``, ``n_shots``) and the rest.

    Raises:
        DataError: unreadable file, unknown state columns, or no labels.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(path, "file", f"not a readable CSV ({str(error).strip()})") from None
    table = table.rename(columns={table.columns[0]: "frame"} if str(table.columns[0]).startswith("Unnamed:")
                         else {})
    if states:
        unknown = sorted(set(states) - {"A", "B"})
        if unknown or len(states) != 2:
            raise DataError(path, "states", f"give {{'A': column, 'B': column}}, got keys {sorted(states)}")
        missing = [column for column in states.values() if column not in table.columns]
        if missing:
            raise DataError(path, missing[0], f"no such column; the columns are {list(table.columns)}")
        counts = table[[states["A"], states["B"]]].fillna(0)
        table = table.drop(columns=list(states.values())).assign(n_a=counts.iloc[:, 0], n_b=counts.iloc[:, 1])
    table = table.rename(columns=label_names(table.columns, path))
    if not ({"n_a", "n_b"} <= set(table.columns) or {"p_b", "n_shots"} <= set(table.columns)):
        raise DataError(path, "labels", "no n_a/n_b or p_b/n_shots columns; name the state columns with "
                                        "states={'A': ..., 'B': ...} (OpenPathSampling tables)")
    return table


def join_shots(features, shots, *, on=None, source=MEMORY):
    """Attach shot labels to a table of features.

    Args:
        features: DataFrame, one row per configuration (e.g. per trajectory frame).
        shots: DataFrame from :func:`read_shot_table`, one row per shooting point.
        on: key column in both tables; rows of ``features`` without shots are dropped. Without it the
            tables must have the same length and pair by row.
        source: named in errors.

    Returns:
        DataFrame of the features with the label columns, in the order of ``shots``.

    Raises:
        DataError: a missing key column, shooting points without features, duplicate keys, or a length
            mismatch.
    """
    labels = [column for column in shots.columns if column in LABELS]
    if on is None:
        if len(features) != len(shots):
            raise DataError(source, "shots", f"{len(shots)} shooting points for {len(features)} rows; give the "
                                             "key column to join on (on=...) or tables of equal length")
        return pd.concat([features.reset_index(drop=True).drop(columns=labels, errors="ignore"),
                          shots[labels].reset_index(drop=True)], axis=1)
    for name, table in (("features", features), ("shots", shots)):
        if on not in table.columns:
            raise DataError(source, on, f"no such column in the {name} table; its columns are "
                                        f"{list(table.columns)}")
    if features[on].duplicated().any():
        raise DataError(source, on, "repeated key values in the features table; keys must be unique")
    joined = shots[[on] + labels].merge(features.drop(columns=labels, errors="ignore"), on=on, how="left",
                                        indicator=True)
    unmatched = joined.loc[joined["_merge"] != "both", on]
    if len(unmatched):
        raise DataError(source, on, f"{len(unmatched)} shooting point(s) have no features, first "
                                    f"{on}={unmatched.iloc[0]}; featurise every shooting point")
    return joined.drop(columns="_merge")


def data_from_frame(frame, feature_names, metadata=None, source=MEMORY):
    """CommittorData from a DataFrame holding the features and canonical label columns.

    Args:
        frame: e.g. the result of :func:`join_shots`.
        feature_names: the columns to use as features, in order.
        metadata: the data set's metadata (feature groups, aliases, units, states, ...).
        source: named in errors.

    Raises:
        DataError: a non-numeric feature column or invalid labels.
    """
    return CommittorData(**_frame_fields(frame, feature_names, source), metadata=metadata, source=source)


def _frame_fields(frame, feature_names, source):
    """Features and label columns of a frame as CommittorData takes them (labels it lacks are None)."""
    non_numeric = [c for c in feature_names if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise DataError(source, non_numeric[0], "has non-numeric values; every feature must hold numbers")

    def column(name):
        return frame[name].to_numpy(dtype=np.float64) if name in frame else None

    return dict(features=frame[list(feature_names)].to_numpy(dtype=np.float64), feature_names=list(feature_names),
                n_a=column("n_a"), n_b=column("n_b"), p_b=column("p_b"), n_shots=column("n_shots"),
                weights=column("weight"))


def label_names(columns, source):
    """Map label columns spelt in any case (``p_B``, ``N_A``, ``Weight``) to the canonical lower-case names.

    Raises:
        DataError: two columns name the same label in different cases (``p_b`` and ``p_B``).
    """
    renames = {}
    for column in columns:
        canonical = str(column).lower()
        if canonical in LABELS:
            if canonical in renames.values():
                raise DataError(source, canonical, "given twice in different cases; keep one of the columns")
            renames[column] = canonical
    return renames


def _colvar_table(path):
    """The COLVAR rows as a DataFrame, and the period (max - min) of each periodic field."""
    if not path.is_file():
        raise DataError(path, "file", "does not exist or is not a file; check the path")
    fields, bounds, rows = None, {}, []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            words = line.split()
            if not words:
                continue
            if line.startswith(COLVAR_MAGIC):
                # A restarted run writes the header again: it must name the same fields.
                if fields is not None and words[2:] != fields:
                    raise DataError(path, "FIELDS", f"line {number} names other fields than line 1; keep one "
                                                    "run's fields per file")
                fields = words[2:]
            elif line.startswith("#! SET") and len(words) == 4 and words[2][:4] in ("min_", "max_"):
                bounds.setdefault(words[2][4:], {})[words[2][:3]] = _plumed_number(words[3], path, number)
            elif line.startswith("#"):
                continue
            elif fields is None:
                raise DataError(path, "FIELDS", "no '#! FIELDS' header before the first row; not a PLUMED COLVAR")
            elif len(words) != len(fields):
                raise DataError(path, f"line {number}", f"{len(words)} values for {len(fields)} fields")
            else:
                rows.append(words)
    if fields is None or not rows:
        raise DataError(path, "FIELDS", "no '#! FIELDS' header or no rows; not a PLUMED COLVAR")
    try:
        table = pd.DataFrame(np.array(rows, dtype=np.float64), columns=fields)
    except ValueError as error:
        raise DataError(path, "rows", f"a value is not a number ({error})") from None
    periods = {name: b["max"] - b["min"] for name, b in bounds.items() if {"min", "max"} <= set(b)}
    return table.rename(columns=label_names(table.columns, path)), periods


def _plumed_number(text, path, number):
    """A PLUMED bound: a number, ``pi``, ``-pi`` or a multiple such as ``2*pi``."""
    match = _PI_MULTIPLE.match(text)
    try:
        if match:
            factor = match.group(1)
            return float(factor + "1" if factor in ("", "+", "-") else factor) * np.pi
        return float(text)
    except ValueError:
        raise DataError(path, f"line {number}", f"bound {text!r} is not a number or multiple of pi") from None


def _feature_fields(table, features, on, path):
    if features is not None:
        unknown = [name for name in features if name not in table.columns]
        if unknown:
            raise DataError(path, unknown[0], f"no such field; the fields are {list(table.columns)}")
        return list(features)
    return [name for name in table.columns
            if name not in LABELS and name != on and name != "frame" and not _NOT_FEATURES.search(name)]


def _periodic_as_sin_cos(table, names, periods):
    """Replace each periodic field by a sin/cos pair grouped under its name (angles stay continuous)."""
    columns, out_names, groups = {}, [], {}
    for name in names:
        if name in periods and periods[name] > 0:
            angle = table[name].to_numpy() * (2 * np.pi / periods[name])
            pair = [f"sin({name})", f"cos({name})"]
            columns.update(zip(pair, (np.sin(angle), np.cos(angle))))
            out_names += pair
            groups[name] = pair
        else:
            columns[name] = table[name]
            out_names.append(name)
    labels = {c: table[c] for c in table.columns if c in LABELS}
    return pd.DataFrame({**columns, **labels}), out_names, groups
