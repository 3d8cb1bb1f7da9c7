"""Each command line, run as a user runs it: `python -m autograder ...` in a fresh copy of the
repository (its files as git would commit them), without PYTHONPATH, so that what the README
promises holds outside this checkout. `all` runs once, as the suite's build (conftest's `built`);
the other commands use what it built."""

import contextlib
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import psutil
import pytest

from autograder import grade
from autograder.saving_and_loading import ASSIGNMENT
from conftest import AS_ROOT, REPO, USER_ENV, needs_root
from conftest import autograder_cli as autograder

NAME = ASSIGNMENT.name
QUESTIONS = ASSIGNMENT.questions
TIMEOUT = 30  # s: an upload that is not a zip is graded in a few (9 on a busy 2-core machine); the endless
# one never finishes, and its kernel is running by then


def score_table(stdout):
    """{submission: {row: 'score / points'}} of the table `grade` and `all` print."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("question "))
    end = next(i for i, line in enumerate(lines) if line.startswith("total "))
    names = lines[start].split()[1:]
    rows = {line.split()[0]: re.findall(r"\S+ / \S+", line) for line in lines[start + 1:end + 1]}
    return {n: {row: cells[i] for row, cells in rows.items()} for i, n in enumerate(names)}


@pytest.fixture(scope="module")
def repo(built):
    """The copy of the repository `built` ran in, its runs there (`grade` before any build, then
    `all`), and (as root) `gradescope` on the built reference zip, started at once and left
    running: it takes the CPU the timeout test leaves idle."""
    copy, ran_all = built["copy"], built["all"]
    dist = copy / "autograder" / "dist"
    printed = copy / "gradescope.out"
    with open(printed, "w") as out:
        gradescope = AS_ROOT and subprocess.Popen(
            [sys.executable, "-m", "autograder", "gradescope", dist / f"{NAME}-samples" / "reference.zip", "--zip",
             dist / f"{NAME}-autograder.zip", "--as-zip-file"], cwd=copy, env=USER_ENV, stdout=out,
            stderr=subprocess.STDOUT)
    yield SimpleNamespace(copy=copy, before_build=built["before_build"], all=ran_all, gradescope=gradescope,
                          printed=printed)
    if gradescope:
        gradescope.wait()  # it ends by itself; not left behind when its test is not run


@pytest.mark.needs_build
def test_all_builds_then_prints_the_readmes_score_table(repo):
    copy, run = repo.copy, repo.all
    assert run.returncode == 0, run.stderr[-3000:]
    assert score_table(run.stdout) == {
        "reference": {**{q: f"{p} / {p}" for q, p in QUESTIONS.items()}, "total": "16 / 16"},
        "untouched-release": {**{q: f"0 / {p}" for q, p in QUESTIONS.items()}, "total": "0 / 16"}}
    dist = copy / "autograder" / "dist"
    grades = copy / ASSIGNMENT.grades.relative_to(REPO)
    assert [r["file"] for r in csv.DictReader(open(grades / "final_grades.csv"))] == \
        ["points-per-question", "reference.zip", "untouched-release.zip"]
    assert sorted(p.name for p in (grades / "feedback").iterdir()) == ["reference.html", "untouched-release.html"]
    # what `build` writes, in the copy: release, autograder zip, samples, nbgrader course
    assert (copy / "release" / NAME / f"{NAME}.ipynb").is_file()
    with zipfile.ZipFile(dist / f"{NAME}-autograder.zip") as zf:
        assert {"run_autograder", "run_otter.py", "otter_config.json", "autograder/harness.py"} <= set(zf.namelist())
    assert sorted(p.name for p in (dist / f"{NAME}-samples").iterdir()) == ["reference.zip", "untouched-release.zip"]
    assert (dist / "nbgrader" / "nbgrader_config.py").is_file()
    assert (dist / "nbgrader" / "source" / NAME / f"{NAME}.ipynb").is_file()


@pytest.mark.needs_build
def test_grade_before_any_build_says_to_build(repo):
    run = repo.before_build
    zip_path = repo.copy / "autograder" / "dist" / f"{NAME}-autograder.zip"
    assert (run.returncode, run.stderr) == (2, f"No autograder zip at {zip_path}: run `python -m autograder build` "
                                                "first.\n")


def endless_upload(path, release):
    """An export zip whose notebook (the `release` notebook's metadata, which otter reads) never
    finishes."""
    nb = nbformat.read(release, as_version=4)
    nb.cells = [nbformat.v4.new_code_cell("import time\ntime.sleep(3600)")]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(ASSIGNMENT.notebook, nbformat.writes(nb))
    return path


def left_running(tmpdir):
    """Processes still running (zombies aside) whose TMPDIR is under `tmpdir`: a grading's leftovers."""
    found = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if p.environ().get("TMPDIR", "").startswith(str(tmpdir)) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p.cmdline())
    return found


