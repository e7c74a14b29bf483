"""The command line: every sub-command answers --help, user errors are one line with exit status 2."""

import subprocess
import sys

import numpy as np
import pytest

COMMANDS = ["inspect", "tune", "study", "predict", "serve-check", "explain", "md", "shoot", "committor-test"]


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "committor_keras.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_help_lists_every_command_without_importing_tensorflow():
    probe = subprocess.run([sys.executable, "-c", "import sys; from committor_keras.cli import build_parser; "
                            "build_parser(); import committor_keras; "
                            "print('tensorflow' in sys.modules, 'openmm' in sys.modules)"],
                           capture_output=True, text=True, timeout=120)
    assert probe.stdout.split() == ["False", "False"]
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "usage: committor-keras" in result.stdout


def _assert_user_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    # One line and nothing else: no TensorFlow start-up banner either.
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_inspect_reports_bad_data_in_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("phi,n_a,n_b\n0.1,1,-2\n0.2,1,1\n")
    _assert_user_error(run_cli("inspect", bad), str(bad), "n_b")


def test_tune_reports_missing_data_and_bad_config(tmp_path):
    _assert_user_error(run_cli("tune", tmp_path / "missing.npz", "--out", tmp_path / "run"), "missing.npz")
    from committor_keras.data import make_synthetic

    data = tmp_path / "d.npz"
    make_synthetic(50, seed=0).save(data)
    config = tmp_path / "space.toml"
    config.write_text("[space.units]\nmin = 64\nmax = 8\n")
    _assert_user_error(run_cli("tune", data, "--out", tmp_path / "run", "--config", config), "space.toml")
    assert not (tmp_path / "run" / "top").exists()


def test_a_bad_configuration_is_reported_before_tensorflow_loads(tmp_path):
    config = tmp_path / "space.toml"
    config.write_text("[search]\nloss = 'mse'\n")
    data = tmp_path / "d.csv"
    data.write_text("a,n_a,n_b\n0.1,1,0\n0.2,0,1\n")
    probe = subprocess.run([sys.executable, "-c", "import sys; from committor_keras.cli import main; "
                            f"status = main(['tune', {str(data)!r}, '--out', {str(tmp_path / 'run')!r}, '--config', "
                            f"{str(config)!r}]); print(status, 'tensorflow' in sys.modules)"],
                           capture_output=True, text=True, timeout=120)
    assert probe.stdout.split() == ["2", "False"], probe.stderr
    assert "space.toml" in probe.stderr and "search.loss" in probe.stderr and len(probe.stderr.splitlines()) == 1


def test_tensorflow_start_up_is_kept_off_the_console():
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    probe = subprocess.run([sys.executable, "-c", "import logging, os; "
                            "from committor_keras.cli import quiet_tensorflow; quiet_tensorflow(); "
                            "import tensorflow as tf; tf.constant(1.0) + 1; "
                            "logging.getLogger('tensorflow').warning('retracing'); "
                            "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"],
                           capture_output=True, text=True, timeout=300, env=env)
    assert probe.returncode == 0 and probe.stderr == "", probe.stderr
    assert probe.stdout.split() == ["None"]   # oneDNN left as TensorFlow chooses: it changes numerics


def test_predict_reports_a_missing_model(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n")
    _assert_user_error(run_cli("predict", tmp_path / "nope", data), "nope")


def test_inspect_prints_a_summary(tmp_path):
    from committor_keras.data import CommittorData

    path = tmp_path / "ok.npz"
    CommittorData(np.eye(3), ["a", "b", "c"], n_a=[1, 0, 2], n_b=[1, 2, 0]).save(path)
    result = run_cli("inspect", path)
    assert result.returncode == 0 and "3 points x 3 features" in result.stdout
