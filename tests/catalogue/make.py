"""Make the catalogue's submissions: the reference solution with one change each, run as a
student runs it (export cell included), then changed at the zip level where the manifest says.

An entry's `run_edits` change only the student's run, not the notebook they submit: they emulate
the machine it ran on (a GPU's own dropout stream). An `add_cells` cell marked `graded_only` acts
only under otter's grading mode (checked: see acts_only_under_grading), so it is in the notebook
submitted but changes nothing in the student's run. `saved_on: cuda` re-saves its checkpoint files
as a GPU run tags them; `payload_in` adds an object to a checkpoint file that calls open(canary)
when a full unpickler loads it. `forms` also writes the submission as the other ways a student
uploads it (see FORMS), into forms/; `nbgrader_form` writes it as an nbgrader student submits it.

Entries whose student runs are the same notebook share one run; the unedited solution's run is
the build's reference.zip when given, and then a run leaves out the exercises it leaves unchanged
(see leave_out): each exercise seeds its own run, so their files are the reference run's.
`premise` states what an entry's expected outcome rests on in its run's files (see check_premise). An entry that cannot be made (a stale edit, a run that
failed) is recorded with its reason and the others are still made; its tests fail with the reason.
One whose premise this machine's run does not meet (the float kernels of AVX-512, AVX2, and AMD's
math libraries each train to other numbers) is recorded so too, and its tests are skipped here
with the reason: its expected outcome is not what this machine's run tests.
"""

import ast
import io
import operator
import os
import re
import shutil
import symtable
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path, PurePosixPath

import nbformat
import pytest
import torch
import yaml

from autograder import grade
from autograder.build import submit
from autograder.nbgrader_course import ignored_by_otter
from autograder.saving_and_loading import ASSIGNMENT
from autograder.saving_and_loading.build import save_as_on_gpu

NAME, NOTEBOOK = ASSIGNMENT.name, ASSIGNMENT.notebook

MANIFEST = Path(__file__).with_name("manifest.yaml")
GRADING_MODE = "Notebook._grading_mode"  # otter sets it in the kernel it grades in


def entries():
    """Every catalogue entry, mistakes and correct variations, with a `kind`."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    return [{**e, "kind": kind} for kind in ("mistakes", "correct", "hostile") for e in manifest[kind]]


def pick(nb, text):
    cells = [c for c in nb.cells if c.cell_type == "code" and text in c.source]
    assert len(cells) == 1, f"{text!r} picks {len(cells)} code cells, not one"
    return cells[0]


def edits_of(entry, key="edits"):
    """The entry's edits; an item that is a list of edits (a YAML anchor of another entry's) is
    spliced in, so an entry can combine several mistakes."""
    return [e for item in entry.get(key, []) for e in (item if isinstance(item, list) else [item])]


def apply_edits(nb, edits, add_cells=()):
    for edit in edits:
        cell = pick(nb, edit["in"])
        assert not ignored_by_otter(cell), f"{edit['in']!r} picks a cell otter's grading drops (a demo)"
        assert cell.source.count(edit["replace"]) == 1, f"{edit['replace']!r} is not in that cell exactly once"
        cell.source = cell.source.replace(edit["replace"], edit["with"])
    for add in add_cells:
        nb.cells.insert(nb.cells.index(pick(nb, add["after"])) + 1, nbformat.v4.new_code_cell(add["source"]))


def acts_only_under_grading(source):
    """Every top-level statement is an import, a def, or an `if`/`while` on otter's grading mode
    with no else: in the student's own run the cell defines names and does nothing else."""
    def guarded(stmt):
        return isinstance(stmt, (ast.If, ast.While)) and not stmt.orelse and ast.unparse(stmt.test) == GRADING_MODE
    return all(isinstance(s, (ast.Import, ast.ImportFrom, ast.FunctionDef)) or guarded(s)
               for s in ast.parse(source).body)


