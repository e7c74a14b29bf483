"""Feature groupings of explanations: by torsion central bond, by a user's mapping or JSON file."""

import json
from pathlib import Path

import numpy as np
import pytest

from committor_keras._errors import ConfigError
from committor_keras.data import load, make_synthetic
from committor_keras.explain import explain_set, group_by_central_bond
from committor_keras.explain._grouping import grouping_options

DATA = Path(__file__).resolve().parents[1] / "data"
VACUUM = DATA / "alanine_dipeptide_vacuum" / "alanine_dipeptide_vacuum.npz"


def _torsions(members):
    return sorted({name[4:-1] for name in members})


def test_vacuum_torsions_grouped_by_central_bond():
    data = load(VACUUM)
    groups = group_by_central_bond(data)
    # every feature exactly once
    members = [m for group in groups.values() for m in group]
    assert sorted(members) == sorted(data.feature_names)
    # phi (C5-N7-C9-C15) with the other torsions about N7-C9: 2 x 3 substituents, sin and cos each
    assert _torsions(groups["N7-C9"]) == ["C5-N7-C9-C11", "C5-N7-C9-C15", "C5-N7-C9-H10", "H8-N7-C9-C11",
                                          "H8-N7-C9-C15", "H8-N7-C9-H10"]
    assert "O6-C5-N7-C9" in _torsions(groups["C5-N7"]) and len(groups["C5-N7"]) == 8      # theta's amide bond
    assert "N7-C9-C15-N17" in _torsions(groups["C9-C15"])                                 # psi
    assert len(groups["C9-C11"]) == 18                                                    # methyl rotor
    # the four impropers (centre first) are not about a bond: one out-of-plane group per centre
    assert {g: _torsions(m) for g, m in groups.items() if g.startswith("improper")} == {
        "improper C5": ["C5-C2-O6-N7"], "improper N7": ["N7-C5-H8-C9"], "improper C15": ["C15-C9-O16-N17"],
        "improper N17": ["N17-C15-H18-C19"]}
    assert len(groups) == 11
    # the same from the names alone
    assert group_by_central_bond(list(data.feature_names)) == groups


def test_non_torsion_features_stay_singletons():
    names = ["sin(A1-B2-C3-D4)", "cos(A1-B2-C3-D4)", "ESP(H18)", "sin(angle)", "x1"]
    assert group_by_central_bond(names) == {"B2-C3": names[:2], "ESP(H18)": ["ESP(H18)"],
                                            "sin(angle)": ["sin(angle)"], "x1": ["x1"]}


def test_bond_grouping_labels_name_the_aliases():
    data = load(VACUUM)
    points = explain_set(data, **grouping_options("bond", data))
    labels = {points.label(name) for name in points.group_names}
    assert {"N7-C9 (phi)", "C5-N7 (theta)", "C9-C15 (psi)", "C2-C5"} <= labels
    assert sorted(c for _, cols in points.groups for c in cols) == list(range(90))


def test_user_grouping_from_a_mapping_or_a_json_file(tmp_path):
    data = make_synthetic(50, n_relevant=2, n_decoys=2, seed=0, angle_weight=1.0)
    mapping = {"xs": ["x1", "x2"]}
    path = tmp_path / "groups.json"
    path.write_text(json.dumps(mapping))
    for grouping in (mapping, str(path), path):
        points = explain_set(data, **grouping_options(grouping, data))
        groups = dict(points.groups)
        assert groups["xs"] == (0, 1)
        assert groups["angle"] == (4, 5)          # features left out keep the data's groups (the sin/cos pair)
        assert groups["d1"] == (2,)
    assert grouping_options("feature", data) == {}


@pytest.mark.parametrize("grouping, message", [
    ("torsion", "no such file"),
    ({"xs": "x1"}, "list of feature names"),
])
def test_bad_groupings_name_the_fix(grouping, message):
    with pytest.raises(ConfigError, match=message):
        grouping_options(grouping, make_synthetic(50, seed=0))


def test_grouping_file_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json: not a readable JSON"):
        grouping_options(bad, ())
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"g": ["nope"]}))
    with pytest.raises(ConfigError, match="unknown feature 'nope'"):
        explain_set(make_synthetic(50, seed=0), **grouping_options(unknown, make_synthetic(50, seed=0)))


def test_bond_group_attribution_is_the_sum_of_its_torsions():
    """On the vacuum set, a bond group's IG is the sum of its torsions' IG (IG is linear over columns)."""
    from committor_keras.explain import integrated_gradients
    from committor_keras.model import build_model

    data = load(VACUUM).subset(np.arange(40))
    model = build_model({"hidden_layers": 1, "units_0": 4}, data.features, seed=0)
    raw = integrated_gradients(model, data, steps=8)
    bond = integrated_gradients(model, data, steps=8, **grouping_options("bond", data))
    index = {name: i for i, name in enumerate(data.feature_names)}
    columns = [index[n] for n in group_by_central_bond(data)["N7-C9"]]
    position = bond.points.group_names.index("N7-C9")
    np.testing.assert_allclose(bond.grouped_values()[:, position], raw.values[:, columns].sum(axis=1))


def test_grouping_an_explain_set():
    data = load(VACUUM).subset(np.arange(10))
    points = explain_set(data)
    regrouped = explain_set(points, **grouping_options("bond", points))
    assert len(regrouped.groups) == 11 and regrouped.label("N7-C9") == "N7-C9 (phi)"
    custom = explain_set(points, **grouping_options({"backbone": ["sin(C5-N7-C9-C15)", "cos(C5-N7-C9-C15)",
                                                                  "sin(N7-C9-C15-N17)", "cos(N7-C9-C15-N17)"]},
                                                    points))
    assert len(custom.groups) == 44 and dict(custom.groups)["O6-C5-N7-C9"] == points.groups[9][1]


def test_scatter_draws_a_bond_group_against_its_aliased_torsion():
    from committor_keras.explain._figures import _group_axis

    data = load(VACUUM).subset(np.arange(20))
    points = explain_set(data, **grouping_options("bond", data))
    index = {name: i for i, name in enumerate(data.feature_names)}
    x, label = _group_axis(points, dict(points.groups)["N7-C9"], points.label("N7-C9"))
    phi = np.degrees(np.arctan2(data.features[:, index["sin(C5-N7-C9-C15)"]],
                                data.features[:, index["cos(C5-N7-C9-C15)"]]))
    assert label == "phi (degrees)"
    np.testing.assert_allclose(x, phi, atol=1e-4)
    _, label = _group_axis(points, dict(points.groups)["C2-C5"], "C2-C5")
    assert label == "H1-C2-C5-O6 (degrees)"
