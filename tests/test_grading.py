"""End to end: the sample submissions graded with the built autograder zip, as Gradescope runs it."""

import contextlib
import csv
import html
import os
import sys

import psutil
import pytest

from autograder import grade
from autograder.saving_and_loading import ASSIGNMENT
from conftest import WORKERS

QUESTIONS = ASSIGNMENT.questions


def test_reference_gets_full_marks(graded):
    assert graded["reference"].scores == {q: (p, p) for q, p in QUESTIONS.items()}


def test_untouched_release_gets_zero_and_results(graded):
    g = graded["untouched-release"]
    assert {q: m for q, (_, m) in g.scores.items()} == QUESTIONS
    assert all(s == 0 for s, _ in g.scores.values()), g.scores
    crash = next(t for t in g.results["tests"] if t.get("name") == "ex3_resume")["output"]
    assert "checkpoints/crash.pth is missing: run Exercise 3's training cell" in crash
    assert "<img" not in g.results.get("output", "")  # no crash checkpoint, nothing resumed to draw


def test_feedback_shows_the_resume_picture_on_gradescope(graded):
    """Gradescope renders the top-level output as HTML only with output_format 'html'."""
    import base64
    import re

    results = graded["reference"].results
    assert results["output_format"] == "html"
    assert all("output_format" not in t for t in results["tests"])  # the tests' outputs stay text
    [png] = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', results["output"])
    assert base64.b64decode(png).startswith(b"\x89PNG")
    assert re.search(r"loss is \d+\.\d\dx lower than with a fresh Adam", results["output"])



class LogPayload:
    """A .OTTER_LOG that would create a file when dill-loaded."""

    def __init__(self, canary):
        self.canary = str(canary)

    def __reduce__(self):
        return (open, (self.canary, "w"))


def test_regrading_with_the_seed_is_identical_and_a_hostile_log_never_runs(graded, built, tmp_path, monkeypatch):
    """A regrade with the seed the grading recorded (results.json's extra_data) draws the same
    early-stopping sequences and gives the same results."""
    import zipfile

    import dill

    seed = graded["reference"].results["extra_data"]["probe_seed"]
    assert isinstance(seed, int)
    monkeypatch.setenv("AUTOGRADER_SEED", str(seed))
    canary = tmp_path / "log-payload-ran"
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(built["samples_dir"] / "reference.zip") as src, zipfile.ZipFile(hostile, "w") as dst:
        for item in src.infolist():
            if item.filename != ".OTTER_LOG":
                dst.writestr(item, src.read(item))
        dst.writestr(".OTTER_LOG", dill.dumps(LogPayload(canary)))
    again = grade.grade_one(hostile, built["zip_path"])
    assert not canary.exists(), "the submitted .OTTER_LOG ran code in the grader"
    assert again.results == graded["reference"].results  # same scores, messages and picture
    dill.loads(dill.dumps(LogPayload(canary)))  # the control: the payload is real
    assert canary.exists()


def test_bulk_grading_writes_otters_csv_and_feedback(bulk):

    out, graded = bulk
    rows = list(csv.DictReader(open(out / "final_grades.csv")))
    assert list(rows[0]) == ["file", *sorted(QUESTIONS), "total_points_earned", "percent_correct", "grading_status",
                             "flagged"]
    assert rows[0]["file"] == "points-per-question" and float(rows[0]["total_points_earned"]) == 16
    by_file = {r["file"]: r for r in rows[1:]}
    assert float(by_file["reference.zip"]["total_points_earned"]) == 16
    assert float(by_file["untouched-release.zip"]["total_points_earned"]) == 0
    assert "checkpoints/crash.pth is missing: run Exercise 3's training cell" in (out / "feedback" / "untouched-release.html").read_text()
    assert '<img alt="loss curves' in (out / "feedback" / "reference.html").read_text()


NOT_A_ZIP = ("sub.zip was not unpacked: it could not be read (File is not a zip file). No notebook in the "
             f"submission: upload {ASSIGNMENT.notebook} with your checkpoint files (the zip the notebook's last cell "
             "writes has both).")


@pytest.fixture(scope="module")
def broken(built, tmp_path_factory):
    """Two uploads that are not zips, both named sub.zip, in folders a/ and b/ (a/sub.zip given
    twice), graded in one run: (output folder, [Graded])."""
    tmp = tmp_path_factory.mktemp("broken")
    for folder, data in (("a", b"garbage"), ("b", b"other garbage")):
        (tmp / folder).mkdir()
        (tmp / folder / "sub.zip").write_bytes(data)
    graded, _ = grade.grade_all([tmp / "a", tmp / "b", tmp / "a" / "sub.zip"], tmp / "out", built["zip_path"],
                                workers=WORKERS)
    return tmp / "out", graded


def test_a_broken_submission_gets_a_row_of_zeros_and_the_reason(broken, bulk):
    out, graded = broken
    assert [(g.file, g.total, g.status) for g in graded] == [("a/sub.zip", 0, NOT_A_ZIP), ("b/sub.zip", 0, NOT_A_ZIP)]
    header, *rows = csv.DictReader(open(out / "final_grades.csv"))
    real_header, *real_rows = csv.DictReader(open(bulk[0] / "final_grades.csv"))
    assert header == real_header  # the same columns and points per question as a run with real scores
    [reference] = [r for r in real_rows if r["file"] == "reference.zip"]
    zeros = {**reference, "file": "a/sub.zip", **{q: "0" for q in QUESTIONS}, "total_points_earned": "0",
             "percent_correct": "0.0", "grading_status": NOT_A_ZIP}
    assert rows[0] == zeros


def test_same_file_names_in_different_folders_keep_their_own_row_and_feedback(broken):
    out, _ = broken
    assert [r["file"] for r in csv.DictReader(open(out / "final_grades.csv"))][1:] == ["a/sub.zip", "b/sub.zip"]
    assert sorted(str(p.relative_to(out / "feedback")) for p in (out / "feedback").rglob("*.html")) == \
        ["a/sub.html", "b/sub.html"]
    for folder in "ab":
        page = (out / "feedback" / folder / "sub.html").read_text()
        assert f"<h2>{folder}/sub.zip: 0 points ({html.escape(NOT_A_ZIP, quote=False)})</h2>" in page


def test_a_feedback_page_keeps_the_suffix_only_where_two_would_share_it():
    names = ["reference.zip", "c/x.zip", "c/x.ipynb", "c/y.ipynb"]
    assert [grade.feedback_page(n, names) for n in names] == ["reference.html", "c/x.zip.html", "c/x.ipynb.html",
                                                              "c/y.html"]


def test_a_run_past_its_time_is_killed_with_everything_it_started(tmp_path):
    """The kernel starts in a session of its own: it must end with the grading that timed out."""
    pid_file = tmp_path / "grandchild"
    started = ("import subprocess, sys, time\n"
               "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
               f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
               "time.sleep(60)\n")
    assert grade.run_bounded([sys.executable, "-c", started], dict(os.environ), timeout=3) is None
    grandchild = psutil.Process(int(pid_file.read_text()))
    with contextlib.suppress(psutil.TimeoutExpired):
        grandchild.wait(timeout=10)
    # a zombie has ended: only its reaping by the process that adopted it is left
    assert not grandchild.is_running() or grandchild.status() == psutil.STATUS_ZOMBIE
    done = grade.run_bounded([sys.executable, "-c", "import sys; sys.exit('why')"], dict(os.environ), timeout=60)
    assert (done.returncode, done.stderr) == (1, "why\n")