def notebooks(entry, solution):
    """(the notebook the student runs, the notebook they submit)."""
    adds = entry.get("add_cells", [])
    for add in adds:
        assert not add.get("graded_only") or acts_only_under_grading(add["source"]), (
            f"a graded_only cell acts outside otter's grading mode:\n{add['source']}")
    run, submitted = (nbformat.read(solution, as_version=4) for _ in range(2))
    apply_edits(run, edits_of(entry) + edits_of(entry, "run_edits"), [a for a in adds if not a.get("graded_only")])
    apply_edits(submitted, edits_of(entry), adds)
    return run, submitted


def cells(listed):
    """What a run of the cells `listed` depends on: their sources (new cells get random ids)."""
    return tuple((c.cell_type, c.source) for c in listed)


HEADING = re.compile(r"(#+) (Exercise (\d+)\b)?")


def sections(nb):
    """[(exercise number, or None for any other part, [cells])]: the notebook cut at its headings;
    an exercise runs to the next heading of its level or above."""
    parts, level = [(None, [])], 0  # level: the open exercise's, 0 when none is open
    for cell in nb.cells:
        found = HEADING.match(cell.source) if cell.cell_type == "markdown" else None
        if found and (found[2] or not level or len(found[1]) <= level):
            level = len(found[1]) if found[2] else 0
            parts.append((int(found[3]) if found[2] else None, []))
        parts[-1][1].append(cell)
    return parts


def names(cells):
    """(the global names the cells bind, the global names they read), a function's body included:
    Python's own scoping (symtable), so a function's local is neither."""
    bound, read = set(), set()

    def visit(table):
        module = table.get_type() == "module"  # a str, or from Python 3.13 a str enum
        for s in table.get_symbols():
            if module or s.is_global():
                if s.is_assigned() or s.is_imported() or (module and s.is_namespace()):
                    bound.add(s.get_name())
                if s.is_referenced():
                    read.add(s.get_name())
        for child in table.get_children():
            visit(child)

    for cell in cells:
        if cell.cell_type == "code":
            try:
                visit(symtable.symtable(cell.source, "cell", "exec"))
            except SyntaxError:  # a magic: nothing the analysis could name
                pass
    return bound, read


def leave_out(run, solution):
    """(the run without the exercises it leaves as the solution has them, {file: exercise} of the
    files those write, as the contract's written_by names them): only when everything outside the
    exercises is the solution's, and no cell that runs reads a name only a left-out exercise binds.
    Otherwise (run, {})."""
    mine, theirs = sections(run), sections(solution)
    alike = [cells(a) == cells(b) for (_, a), (_, b) in zip(mine, theirs)]
    if [n for n, _ in mine] != [n for n, _ in theirs] or not all(a for (n, _), a in zip(mine, alike) if n is None):
        return run, {}
    left = {n for (n, _), a in zip(mine, alike) if n is not None and a}
    binds = {n: names(part)[0] for n, part in mine if n in left}
    while True:  # an exercise a kept cell depends on is kept, and then what it reads is kept too
        bound_kept, read_kept = names([c for n, part in mine if n not in left for c in part])
        needed = {n for n in left if (binds[n] - bound_kept) & read_kept}
        if not needed:
            break
        left -= needed
    files = {f.path: n for f in ASSIGNMENT.contract for n in left if f.written_by.startswith(f"Exercise {n}'s")}
    reduced = nbformat.from_dict(run)
    reduced.cells = [c for n, part in mine if n not in left for c in part]
    return reduced, files


