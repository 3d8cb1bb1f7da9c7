"""The catalogue: realistic submissions graded end to end by the built autograder.

Every mistake must cost exactly the points the manifest states, on the question it states, with
feedback that names it; every correct variation must get full marks; a hostile notebook gets
what its files earned and no more, and is flagged for a TA when its kernel claimed otherwise.
"""

import io
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch

from autograder import grade
from autograder.saving_and_loading import ASSIGNMENT

QUESTIONS, NOTEBOOK = ASSIGNMENT.questions, ASSIGNMENT.notebook
from catalogue.make import Made, entries, leave_out, make_all, notebooks
from conftest import AS_ROOT

ENTRIES = {e["name"]: e for e in entries()}
HIDDEN_TEST_FILE = "from otter.test_files import test_case"  # the first line of every test file otter writes


def expected_scores(entry):
    return {q: float(entry.get("scores", {}).get(q, p)) for q, p in QUESTIONS.items()}


def test_the_catalogue_is_complete():
    kinds = [e["kind"] for e in ENTRIES.values()]
    assert kinds.count("mistakes") >= 15 and kinds.count("correct") >= 6 and kinds.count("hostile") >= 8
    for e in ENTRIES.values():
        if e["kind"] != "hostile":
            assert (sum(expected_scores(e).values()) < 16) == (e["kind"] == "mistakes"), e["name"]


def test_an_entry_that_cannot_be_made_fails_alone(tmp_path):
    """A stale edit, a graded_only cell that acts in the student's run and a premise the run no
    longer meets each fail their own entry, with the reason (the last skips its tests: another
    machine's run may meet it); the others are still made, here from
    the reference run they share (a one-cell notebook: nothing is run)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, tmp_path / NOTEBOOK)
    best = io.BytesIO()
    torch.save({"epoch": 9, "val_loss": 0.5}, best)
    with zipfile.ZipFile(tmp_path / "reference.zip", "w") as zf:
        zf.writestr(NOTEBOOK, nbformat.writes(nb))
        zf.writestr("checkpoints/best.pth", best.getvalue())
    guarded = "from otter import Notebook\nif Notebook._grading_mode:\n    x = 2"
    catalogue = [
        {"name": "stale", "edits": [{"in": "y = 1", "replace": "1", "with": "2"}]},
        {"name": "acts-in-the-run", "add_cells": [{"after": "x = 1", "graded_only": True, "source": "x = 2"}]},
        {"name": "acts-in-an-else", "add_cells": [{"after": "x = 1", "graded_only": True,
                                                    "source": guarded + "\nelse:\n    x = 3"}]},
        {"name": "premise-moved", "premise": [{"of": "best.pth epoch", "is": 10}]},
        {"name": "not-another-run", "premise": [{"of": "best.pth", "moved_from": "reference best.pth"}]},
        {"name": "graded-only", "add_cells": [{"after": "x = 1", "graded_only": True, "source": guarded}],
         "premise": [{"of": "best.pth epoch", "is": 9}], "drop": ["checkpoints/best.pth"]},
    ]
    zips, failed = make_all(catalogue, tmp_path / NOTEBOOK, tmp_path / "made", reference=tmp_path / "reference.zip")
    assert failed == {"stale": "AssertionError: 'y = 1' picks 0 code cells, not one",
                      "acts-in-the-run": "AssertionError: a graded_only cell acts outside otter's grading mode:\nx = 2",
                      "acts-in-an-else": f"AssertionError: a graded_only cell acts outside otter's grading mode:\n"
                                         f"{guarded}\nelse:\n    x = 3",
                      "premise-moved": "PremiseError: premise no longer holds: best.pth epoch is 10: found 9",
                      "not-another-run": "PremiseError: premise no longer holds: best.pth moved_from reference "
                                         "best.pth: found (9, 0.5) and (9, 0.5)"}
    with zipfile.ZipFile(zips["graded-only"]) as zf:
        assert zf.namelist() == [NOTEBOOK]
        assert [c.source for c in nbformat.reads(zf.read(NOTEBOOK), as_version=4).cells] == ["x = 1", guarded]
    with pytest.raises(pytest.fail.Exception, match="entry stale could not be made: AssertionError: 'y = 1' picks"):
        Made({}, failed)["stale"]
    with pytest.raises(pytest.skip.Exception, match="entry premise-moved, on this machine: PremiseError: premise"):
        Made({}, failed)["premise-moved"]
    with pytest.raises(KeyError):
        Made({}, failed)["never-listed"]


def test_a_run_leaves_out_only_the_exercises_nothing_it_runs_needs():
    """An entry's run leaves out the exercises it does not change (their files are the reference
    run's), each with its sub-headings' cells, but not one whose global a cell that runs reads, even
    in a function's body, and nothing when a cell outside the exercises changed."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    solution = nbformat.v4.new_notebook(cells=[
        md("# Title"), code("x = 1"),
        md("### Exercise 1 (guided)"), code("a = x + 1"),
        md("### Exercise 2 (supported)"), code("def f():\n    return a * 2\nb = f()"),
        md("### Exercise 3 (supported)"), code("for epoch in range(2):\n    c = epoch"), md("#### A hint"), code("h = c"),
        md("### Exercise 4 (independent)"), code("def g(epoch):\n    return epoch\nd = g(1)"),
        md("## Submit"), code("export()")])

    def edited(index, source):
        nb = nbformat.from_dict(solution)
        nb.cells[index] = code(source)
        return nb

    def files(*exercises):
        return {f.path: n for n in exercises for f in ASSIGNMENT.contract if f.written_by.startswith(f"Exercise {n}'s")}

    run, taken = leave_out(edited(5, "def f():\n    return a * 3\nb = f()"), solution)  # Exercise 2 reads Exercise 1's a
    assert taken == files(3, 4) and len(files(3, 4)) == 2
    assert [c.source for c in run.cells] == [c.source for c in edited(5, "def f():\n    return a * 3\nb = f()").cells[:6]] + [
        "## Submit", "export()"]
    run, taken = leave_out(edited(11, "def g(epoch):\n    return epoch + 1\nd = g(1)"), solution)  # a local epoch
    assert taken == files(1, 2, 3) and "c = epoch" not in str([c.source for c in run.cells])
    run, taken = leave_out(edited(1, "x = 2"), solution)
    assert taken == {} and len(run.cells) == len(solution.cells)


