"""The built wheel installs into a fresh virtual environment outside the repository and runs there; the
Colab set-up cell installs from a clone URL.

Slow (minutes: pip installs TensorFlow into the new environment from the local index or cache).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TINY_SEARCH = """[search]
max_trials = 1
searches = 1
initial_points = 1
epochs = 2
patience = 1
top_k = 1
[space.hidden_layers]
value = 1
[space.batch_size]
value = 64
"""


def _run(command, cwd, env, timeout=900):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _source_copy(destination):
    """The working tree's files (tracked and untracked, not ignored) as a fresh git repository."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(git + ["init", "--quiet", "-b", "main"], cwd=destination, check=True)
    subprocess.run(git + ["add", "-A"], cwd=destination, check=True)
    subprocess.run(git + ["commit", "--quiet", "-m", "snapshot"], cwd=destination, check=True)
    return destination


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("install")
    assert REPO not in root.parents, "the environment must live outside the repository"
    source = _source_copy(root / "source")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
          str(root / "dist"), str(source)], cwd=root, env=env)
    wheel = next((root / "dist").glob("committor_keras-*.whl"))
    # The base interpreter, not this virtual environment's: the new environment must not see its packages.
    _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(root / "venv")], cwd=root, env=env)
    python = root / "venv" / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", "-c", str(REPO / "requirements" / "pins.txt"),
          f"{wheel}[cpu]"], cwd=root, env=env, timeout=1800)
    return {"root": root, "source": source, "python": python, "env": env}


@pytest.mark.slow
def test_the_wheel_runs_tune_and_predict_without_the_repository(installed):
    root, env = installed["root"], installed["env"]
    work = root / "work"
    work.mkdir()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    p_b = 1 / (1 + np.exp(-3 * x[:, 0]))
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "p_B": np.round(p_b * 10) / 10,
                  "n_shots": 10}).to_csv(work / "mine.csv", index=False)
    (work / "search.toml").write_text(TINY_SEARCH)
    where = _run([str(installed["python"]), "-c", "import committor_keras; print(committor_keras.__file__)"],
                 cwd=work, env=env).stdout
    assert str(root / "venv") in where and str(REPO) not in where
    cli = str(root / "venv" / "bin" / "committor-keras")
    _run([cli, "tune", "mine.csv", "--out", "run", "--config", "search.toml", "--seed", "0", "--quiet"],
         cwd=work, env=env)
    predicted = _run([cli, "predict", "run/top/01", "mine.csv"], cwd=work, env=env).stdout.splitlines()
    assert predicted[0].startswith("index,committor") and len(predicted) == 301
    _run([str(installed["python"]), "-m", "pip", "check"], cwd=work, env=env)


@pytest.mark.slow
def test_the_colab_cell_installs_from_a_clone_url(installed):
    """The set-up cell, with REPO_URL swapped for a file:// clone URL and google.colab faked, clones,
    installs and leaves the notebook in a tutorials directory holding the data."""
    spec = importlib.util.spec_from_file_location("tutorials_colab", REPO / "tutorials" / "colab.py")
    colab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(colab)
    cell = colab.setup_source("01_known_committor.ipynb")
    url = installed["source"].as_uri()
    cell = cell.replace(f'REPO_URL = "{colab.REPO_URL}"', f'REPO_URL = "{url}"')
    assert url in cell
    script = ("import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n" + cell
              + "\nimport os, committor_keras\nprint(os.getcwd())\nprint(committor_keras.__file__)\n")
    colab_dir = installed["root"] / "colab"
    colab_dir.mkdir()
    out = _run([str(installed["python"]), "-c", script], cwd=colab_dir, env=installed["env"]).stdout.splitlines()
    assert out[-2] == str(colab_dir / "committor-keras" / "tutorials")
    assert str(installed["root"] / "venv") in out[-1]
    assert (colab_dir / "committor-keras" / "data" / "alanine_dipeptide_vacuum" /
            "alanine_dipeptide_vacuum.npz").is_file()
