"""Feature groupings for explanations: per feature (sin/cos pairs, the data's own groups), by torsion central
bond, or a user's mapping.

Attribution methods sum over a group's columns and permutation importance permutes a group's columns
together, so a grouping changes the question from "which torsion" to "which bond" (or whatever the user's
groups stand for). Torsions about one bond move together (the four torsions about N7-C9 all follow phi), so
per-torsion rankings split one degree of freedom's weight between its torsions; grouped by central bond, each
rotatable bond counts once.
"""

import json
import os
import re
from pathlib import Path

from committor_keras._errors import ConfigError

GROUPINGS = ("feature", "bond")
_TORSION = re.compile(r"^(?:sin|cos)\(([^()]+)\)$")


def _torsion_atoms(name):
    """The four atom labels of ``sin(A-B-C-D)`` / ``cos(A-B-C-D)``, or None for any other feature."""
    match = _TORSION.match(name)
    if match is None:
        return None
    atoms = tuple(match.group(1).split("-"))
    return atoms if len(atoms) == 4 and all(atoms) else None


def group_by_central_bond(data):
    """Group torsion features by the bond they rotate about; other features stay singletons.

    A proper torsion ``A-B-C-D`` (``sin(C5-N7-C9-C15)``) belongs to its central bond ``B-C`` (``N7-C9``).
    An improper ``C-X-Y-Z`` (its centre first, bonded to the three others, as the featuriser writes them)
    rotates about no bond: it goes to ``improper C``, the out-of-plane group of its centre atom. Bonds are
    read from the torsion names themselves (consecutive atoms of a torsion), and a torsion is improper when its
    first atom is bonded to its third and fourth, which no proper torsion of an acyclic molecule is.

    Args:
        data: a CommittorData (or anything with ``feature_names``), or a sequence of feature names.

    Returns:
        dict group name -> feature names, in the order of first appearance; every feature exactly once.
    """
    names = list(getattr(data, "feature_names", data))
    torsions = {name: atoms for name in names if (atoms := _torsion_atoms(name)) is not None}
    bonded = {frozenset(pair) for atoms in torsions.values() for pair in zip(atoms, atoms[1:])}
    groups = {}
    for name in names:
        atoms = torsions.get(name)
        if atoms is None:
            key = name
        elif frozenset(atoms[::2]) in bonded and frozenset(atoms[::3]) in bonded:
            key = f"improper {atoms[0]}"
        else:
            key = f"{atoms[1]}-{atoms[2]}"
        groups.setdefault(key, []).append(name)
    return groups


def _bond_aliases(groups, data):
    """``N7-C9 (phi)``: a bond group's label names the aliased torsions it holds (phi, psi, theta)."""
    # A CommittorData keeps its aliases in metadata, an ExplainSet in .aliases.
    aliases = getattr(data, "aliases", None) or (getattr(data, "metadata", None) or {}).get("feature_aliases") or {}
    labels = {}
    for group, members in groups.items():
        torsion_names = {_TORSION.match(m).group(1) for m in members if _TORSION.match(m)}
        short = sorted({aliases[t] for t in torsion_names if t in aliases})
        if short:
            labels[group] = f"{group} ({', '.join(short)})"
    return labels


def grouping_options(grouping, data):
    """The ``groups`` and ``aliases`` arguments of ``explain_set`` for a grouping choice.

    Args:
        grouping: ``"feature"`` (the data's own groups: each sin/cos pair once), ``"bond"``
            (:func:`group_by_central_bond`, labelled with the aliases they hold, e.g. ``N7-C9 (phi)``), a
            mapping group name -> feature names, or the path of a JSON file holding such a mapping (features
            it leaves out keep the data's own groups).
        data: the CommittorData explained.

    Returns:
        dict of keyword arguments for ``explain_set`` (empty for ``"feature"``).

    Raises:
        ConfigError: an unknown choice, a missing or malformed JSON file.
    """
    if isinstance(grouping, dict):
        return {"groups": _with_data_groups(_checked_mapping(grouping, "the grouping"), data)}
    if grouping is None or grouping == "feature":
        return {}
    if grouping == "bond":
        groups = group_by_central_bond(data)
        return {"groups": groups, "aliases": _bond_aliases(groups, data)}
    if not isinstance(grouping, (str, os.PathLike)):
        raise ConfigError(f"grouping {grouping!r}: use 'feature', 'bond', a mapping or a JSON file")
    path = Path(grouping)
    if not path.is_file():
        raise ConfigError(f"grouping '{grouping}': not 'feature' or 'bond' and no such file; give a JSON file "
                          "mapping group names to lists of feature names")
    try:
        mapping = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not a readable JSON file ({error}); give a mapping group name -> feature "
                          "names") from None
    return {"groups": _with_data_groups(_checked_mapping(mapping, str(path)), data)}


def _with_data_groups(mapping, data):
    """A user's groups, plus the data's own groups (sin/cos pairs) among the features the user left out."""
    own = getattr(data, "groups", None)         # CommittorData.groups() or an ExplainSet's groups tuple
    if own is None:
        return mapping
    covered = {member for members in mapping.values() for member in members}
    merged = dict(mapping)
    for name, columns in (own() if callable(own) else own):
        members = [data.feature_names[c] for c in columns]
        if name not in merged and not covered.intersection(members):
            merged[name] = members
    return merged


def _checked_mapping(mapping, source):
    if not isinstance(mapping, dict) or not all(
            isinstance(members, list) and all(isinstance(m, str) for m in members) for members in mapping.values()):
        raise ConfigError(f"{source}: expected a JSON object mapping each group name to a list of feature names, "
                          'e.g. {"N7-C9": ["sin(C5-N7-C9-C15)", "cos(C5-N7-C9-C15)"]}')
    return {str(group): list(members) for group, members in mapping.items()}


def grouping_name(grouping):
    """How a grouping is recorded in reports: ``feature``, ``bond``, the file path, or ``custom``."""
    if grouping is None:
        return "feature"
    if isinstance(grouping, dict):
        return "custom"
    return str(grouping)
