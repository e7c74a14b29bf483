"""The Open-in-Colab badge and the Colab set-up cell of every tutorial, written from one place.

Run ``python tutorials/colab.py`` after changing ``REPO_URL`` (or adding a notebook): it (re)writes the first
cells of each notebook. ``tests/test_tutorials.py`` checks that every notebook carries exactly these cells.
"""

import sys
from pathlib import Path

REPO_URL = "https://github.com/OWNER/committor-keras"
"""The repository Colab installs from and fetches the data from; a placeholder until the project is public."""

BRANCH = "main"
# Extras a notebook needs beyond what Colab has (Colab ships TensorFlow, so no `cpu` extra).
EXTRAS = {"04_your_own_system.ipynb": "[md]"}
_MARKER = "google.colab"


def badge_source(name):
    """Markdown of the badge that opens ``name`` in Colab."""
    url = REPO_URL.replace("https://github.com/", "https://colab.research.google.com/github/")
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({url}/blob/{BRANCH}/tutorials/{name})")


def setup_source(name):
    """The first code cell: keep TensorFlow's start-up banner quiet; on Colab only, clone the repository (code and
    data), install it, work in it."""
    return f'''# On Colab only: fetch the repository (package + data) and install it. Everywhere: hide TensorFlow's
# start-up INFO/WARNING lines (set TF_CPP_MIN_LOG_LEVEL=0 to see them; it changes no number).
# REPO_URL: where committor-keras is installed from (see tutorials/README.md).
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_URL = "{REPO_URL}"
if "{_MARKER}" in sys.modules:
    import subprocess

    subprocess.run(["git", "clone", "--quiet", "--depth", "1", REPO_URL, "committor-keras"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "./committor-keras{EXTRAS.get(name, "")}"],
                   check=True)
    os.chdir("committor-keras/tutorials")  # the notebooks read ../data/ from here'''


def colab_cells(name):
    """The (badge, setup) cells for notebook ``name``."""
    import nbformat

    badge = nbformat.v4.new_markdown_cell(badge_source(name))
    setup = nbformat.v4.new_code_cell(setup_source(name))
    for cell, cell_id in ((badge, "colab-badge"), (setup, "colab-setup")):
        cell.metadata["tags"] = ["colab"]
        cell.id = cell_id
    return badge, setup


def has_colab_cells(notebook, name):
    """Whether the notebook starts with the badge and has the setup cell as its first code cell."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return (notebook.cells[0].source == badge_source(name) and bool(code)
            and code[0].source == setup_source(name))


def update(path):
    """Put the badge first and the setup cell before the first code cell (replacing older versions)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [cell for cell in notebook.cells if "colab" not in cell.metadata.get("tags", [])]
    badge, setup = colab_cells(path.name)
    first_code = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    notebook.cells[first_code:first_code] = [setup]
    notebook.cells.insert(0, badge)
    nbformat.write(notebook, path)


if __name__ == "__main__":
    for notebook_path in sorted(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent).glob("*.ipynb")):
        update(notebook_path)
        print(f"updated {notebook_path}")