def run_notebook(nb, folder, group, reference=None, solution=None):
    """The export zip of one student run of `nb`, run without the cells otter's grading drops and,
    given the reference run and the solution, without the exercises it leaves unchanged (leave_out),
    whose files are taken from the reference run's zip instead. Each exercise seeds its own run, so
    the files are the same as a run of every cell, bit for bit (checked once: for the demos, and for
    an entry editing each exercise, Exercise 1's to 4's). On an AMD EPYC machine a run took 43-45 s,
    29-32 s without the demos (two runs each), and 13, 18, 20 and 22 s without the unchanged
    exercises (entries editing Exercise 1, 2, 3, 4: one run each). No edit is in a demo cell
    (apply_edits checks), and an edited exercise always runs."""
    source = folder / "runs" / group / NOTEBOOK
    source.parent.mkdir(parents=True)
    nbformat.write(nb, source)
    left, taken = (nb, {}) if reference is None else leave_out(nb, nbformat.read(solution, as_version=4))

    def drop(run):
        run.cells = [c for c in left.cells if not ignored_by_otter(c)]
    exported = submit(source, folder / "work" / group, edit=drop, allow_errors=True)
    if taken:  # the notebook clears checkpoints/ before the exercises: their files join the zip
        with zipfile.ZipFile(reference) as src, zipfile.ZipFile(exported, "a") as dst:
            for path in taken:
                assert path not in dst.namelist(), f"{path}, a left-out exercise's file, was written by the run"
                dst.writestr(src.getinfo(path), src.read(path))
    return exported


def value(spec, run_zip, reference_zip):
    """A premise's value: "[reference ]<file in checkpoints/>[ <key>[.<key>...]]", read from the
    entry's run (or the unedited solution's run) with weights_only=True; a file alone is its run
    number, (epoch, val_loss), or loss where it records no val_loss."""
    words = spec.split()
    zip_path = reference_zip if words[0] == "reference" else run_zip
    words = words[1:] if words[0] == "reference" else words
    file = f"checkpoints/{words[0]}"
    with zipfile.ZipFile(zip_path) as zf:
        assert file in zf.namelist(), f"premise no longer holds: {spec}: the run wrote no {file}"
        found = torch.load(io.BytesIO(zf.read(file)), weights_only=True)
    if len(words) == 1:
        return found["epoch"], float(found["val_loss"] if "val_loss" in found else found["loss"])
    for key in words[1].split("."):
        found = found[key]
    return found.item() if isinstance(found, torch.Tensor) else found


def apart(a, b):
    """Further apart than the grader's re-run tolerates (same_run_tolerance of the larger)."""
    return abs(a - b) > ASSIGNMENT.same_run_tolerance * max(a, b)


# How a premise compares two values; `apart_from`: the re-run cannot pass one for the other;
# `within`: it can; `moved_from`, of two files' run numbers: another epoch, or a loss apart. Which
# of the two a run on other streams gives depends on the machine's float kernels (AVX-512's or
# AVX2's): a premise that names an epoch holds on one kind of machine only.
PREMISE_TESTS = {"is": operator.eq, "at_most": operator.le, "apart_from": apart,
                 "within": lambda a, b: not apart(a, b),
                 "moved_from": lambda a, b: a[0] != b[0] or apart(a[1], b[1])}


class PremiseError(AssertionError):
    """This machine's run does not meet the entry's premise."""


def check_premise(entry, run_zip, reference_zip):
    """Each item of the entry's `premise`: {of: value, <test>: literal (is) or value (the others)}."""
    for item in entry.get("premise", []):
        [test] = set(item) & set(PREMISE_TESTS)
        a = value(item["of"], run_zip, reference_zip)
        b = item[test] if test == "is" else value(item[test], run_zip, reference_zip)
        if not PREMISE_TESTS[test](a, b):
            raise PremiseError(f"premise no longer holds: {item['of']} {test} {item[test]}: found {a!r}"
                               + ("" if test == "is" else f" and {b!r}"))


class Payload:
    """Creates the file `canary` if a full unpickler loads it; weights_only=True refuses it."""

    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (open, (self.canary, "w"))


