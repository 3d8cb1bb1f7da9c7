"""Make the catalogue's submissions: the reference solution with one change each, run as a
student runs it (export cell included), then changed at the zip level where the manifest says.

An entry's `run_edits` change only the student's run, not the notebook they submit: they emulate
the machine it ran on (a GPU's own dropout stream). `saved_on: cuda` re-saves its checkpoint files
as a GPU run tags them.
"""

import functools
import io
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import torch
import yaml

from autograder.build import NAME, save_as_on_gpu, submit

MANIFEST = Path(__file__).with_name("manifest.yaml")


def entries():
    """Every catalogue entry, mistakes and correct variations, with a `kind`."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    return [{**e, "kind": kind} for kind in ("mistakes", "correct") for e in manifest[kind]]


def apply_edits(nb, edits):
    for edit in edits:
        cells = [c for c in nb.cells if c.cell_type == "code" and edit["in"] in c.source]
        assert len(cells) == 1, f"{edit['in']!r} picks {len(cells)} code cells, not one"
        assert cells[0].source.count(edit["replace"]) == 1, f"{edit['replace']!r} is not in that cell exactly once"
        cells[0].source = cells[0].source.replace(edit["replace"], edit["with"])


def make(entry, solution, folder):
    """The submission zip for one entry."""
    edits, run_edits = entry.get("edits", []), entry.get("run_edits", [])
    exported = submit(solution, folder / "work" / entry["name"], allow_errors=True,
                      edit=functools.partial(apply_edits, edits=edits + run_edits))
    target = folder / f"{entry['name']}.zip"
    with zipfile.ZipFile(exported) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            if item.filename in entry.get("drop", []):
                continue
            data = src.read(item)
            if run_edits and item.filename == f"{NAME}.ipynb":
                nb = nbformat.read(solution, as_version=4)
                apply_edits(nb, edits)
                data = nbformat.writes(nb)
            if entry.get("saved_on") == "cuda" and item.filename.startswith("checkpoints/"):
                buf = io.BytesIO()
                save_as_on_gpu(torch.load(io.BytesIO(data), weights_only=True), buf)
                data = buf.getvalue()
            dst.writestr(item, data)
    return target


def make_all(solution, folder, workers=2):
    """{name: zip} for every entry, `workers` notebooks at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(workers) as pool:
        futures = {e["name"]: pool.submit(make, e, solution, folder) for e in entries()}
        return {name: f.result() for name, f in futures.items()}
