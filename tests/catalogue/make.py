"""Make the catalogue's submissions: the reference solution with one change each, run as a
student runs it (export cell included), then changed at the zip level where the manifest says."""

import functools
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

from autograder.build import submit

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
    exported = submit(solution, folder / "work" / entry["name"], allow_errors=True,
                      edit=functools.partial(apply_edits, edits=entry.get("edits", [])))
    target = folder / f"{entry['name']}.zip"
    with zipfile.ZipFile(exported) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            if item.filename not in entry.get("drop", []):
                dst.writestr(item, src.read(item))
    return target


def make_all(solution, folder, workers=2):
    """{name: zip} for every entry, `workers` notebooks at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(workers) as pool:
        futures = {e["name"]: pool.submit(make, e, solution, folder) for e in entries()}
        return {name: f.result() for name, f in futures.items()}
