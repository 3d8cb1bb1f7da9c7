"""Gradescope's harness, emulated as it runs: the built zip unpacked at /autograder (in a private
mount namespace), each upload form placed as Gradescope places it, the zip's own run_autograder.

Every form of a catalogue entry must get the scores and feedback of its export zip (graded by
tests/test_catalogue.py), the notes on ignored files aside.
"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from autograder import grade
from autograder.emulate import run_in_private_autograder
from conftest import BACKGROUND, WORKERS, needs_root
from test_catalogue import ENTRIES, HIDDEN_TEST_FILE, expected_scores

pytestmark = needs_root
FORMS = [(name, form) for name, e in sorted(ENTRIES.items()) for form in e.get("forms", [])]


@BACKGROUND.fixture(lane="others", needs=("built", "made"), late=True)
def emulated(tmp_path_factory, built, made):
    """{(entry, form): (results.json, stdout)} of every upload form, through the emulated harness."""
    submissions, failed = made
    forms = submissions / "forms"
    uploads = {(n, f): (forms / f"{n}-{f}.zip" if f == "folder" else forms / f"{n}-{f}") for n, f in FORMS
               if n not in failed}  # an entry that could not be made fails its own tests
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {key: pool.submit(run_in_private_autograder, path, built["zip_path"]) for key, path in uploads.items()}
        return {key: f.result() for key, f in futures.items()}


def test_forms_cover_the_reference_and_two_mistakes():
    kinds = {ENTRIES[n]["kind"] for n, _ in FORMS}
    assert {"reference"} <= {n for n, _ in FORMS} and kinds >= {"correct", "mistakes"}
    assert len({n for n, _ in FORMS}) >= 3 and {f for _, f in FORMS} == {"loose", "folder", "zip-file"}


def without_ignored_note(text):
    text = re.sub(r"<li>Not graded \(not part of the submission\): [^<]*</li>", "", text)
    return text.replace("<p>Notes on your submission:</p><ul></ul>", "").strip()


@pytest.mark.parametrize("name,form", FORMS)
def test_every_upload_form_grades_like_the_export_zip(emulated, catalogue, name, form):
    export = catalogue[1][name].results
    results, stdout = emulated[(name, form)]
    scores = {t["name"]: t["score"] for t in results["tests"] if "max_score" in t}
    assert scores == expected_scores(ENTRIES[name])
    assert [(t["name"], t["output"]) for t in results["tests"]] == [(t["name"], t["output"]) for t in export["tests"]]
    assert without_ignored_note(results["output"]) == without_ignored_note(export["output"])
    if form == "folder":  # the working folder's scratch files are named, Jupyter's autosave copy is not
        assert "<li>Not graded (not part of the submission): model.pth, notes.txt.</li>" in results["output"]
    assert results["output_format"] == "html"
    visibility = {t["name"]: t["visibility"] for t in results["tests"]}
    assert visibility.pop("Public Tests") == "visible" and set(visibility.values()) == {"after_published"}
    assert "GuardSubmission from /autograder/source/autograder/plugin.py" in stdout  # as run_otter.py imports it
    assert HIDDEN_TEST_FILE not in stdout and results.get("stdout_visibility") == "hidden"  # no test file leaks
    assert grade.FLAGGED not in visibility