@pytest.mark.needs_build
def test_grade_with_workers_and_out_survives_a_crash_and_a_timeout(repo, tmp_path):
    copy = repo.copy
    uploads, out = tmp_path / "uploads", tmp_path / "out"
    uploads.mkdir()
    # a temporary folder the confined kernel (as root) can pass through, as the system's is; pytest's is 0700
    tmpdir = Path(tempfile.mkdtemp())
    os.chmod(tmpdir, 0o711)
    (uploads / "broken.zip").write_bytes(b"not a zip")
    endless_upload(uploads / "endless.zip", copy / "release" / NAME / ASSIGNMENT.notebook)
    run = autograder("grade", uploads, "--workers", 2, "--out", out, "--timeout", TIMEOUT, cwd=copy,
                     env={**USER_ENV, "TMPDIR": str(tmpdir)})  # every grading process inherits a TMPDIR under it
    assert run.returncode == 0, run.stderr[-3000:]
    assert score_table(run.stdout) == {n: {**{q: f"0 / {p}" for q, p in QUESTIONS.items()}, "total": "0 / 16"}
                                       for n in ("broken", "endless")}
    rows = {r["file"]: r for r in csv.DictReader(open(out / "final_grades.csv"))}
    assert rows["broken.zip"]["grading_status"].startswith("broken.zip was not unpacked: it could not be read "
                                                           "(File is not a zip file). No notebook in the submission")
    assert rows["endless.zip"]["grading_status"] == f"timed out after {TIMEOUT} s"
    assert [rows[f]["total_points_earned"] for f in ("broken.zip", "endless.zip")] == ["0", "0"]
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["broken.html", "endless.html"]
    assert left_running(tmpdir) == []  # the timed-out grading's kernel ended with it
    shutil.rmtree(tmpdir)


@pytest.mark.needs_build
def test_grade_names_a_missing_submission(repo):
    run = autograder("grade", "missing.zip", cwd=repo.copy)
    assert (run.returncode, run.stderr) == (2, "No such submission: missing.zip.\n")


def test_grade_rejects_a_timeout_that_is_not_a_positive_whole_number():
    run = autograder("grade", "--timeout", "0", cwd=REPO)
    assert run.returncode == 2 and "--timeout: expected a whole number above 0, got '0'" in run.stderr


def test_grade_help_names_the_default_timeout():
    run = autograder("grade", "--help", cwd=REPO)
    assert f"(default: {grade.TIMEOUT_S}, Gradescope's default limit)" in " ".join(run.stdout.split())


@needs_root
@pytest.mark.needs_build
def test_gradescope_grades_an_upload_handed_over_as_a_zip_file(repo):
    assert repo.gradescope, "`all` failed: nothing to grade"
    assert repo.gradescope.wait() == 0, repo.printed.read_text()[-3000:]
    stdout = repo.printed.read_text()
    printed = {m[0]: (m[1], m[2]) for m in re.findall(r"^(\S.*?)\s+(\d+ / \d+)?\s+(\w+)$", stdout, re.M)}
    assert {q: printed[q] for q in QUESTIONS} == {q: (f"{p} / {p}", "after_published") for q, p in QUESTIONS.items()}
    assert printed["Public Tests"][1] == "visible"
    assert stdout.endswith("output_format: html\n")
