"""The OpenMM shooting engine: torsions, states, seeding, exact reproducibility, resume, water smoke run."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

openmm = pytest.importorskip("openmm")

from committor_keras._errors import ConfigError, DataError  # noqa: E402
from committor_keras.md import _system  # noqa: E402
from committor_keras._provenance import derive_seed  # noqa: E402
from committor_keras.md._config import (  # noqa: E402
    MDConfig, Window, load_config, save_config, vacuum_preset, water_preset)
from committor_keras.md._sampling import load_configurations  # noqa: E402
from committor_keras.md._shooting import (  # noqa: E402
    Shooter, ShotTable, pending_batches, read_shots, shoot, shots_path)
from committor_keras.md._states import VACUUM_STATES, StateBox, States, phi_psi, torsion_deg  # noqa: E402
from committor_keras.md._workdir import init, run, status  # noqa: E402

pytestmark = pytest.mark.md
REPO = Path(__file__).resolve().parents[1]


def _torsion_reference(p):
    b0, b1, b2 = p[0] - p[1], p[2] - p[1], p[3] - p[2]
    b1 = b1 / np.linalg.norm(b1)
    v = b0 - np.dot(b0, b1) * b1
    w = b2 - np.dot(b2, b1) * b1
    return math.degrees(math.atan2(np.dot(np.cross(b1, v), w), np.dot(v, w)))


def test_torsion_matches_projection_formula():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = rng.normal(size=(4, 3))
        assert torsion_deg(*p.tolist()) == pytest.approx(_torsion_reference(p), abs=1e-9)


def test_shipped_structure_has_seed_numbering_and_is_extended():
    topology, positions = _system.read_pdb(_system.solute_pdb_path())
    names = [(a.residue.name, a.element.symbol) for a in topology.atoms()]
    assert len(names) == 22
    # phi = C5-N7-C9-C15, psi = N7-C9-C15-N17, theta = O6-C5-N7-C9, H18 on the NME nitrogen
    expected = {5: ("ACE", "C"), 6: ("ACE", "O"), 7: ("ALA", "N"), 9: ("ALA", "C"), 15: ("ALA", "C"),
                17: ("NME", "N"), 18: ("NME", "H")}
    for number, value in expected.items():
        assert names[number - 1] == value
    bonded = {frozenset((b[0].index, b[1].index)) for b in topology.bonds()}
    assert frozenset((16, 17)) in bonded  # H18-N17
    xyz = positions.value_in_unit(openmm.unit.nanometer)
    phi, psi = phi_psi([tuple(v) for v in xyz])
    assert abs(abs(phi) - 180) < 1 and abs(abs(psi) - 180) < 1


def test_states_classify_and_round_trip():
    states = States(StateBox("a", phi=(-100, -60), psi=(40, 100)), StateBox("b", phi=(50, 80)))
    assert states.classify(-80, 70) == "A"
    assert states.classify(-80, 0) is None
    assert states.classify(60, -170) == "B"
    assert States.from_dict(json.loads(json.dumps(states.to_dict()))) == states
    assert states.to_metadata()["A"]["definition"] == "-100 < phi < -60 and 40 < psi < 100 (degrees)"
    with pytest.raises(ConfigError):
        StateBox("bad", phi=(10, -10))


def test_config_round_trip_and_validation():
    for preset in (vacuum_preset(), water_preset()):
        assert MDConfig.from_dict(json.loads(json.dumps(preset.to_dict()))) == preset
    assert water_preset().n_configurations >= 1000 and vacuum_preset().n_configurations >= 2000
    with pytest.raises(ConfigError):
        vacuum_preset().replace(solvent="ethanol")
    with pytest.raises(ConfigError):
        MDConfig.from_dict({**vacuum_preset().to_dict(), "typo": 1})


def test_derive_seed_is_fixed_distinct_and_never_zero():
    seeds = {derive_seed(7, 2, i, s) for i in range(50) for s in range(50)}
    assert len(seeds) == 2500 and 0 not in seeds
    assert derive_seed(7, 2, 3, 4) == derive_seed(7, 2, 3, 4) != derive_seed(8, 2, 3, 4)


def test_pending_batches_topup_uses_base_shots_only():
    config = vacuum_preset().replace(n_shots=10, topup_shots=30)
    table = ShotTable(3)
    table.add(0, 0, 10, ["A"] * 5 + ["B"] * 5, [10] * 10)   # p_B = 0.5 -> top-up
    table.add(1, 0, 10, ["A"] * 10, [10] * 10)              # p_B = 0 -> done
    assert pending_batches(config, table, range(3)) == [(0, 10, 30), (2, 0, 10)]
    table.add(0, 10, 30, ["A"] * 20, [10] * 20)             # top-up moves p_B out of range: still done
    assert pending_batches(config, table, range(3)) == [(2, 0, 10)]
    assert not table.add(0, 10, 30, ["A"] * 20, [10] * 20)  # a duplicate batch is ignored
    with pytest.raises(DataError):
        table.add(0, 5, 15, ["A"] * 10, [10] * 10)


def _tiny_vacuum(seed=11, **changes):
    fields = dict(windows=(Window(0.0, 2000.0, 3), Window(-80.0, 0.0, 1)), n_shots=6, pull_ps=0.2,
                  window_equilibration_ps=0.2, stride_steps=50, max_steps=2000)
    fields.update(changes)
    return vacuum_preset(seed=seed).replace(**fields)


def _outcomes(workdir):
    frames, _, _ = load_configurations(workdir)
    table = read_shots(workdir, len(frames))
    return [sorted(d.items()) for d in table.shots], table


@pytest.fixture(scope="module")
def vacuum_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vac") / "work"
    init(workdir, _tiny_vacuum())
    assert run(workdir, progress=False)
    return workdir


def test_vacuum_run_is_bit_reproducible(vacuum_run, tmp_path):
    again = tmp_path / "again"
    init(again, _tiny_vacuum())
    assert run(again, progress=False)
    assert (again / "configurations.xtc").read_bytes() == (vacuum_run / "configurations.xtc").read_bytes()
    first, table = _outcomes(vacuum_run)
    second, _ = _outcomes(again)
    assert first == second
    assert table.n_shots.tolist() == [6, 6, 6, 6]
    steps = [s for d in table.shots for _, s in d.values()]
    assert all(s % 10 == 0 for s in steps)


def test_vacuum_results_do_not_depend_on_workers(vacuum_run, tmp_path):
    other = _copy_without_shots(vacuum_run, tmp_path / "pool")
    assert shoot(other, workers=2, progress=False)
    assert _outcomes(other)[0] == _outcomes(vacuum_run)[0]


def test_vacuum_status_counts(vacuum_run):
    report = status(vacuum_run)
    assert report["shots_fired"] == 24 and report["shots_pending_known"] == 0


def _vacuum_shooter():
    config = _tiny_vacuum(max_steps=20000)
    topology, positions = _system.read_pdb(_system.solute_pdb_path())
    xyz = np.asarray(_system.minimise_vacuum(config, topology, positions).value_in_unit(openmm.unit.nanometer))
    return config, Shooter(config, topology), xyz


def test_configuration_in_the_a_basin_commits_to_a():
    config, shooter, xyz = _vacuum_shooter()
    phi, psi = phi_psi(xyz.tolist())
    assert config.states.classify(phi, psi) is None  # the minimised extended (C5) structure is outside A
    outcomes, steps = shooter.shoot(xyz, None, 0, range(8))
    # C5 lies in the C7eq basin: no shot crosses to C7ax, most reach the C7eq box within max_steps
    assert "B" not in outcomes and outcomes.count("A") >= 4
    assert all(0 < s <= config.max_steps for s in steps)
    # a configuration inside a state commits at once
    inside = config.replace(states=States(StateBox("all", phi=(-180, 180)), VACUUM_STATES.b))
    outcomes, steps = Shooter(inside, _system.read_pdb(_system.solute_pdb_path())[0]).shoot(xyz, None, 0, [0])
    assert outcomes == ["A"] and steps == [0]


def test_p_b_agrees_with_a_longer_independent_estimate(vacuum_run):
    config = _tiny_vacuum()
    frames, _, _ = load_configurations(vacuum_run)
    shooter = Shooter(config, _system.read_pdb(vacuum_run / "system.pdb")[0])
    for index in range(3):  # the phi = 0 window
        short, _ = shooter.shoot(frames[index], None, index, range(1000, 1040))
        long, _ = shooter.shoot(frames[index], None, index, range(2000, 2200))
        p1 = short.count("B") / max(1, short.count("A") + short.count("B"))
        p2 = long.count("B") / max(1, long.count("A") + long.count("B"))
        sigma = math.sqrt(max(p2 * (1 - p2), 0.01) * (1 / 40 + 1 / 200))
        assert abs(p1 - p2) < 4 * sigma


def _shoot_in_subprocess(workdir, workers):
    code = ("import sys; from committor_keras.md._shooting import shoot; "
            f"shoot({str(workdir)!r}, workers={workers}, progress=False)")
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, start_new_session=True)


def _wait_for_lines(path, count, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().count("\n") >= count:
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _copy_without_shots(source, target, **changes):
    shutil.copytree(source, target)
    shutil.rmtree(target / "shots")
    if changes:
        save_config(target, load_config(target).replace(**changes))
    return target


@pytest.mark.parametrize("target", ["parent", "worker"])
def test_resume_after_kill_loses_and_duplicates_nothing(vacuum_run, tmp_path, target):
    reference = _copy_without_shots(vacuum_run, tmp_path / "reference", n_shots=150)
    assert shoot(reference, progress=False)
    workdir = _copy_without_shots(vacuum_run, tmp_path / "killed", n_shots=150)
    process = _shoot_in_subprocess(workdir, workers=1 if target == "parent" else 2)
    path = shots_path(workdir)
    assert _wait_for_lines(path, 1, process), "the run ended before it could be killed"
    if target == "parent":
        os.killpg(process.pid, signal.SIGKILL)
    else:
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True)
        workers = [int(pid) for pid in children.stdout.split()]
        assert workers
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
    assert process.wait(timeout=120) != 0
    assert path.read_text().count("\n") < 4, "the run finished before the kill took effect"
    with open(path, "a") as handle:  # a record cut off mid-write by the kill
        handle.write('{"config": 1, "first_sh')
    assert shoot(workdir, progress=False)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    batches = [(r["config"], r["first_shot"], r["stop_shot"]) for r in lines]
    assert len(batches) == len(set(batches)) == 4
    assert _outcomes(workdir)[0] == _outcomes(reference)[0]


def test_max_minutes_stops_and_resumes(vacuum_run, tmp_path):
    workdir = _copy_without_shots(vacuum_run, tmp_path / "timed")
    assert not shoot(workdir, max_minutes=0, progress=False)
    assert shoot(workdir, progress=False)
    assert _outcomes(workdir)[0] == _outcomes(vacuum_run)[0]


def test_slices_merge_to_the_whole(vacuum_run, tmp_path):
    workdir = _copy_without_shots(vacuum_run, tmp_path / "sliced")
    for k in range(3):
        assert shoot(workdir, part=(k, 3), progress=False)
    assert len(list((workdir / "shots").glob("slice-*-of-3.jsonl"))) == 3
    assert _outcomes(workdir)[0] == _outcomes(vacuum_run)[0]


def test_window_selection_and_finish_started_shoot_only_their_configurations(vacuum_run, tmp_path):
    # 12 shots where the first 6 give 0.1 < p_B < 0.9: a configuration can be started but not finished
    workdir = _copy_without_shots(vacuum_run, tmp_path / "selected", topup_shots=12)
    path = shots_path(workdir)
    path.parent.mkdir()
    base = {"config": 1, "first_shot": 0, "stop_shot": 6, "to": ["A", "B"] * 3, "steps": [10] * 6, "seconds": 0}
    path.write_text(json.dumps(base) + "\n")

    def batches():
        return [(r["config"], r["first_shot"]) for r in map(json.loads, path.read_text().splitlines()[1:])]

    assert shoot(workdir, finish_started=True, progress=False)
    assert batches() == [(1, 6)]
    assert shoot(workdir, windows=[1], progress=False)  # window 1 holds configuration 3 only
    assert batches() == [(1, 6), (3, 0)]
    assert shoot(workdir, progress=False)
    assert sorted(batches()[2:]) == [(0, 0), (2, 0)]
    # the same outcomes as shots fired without any selection, and as the top-up fired on its own
    shots, table = _outcomes(workdir)
    reference = _outcomes(vacuum_run)[0]
    assert [shots[i] for i in (0, 2, 3)] == [reference[i] for i in (0, 2, 3)]
    config = load_config(workdir)
    frames, _, _ = load_configurations(workdir)
    outcomes, steps = Shooter(config, _system.read_pdb(workdir / "system.pdb")[0]).shoot(frames[1], None, 1,
                                                                                        range(6, 12))
    assert [table.shots[1][k] for k in range(6, 12)] == list(zip(outcomes, steps))
    with pytest.raises(ConfigError, match="windows \\[2\\] do not exist"):
        shoot(workdir, windows=[0, 2], progress=False)


def test_a_run_finishes_started_configurations_before_new_ones(vacuum_run, tmp_path):
    workdir = _copy_without_shots(vacuum_run, tmp_path / "topups-first", topup_shots=12)
    path = shots_path(workdir)
    path.parent.mkdir()
    order = np.random.default_rng(load_config(workdir).seed).permutation(4)
    last = int(order[-1])  # the configuration the seeded order visits last
    path.write_text(json.dumps({"config": last, "first_shot": 0, "stop_shot": 6, "to": ["A", "B"] * 3,
                                "steps": [10] * 6, "seconds": 0}) + "\n")
    assert shoot(workdir, progress=False)
    second = json.loads(path.read_text().splitlines()[1])
    assert (second["config"], second["first_shot"]) == (last, 6)


def test_changed_recipe_is_refused(vacuum_run):
    with pytest.raises(ConfigError, match="n_shots"):
        init(vacuum_run, _tiny_vacuum().replace(n_shots=7))


def test_water_smoke_run_from_shipped_box(tmp_path):
    box = _system.water_box_pdb_path()
    if not Path(box).is_file():
        pytest.skip("no shipped water box")
    config = water_preset(seed=5).replace(
        windows=(Window(5.0, 2000.0, 2),), n_shots=3, topup_shots=0, pull_ps=0.1,
        window_equilibration_ps=0.02, stride_steps=10, max_steps=300)
    init(tmp_path, config)
    shutil.copy(box, tmp_path / "system.pdb")
    assert run(tmp_path, progress=False)
    frames, boxes, table = load_configurations(tmp_path)
    assert frames.shape[0] == 2 and boxes is not None and np.all(np.isfinite(frames))
    assert all(abs(phi - 5.0) < 30 for phi in table["phi"])
    _, shots = _outcomes(tmp_path)
    assert shots.n_shots.tolist() == [3, 3]
    topology, _ = _system.read_pdb(tmp_path / "system.pdb")
    _system.check_box(topology.getPeriodicBoxVectors(), config.cutoff_nm)


def test_make_dataset_carries_counts_outcomes_and_metadata(vacuum_run, tmp_path):
    pytest.importorskip("MDAnalysis")
    from committor_keras.data import load
    from committor_keras.md._dataset import make_dataset

    out = make_dataset(vacuum_run, tmp_path / "ds.npz", require_complete=True, command=["test"])
    data = load(out)
    _, table = _outcomes(vacuum_run)
    keep = data.extras["configuration"]
    np.testing.assert_array_equal(data.n_a, table.n_a[keep])
    np.testing.assert_array_equal(data.n_b, table.n_b[keep])
    outcome = data.extras["shot_outcome"]
    np.testing.assert_array_equal((outcome == 0).sum(1), data.n_a)
    np.testing.assert_array_equal((outcome == 1).sum(1), data.n_b)
    np.testing.assert_array_equal((outcome == -1).sum(1), data.extras["n_uncommitted"])
    committed = outcome >= 0
    assert np.all(np.isfinite(data.extras["commit_time_ps"][committed]))
    assert np.all(np.isnan(data.extras["commit_time_ps"][~committed]))
    assert data.metadata["states"]["A"]["name"] == "C7eq"
    assert data.metadata["feature_aliases"]["C5-N7-C9-C15"] == "phi"
    assert data.metadata["provenance"]["md_config"]["seed"] == 11
    # the phi recorded at sampling time (full precision) is the featurised one up to the XTC's 0.001 nm
    phi_sin_cos = data.features[:, [data.feature_names.index("sin(C5-N7-C9-C15)"),
                                    data.feature_names.index("cos(C5-N7-C9-C15)")]]
    recorded = np.asarray(json.loads((vacuum_run / "configurations.json").read_text())
                          ["per_configuration"]["phi"])[keep]
    np.testing.assert_allclose(np.degrees(np.arctan2(*phi_sin_cos.T)), recorded, atol=1.5)


def test_cli_init_overrides_status_and_errors(tmp_path, capsys):
    from committor_keras.md._cli import main

    workdir = tmp_path / "w"
    assert main(["init", str(workdir), "--preset", "vacuum", "--seed", "9", "--set", "n_shots=7"]) == 0
    assert load_config(workdir).n_shots == 7 and load_config(workdir).seed == 9
    assert main(["init", str(workdir), "--preset", "vacuum", "--seed", "9"]) == 2
    assert "n_shots" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "x"), "--preset", "vacuum", "--set", "nshots=7"]) == 2
    assert main(["shoot", str(workdir), "--slice", "3/2"]) == 2
    for bad in ("1-x", "3-1", ""):
        with pytest.raises(SystemExit) as exc:
            main(["run", str(workdir), "--windows", bad])
        assert exc.value.code == 2
    assert "expected window numbers and ranges" in capsys.readouterr().err
    assert main(["status", str(workdir)]) == 0
    assert json.loads(capsys.readouterr().out)["sampled"] is False
    assert main(["make-dataset", str(workdir), "--out", str(tmp_path / "x.npz")]) == 2
    assert "no configurations sampled yet" in capsys.readouterr().err


def test_second_run_on_the_same_results_file_is_refused(vacuum_run, tmp_path):
    import fcntl

    workdir = _copy_without_shots(vacuum_run, tmp_path / "locked")
    path = shots_path(workdir)
    path.parent.mkdir()
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ConfigError, match="another shooting run"):
            shoot(workdir, progress=False)
    assert shoot(workdir, progress=False)


# sha256 of configurations.xtc of `_tiny_vacuum()` made by the code before psi restraints existed (commit
# bd6e259, Reference platform): phi-only windows must keep sampling exactly what they sampled.
PHI_ONLY_XTC_SHA256 = "6040793e1a235e1973d50ffa40957bc94239420a719b45f1a29557101759e0b3"


def test_phi_only_recipes_are_unchanged_by_psi_restraints(vacuum_run, tmp_path):
    import hashlib

    from committor_keras.md._config import CONFIG_NAME

    assert hashlib.sha256((vacuum_run / "configurations.xtc").read_bytes()).hexdigest() == PHI_ONLY_XTC_SHA256
    assert "psi0" not in json.loads((vacuum_run / "configurations.json").read_text())["per_configuration"]
    # the shipped water recipe loads as the preset it was made from and is written back byte for byte
    shipped = REPO / "data" / "alanine_dipeptide_water"
    config = load_config(shipped)
    assert config == water_preset(2024)
    save_config(tmp_path, config)
    assert (tmp_path / CONFIG_NAME).read_bytes() == (shipped / CONFIG_NAME).read_bytes()


def test_window_psi_fields_are_validated():
    window = Window(5.0, 2000.0, 3, psi0=120.0, k_psi=1000.0)
    assert Window.from_dict(json.loads(json.dumps(window.to_dict()))) == window
    assert Window(5.0, 2000.0, 3).to_dict() == {"phi0": 5.0, "k": 2000.0, "n": 3}
    with pytest.raises(ConfigError, match="k_psi"):
        Window(5.0, 2000.0, 3, k_psi=100.0)
    with pytest.raises(ConfigError, match="psi_0"):
        Window.from_dict({"phi0": 5.0, "k": 2000.0, "n": 3, "psi_0": 120.0})


def test_psi_restrained_window_samples_near_its_centre(tmp_path):
    pytest.importorskip("MDAnalysis")
    from committor_keras.data import load
    from committor_keras.md._dataset import make_dataset

    # phi = 0 and psi = 120 is far from the vacuum path (psi ~ -60..-80): without the psi restraint psi drifts
    config = _tiny_vacuum(windows=(Window(0.0, 2000.0, 4, psi0=120.0, k_psi=2000.0), Window(65.0, 0.0, 1)))
    init(tmp_path, config)
    assert run(tmp_path, progress=False)
    table = json.loads((tmp_path / "configurations.json").read_text())["per_configuration"]
    assert all(abs(phi) < 25 for phi in table["phi"][:4])
    assert all(abs(psi - 120.0) < 25 for psi in table["psi"][:4])
    assert table["psi0"] == [120.0] * 4 + [None] and table["k_psi"] == [2000.0] * 4 + [0.0]
    data = load(make_dataset(tmp_path, tmp_path / "ds.npz", command=["test"]))
    psi0 = data.extras["psi0_deg"]
    assert np.all((psi0 == 120.0) | (np.isnan(psi0) & (data.extras["window"] == 1)))
