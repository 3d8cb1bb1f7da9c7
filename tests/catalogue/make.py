"""Make the catalogue's submissions: the reference solution with one change each, run as a
student runs it (export cell included), then changed at the zip level where the manifest says.

An entry's `run_edits` change only the student's run, not the notebook they submit: they emulate
the machine it ran on (a GPU's own dropout stream). `saved_on: cuda` re-saves its checkpoint files
as a GPU run tags them; `payload_in` adds an object to a checkpoint file that calls open(canary)
when a full unpickler loads it. `add_cells` inserts new code cells. `forms` also writes the
submission as the other ways a student uploads it (see FORMS), into forms/; `nbgrader_form`
writes it as an nbgrader student submits it.
"""

import functools
import io
import shutil
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path, PurePosixPath

import nbformat
import torch
import yaml

from autograder.build import submit
from autograder.saving_and_loading import ASSIGNMENT
from autograder.saving_and_loading.build import save_as_on_gpu

NAME, NOTEBOOK = ASSIGNMENT.name, ASSIGNMENT.notebook

MANIFEST = Path(__file__).with_name("manifest.yaml")


def entries():
    """Every catalogue entry, mistakes and correct variations, with a `kind`."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    return [{**e, "kind": kind} for kind in ("mistakes", "correct", "hostile") for e in manifest[kind]]


def pick(nb, text):
    cells = [c for c in nb.cells if c.cell_type == "code" and text in c.source]
    assert len(cells) == 1, f"{text!r} picks {len(cells)} code cells, not one"
    return cells[0]


def apply_edits(nb, edits, add_cells=()):
    for edit in edits:
        cell = pick(nb, edit["in"])
        assert cell.source.count(edit["replace"]) == 1, f"{edit['replace']!r} is not in that cell exactly once"
        cell.source = cell.source.replace(edit["replace"], edit["with"])
    for add in add_cells:
        nb.cells.insert(nb.cells.index(pick(nb, add["after"])) + 1, nbformat.v4.new_code_cell(add["source"]))


class Payload:
    """Creates the file `canary` if a full unpickler loads it; weights_only=True refuses it."""

    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (open, (self.canary, "w"))


def make(entry, solution, folder):
    """The submission zip for one entry."""
    edits, run_edits, add_cells = entry.get("edits", []), entry.get("run_edits", []), entry.get("add_cells", [])
    exported = submit(solution, folder / "work" / entry["name"], allow_errors=True,
                      edit=functools.partial(apply_edits, edits=edits + run_edits, add_cells=add_cells))
    target = folder / f"{entry['name']}.zip"
    with zipfile.ZipFile(exported) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            if item.filename in entry.get("drop", []):
                continue
            data = src.read(item)
            if run_edits and item.filename == NOTEBOOK:
                nb = nbformat.read(solution, as_version=4)
                apply_edits(nb, edits, add_cells)
                data = nbformat.writes(nb)
            if item.filename in entry.get("payload_in", []):
                buf = io.BytesIO()
                torch.save({**torch.load(io.BytesIO(data), weights_only=True), "x": Payload(entry["canary"])}, buf)
                data = buf.getvalue()
            if entry.get("saved_on") == "cuda" and item.filename.startswith("checkpoints/"):
                buf = io.BytesIO()
                save_as_on_gpu(torch.load(io.BytesIO(data), weights_only=True), buf)
                data = buf.getvalue()
            dst.writestr(item, data)
    for form in entry.get("forms", []):
        FORMS[form](target, folder / "forms" / f"{entry['name']}-{form}")
    return target


def loose(export, target):
    """The notebook and the .pth files dragged into the upload form one by one: a folder of them."""
    target.mkdir(parents=True)
    with zipfile.ZipFile(export) as zf:
        for item in zf.infolist():
            (target / PurePosixPath(item.filename).name).write_bytes(zf.read(item))


def folder(export, target):
    """The whole working folder zipped: everything one level down, with the lesson's scratch files
    and Jupyter's autosave copy of the notebook beside it."""
    with zipfile.ZipFile(export) as src, zipfile.ZipFile(target.with_suffix(".zip"), "w") as dst:
        for item in src.infolist():
            dst.writestr(f"my-work/{item.filename}", src.read(item))
        dst.writestr(f"my-work/.ipynb_checkpoints/{NAME}-checkpoint.ipynb", src.read(NOTEBOOK))
        dst.writestr("my-work/model.pth", src.read("checkpoints/mnist_model.pth"))
        dst.writestr("my-work/notes.txt", "scratch")


def zip_file(export, target):
    """The export zip handed over as a file in the submission folder, not unpacked."""
    target.mkdir(parents=True)
    shutil.copy(export, target / export.name)


FORMS = {"loose": loose, "folder": folder, "zip-file": zip_file}


def nbgrader_form(entry, export, source_notebook, released, target):
    """The entry as an nbgrader student submits it: the released folder, its notebook's solution
    cells filled in from the nbgrader source notebook and changed as the entry says, and the
    checkpoint files from the entry's export zip (the same code and seeds write the same files)."""
    shutil.copytree(released, target)
    solutions = {c.metadata.nbgrader["grade_id"]: c.source for c in nbformat.read(source_notebook, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(released / NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = solutions[cell.metadata.nbgrader["grade_id"]]
    apply_edits(nb, entry.get("edits", []), entry.get("add_cells", []))
    nbformat.write(nb, target / NOTEBOOK)
    with zipfile.ZipFile(export) as zf:
        for item in zf.infolist():
            if item.filename.startswith("checkpoints/"):
                zf.extract(item, target)
    return target


def make_all(solution, folder, workers=2):
    """{name: zip} for every entry, `workers` notebooks at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(workers) as pool:
        futures = {e["name"]: pool.submit(make, e, solution, folder) for e in entries()}
        return {name: f.result() for name, f in futures.items()}