def test_every_entry_fits_the_solution_notebook(built):
    """Each entry's edits and added cells apply to this build's solution notebook, checked without
    running anything: after a change to the master, a stale edit names its entry here in seconds
    (the catalogue's grading then fails that entry alone)."""
    stale = {}
    for name, entry in ENTRIES.items():
        try:
            notebooks(entry, built["solution"])
        except AssertionError as e:
            stale[name] = str(e)
    assert not stale, stale


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_scores_and_feedback(catalogue, name):
    if ENTRIES[name].get("needs_root") and not AS_ROOT:
        pytest.skip("an attack on the kernel's confinement, which needs root (CI runs as root)")
    entry, graded = ENTRIES[name], catalogue[1][name]
    got = {q: float(s) for q, (s, _) in graded.scores.items()}
    assert got == expected_scores(entry), f"{name}: {entry.get('mistake') or entry.get('change')}"
    for phrase in [entry["feedback"]] if isinstance(entry.get("feedback"), str) else entry.get("feedback", []):
        assert phrase in grade.feedback(graded), grade.feedback(graded)
    assert graded.flagged == entry.get("flagged", False), graded.results["tests"][-1]
    if "canary" in entry:
        assert not Path(entry["canary"]).exists(), "code from the notebook's results ran in the grader"


@pytest.mark.skipif(not AS_ROOT, reason="the kernel is confined only when grading as root (CI runs as root)")
def test_no_attack_outlives_its_grading_or_leaks_a_hidden_test(catalogue):
    """After every grading: no process an attack left, no file it dropped into site-packages, and
    no hidden test's source in any student's results."""
    import site

    import psutil

    left = [p.info for p in psutil.process_iter(["pid", "cmdline"]) if "autograder-attack-leftover" in (p.info["cmdline"] or [])]
    assert not left
    assert not [f for d in site.getsitepackages() for f in Path(d).glob("zz-autograder-attack.pth")]
    for name, graded in catalogue[1].items():  # a failed test shows its own line (otter's way), never a file
        assert HIDDEN_TEST_FILE not in grade.feedback(graded), name
