"""The notebook on Google Colab, emulated: its cells run under a stand-in `google.colab` (the
`_message` and `files` APIs as Colab documents them), with the notebook kept off the disk as
Colab keeps it. The export cell must write the same submission as on Jupyter, offer it for
download, and the zip must grade like the reference.
"""

import json
import os
import textwrap
import zipfile

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import grade
from autograder.saving_and_loading import ASSIGNMENT

CONTRACT, NOTEBOOK, QUESTIONS = ASSIGNMENT.contract, ASSIGNMENT.notebook, ASSIGNMENT.questions

STAND_IN = {
    "google/__init__.py": "",
    "google/colab/__init__.py": "",
    "google/colab/_shell.py": """
        from ipykernel.zmqshell import ZMQInteractiveShell

        class Shell(ZMQInteractiveShell):
            pass
        """,
    "google/colab/_message.py": """
        import json, os

        def blocking_request(request_type, request="", timeout_sec=5, parent=None):
            assert request_type == "get_ipynb"
            with open(os.environ["COLAB_STAND_IN_NOTEBOOK"]) as f:
                return {"ipynb": json.load(f)}
        """,
    "google/colab/files.py": """
        import os

        def download(filename):
            with open(os.environ["COLAB_STAND_IN_DOWNLOADS"], "a") as f:
                f.write(os.path.abspath(filename) + "\\n")
        """,
}
# Colab's kernel runs google.colab._shell.Shell; that is how otter and the notebook recognise it.
BECOME_COLAB = "from google.colab._shell import Shell\nget_ipython().__class__ = Shell"


@pytest.fixture(scope="module")
def colab_run(built, tmp_path_factory):
    root = tmp_path_factory.mktemp("colab")
    for rel, source in STAND_IN.items():
        (root / "stand-in" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "stand-in" / rel).write_text(textwrap.dedent(source))
    notebook = nbformat.read(built["solution"], as_version=4)  # the release notebook, solved
    served = root / "served.ipynb"  # what Colab's API returns: the notebook as the browser holds it
    nbformat.write(notebook, served)
    work = root / "content"
    work.mkdir()
    notebook.cells.insert(0, nbformat.v4.new_code_cell(BECOME_COLAB))
    env = {"PYTHONPATH": str(root / "stand-in"), "COLAB_STAND_IN_NOTEBOOK": str(served),
           "COLAB_STAND_IN_DOWNLOADS": str(root / "downloads.txt")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return {"root": root, "work": work, "served": served, "notebook": notebook}


def test_export_writes_the_notebook_from_colab_and_the_files_then_downloads(colab_run):
    work = colab_run["work"]
    assert not (work / NOTEBOOK).exists()  # nothing on disk to zip: the notebook came from Colab's API
    [exported] = work.glob("saving-and-loading_*.zip")
    with zipfile.ZipFile(exported) as zf:
        assert sorted(zf.namelist()) == sorted([NOTEBOOK, *(f.path for f in CONTRACT)])
        assert json.loads(zf.read(NOTEBOOK)) == json.loads(colab_run["served"].read_text())
    assert (colab_run["root"] / "downloads.txt").read_text().split() == [str(exported)]
    said = colab_run["notebook"].cells[-1].outputs[0]["text"]
    assert said.startswith(f"Wrote {exported.name}: this notebook and 6 of 6 checkpoint files.")
    assert "Upload this zip to Gradescope" in said and "open the Files pane" in said and said.count("\n") == 2
    assert sorted(p.stem for p in (work / "tests").glob("*.py")) == sorted(QUESTIONS)  # public tests from Colab


def test_the_colab_zip_grades_like_the_reference(colab_run, graded, built):
    [exported] = colab_run["work"].glob("saving-and-loading_*.zip")
    again = grade.grade_one(exported, built["zip_path"])
    assert again.scores == graded["reference"].scores == {q: (p, p) for q, p in QUESTIONS.items()}


def test_each_exercise_shows_a_correct_runs_numbers_and_the_reference_is_inside_them(colab_run):
    """The lines under each exercise (expected.py): the solved notebook's run, on the CPU, lies in
    the ranges a student is told a correct run shows."""
    cells = [c for c in colab_run["notebook"].cells if c.cell_type == "code" and "expected.ex" in c.source]
    said = "".join(o.get("text", "") for c in cells for o in c.outputs)
    assert len(cells) == 4 and said.count("A correct run: ") == 4, said
    assert said.count(": as expected.") == 4, said