def derive(entry, submitted, run_zip, folder):
    """The entry's submission zip: its run's export zip with the notebook it submits and the
    zip-level changes."""
    target = folder / f"{entry['name']}.zip"
    with zipfile.ZipFile(run_zip) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            if item.filename in entry.get("drop", []):
                continue
            data = nbformat.writes(submitted) + "\n" if item.filename == NOTEBOOK else src.read(item)  # as nbformat.write
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
    apply_edits(nb, edits_of(entry), entry.get("add_cells", []))
    nbformat.write(nb, target / NOTEBOOK)
    with zipfile.ZipFile(export) as zf:
        for item in zf.infolist():
            if item.filename.startswith("checkpoints/"):
                zf.extract(item, target)
    return target


def reason(error):
    return f"{type(error).__name__}: {error}"


def make_all(catalogue, solution, folder, workers=2, reference=None):
    """({name: zip}, {name: why it could not be made}) for the entries of `catalogue`: one student
    run per distinct run notebook, `workers` at a time; `reference` is the export zip of the
    unedited solution's run, if one was made already."""
    folder.mkdir(parents=True, exist_ok=True)
    failed, planned, groups = {}, {}, {}  # groups: run cells -> (group name, run notebook)
    for entry in catalogue:
        try:
            run, submitted = notebooks(entry, solution)
        except Exception as error:  # a stale edit fails that entry only
            failed[entry["name"]] = reason(error)
            continue
        planned[entry["name"]] = entry, submitted, cells(run.cells)
        groups.setdefault(cells(run.cells), (entry["name"], run))
    unedited = cells(nbformat.read(solution, as_version=4).cells)
    runs, run_failed = ({unedited: reference} if reference else {}), {}
    with ProcessPoolExecutor(workers) as pool:
        futures = {key: pool.submit(run_notebook, run, folder, group, reference, solution)
                   for key, (group, run) in groups.items() if key not in runs}
        for key, future in futures.items():
            try:
                runs[key] = future.result()
            except Exception as error:  # fails the entries of that run only
                run_failed[key] = reason(error)
    zips = {}
    for name, (entry, submitted, key) in planned.items():
        try:
            assert key not in run_failed, f"its run failed: {run_failed.get(key)}"
            check_premise(entry, runs[key], runs.get(unedited))
            zips[name] = derive(entry, submitted, runs[key], folder)
        except Exception as error:
            failed[name] = reason(error)
    return zips, failed


class Made(dict):
    """{name: Graded} of the entries made; looking up one that could not be made fails its test
    with the reason, one whose premise this machine's run does not meet skips it."""

    def __init__(self, graded, failed):
        super().__init__(graded)
        self.failed = failed

    def __missing__(self, name):
        if name in self.failed and self.failed[name].startswith(PremiseError.__name__):
            pytest.skip(f"catalogue entry {name}, on this machine: {self.failed[name]}")
        if name in self.failed:
            pytest.fail(f"catalogue entry {name} could not be made: {self.failed[name]}", pytrace=False)
        raise KeyError(name)


def make(built, folder, workers):
    """(the submissions folder, {name: why it could not be made}) of every catalogue entry, each
    in its export-zip form, from the build `built` (the `built` fixture); the other upload forms
    are written to the folder's forms/."""
    # an attack on the grader's confinement is graded only where the grader confines (as root):
    # graded as anyone else, it would succeed (and write into this environment)
    chosen = [e for e in entries() if os.geteuid() == 0 or not e.get("needs_root")]
    _, failed = make_all(chosen, built["solution"], folder, workers, built["samples_dir"] / "reference.zip")
    return folder, failed


def grade_made(built, made, grades, workers):
    """(the submissions folder, Made) of the entries `made` (what make returns) graded in bulk by
    the build `built` into `grades`."""
    submissions, failed = made
    graded, _ = grade.grade_all([submissions], grades, built["zip_path"], workers=workers)
    return submissions, Made({g.file.removesuffix(".zip"): g for g in graded}, failed)
