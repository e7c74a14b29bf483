"""The tutorials run from top to bottom (their own cells assert what they teach) and carry the Colab cells."""

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"


@pytest.mark.parametrize("name", [path.name for path in sorted(TUTORIALS.glob("*.ipynb"))])
def test_tutorial_executes(name, monkeypatch):
    # Headless: tutorial 06 then skips `%tensorboard`, whose server would outlive the kernel.
    monkeypatch.setenv("COMMITTOR_KERAS_HEADLESS", "1")
    notebook = nbformat.read(TUTORIALS / name, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(TUTORIALS)}})
    client.execute()


def _colab_module():
    spec = importlib.util.spec_from_file_location("tutorials_colab", TUTORIALS / "colab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", [path.name for path in sorted(TUTORIALS.glob("*.ipynb"))])
def test_tutorial_has_the_colab_badge_and_setup_cell(name):
    colab = _colab_module()
    notebook = nbformat.read(TUTORIALS / name, as_version=4)
    assert colab.has_colab_cells(notebook, name), f"run `python tutorials/colab.py` to add the Colab cells to {name}"
    assert f"REPO_URL = \"{colab.REPO_URL}\"" in colab.setup_source(name)
    assert colab.REPO_URL in (TUTORIALS / "README.md").read_text()
