"""The nbgrader course the build writes: generated from the master, run through nbgrader's own
commands headless (generate_assignment, release, fetch and submit through a local exchange,
collect, autograde, generate_feedback), and scored as otter scores the same submissions."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import get_username

from autograder.build import shipped_files
from autograder.nbgrader_course import grade_cells, question_of
from autograder.saving_and_loading import ASSIGNMENT
from catalogue.make import entries, nbgrader_form

import leaks

NAME, NOTEBOOK = ASSIGNMENT.name, ASSIGNMENT.notebook
# three mistakes in three exercises, two correct but different, one hostile file, put in submitted/;
# the reference goes through the exchange, submitted by this machine's user as nbgrader names them
GRADED = ("whole-model-saved", "no-optimizer-state", "counter-never-reset", "colab-gpu-run", "pathlib-paths",
          "hostile-payload-checkpoint")
EXCHANGE_STUDENT = get_username()
STUDENTS = {**{name: name for name in GRADED}, EXCHANGE_STUDENT: "reference"}  # student id -> catalogue entry
ENTRIES = {e["name"]: e for e in entries()}
BIN = Path(sys.executable).parent  # nbgrader runs `alembic` from PATH


def nbgrader(*args, cwd):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert run.returncode == 0 and "ERROR" not in run.stderr, run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def course(built, tmp_path_factory):
    """A copy of the built course, its assignment generated and released to the exchange."""
    root = tmp_path_factory.mktemp("nbgrader") / "course"
    shutil.copytree(built["course"], root)
    nbgrader("generate_assignment", NAME, cwd=root)
    nbgrader("release_assignment", NAME, cwd=root)
    return root


@pytest.fixture(scope="module")
def autograded(course, catalogue, tmp_path_factory):
    """{student: {question: score}} from nbgrader's gradebook after autograde and feedback."""
    submissions, _ = catalogue
    source_nb, released = course / "source" / NAME / NOTEBOOK, course / "release" / NAME
    for name in GRADED:
        nbgrader_form(ENTRIES[name], submissions / f"{name}.zip", source_nb, released, course / "submitted" / name / NAME)
    home = tmp_path_factory.mktemp("student-home")  # the student's side of the exchange
    exchange = [f"--Exchange.root={course / 'exchange'}", "--CourseDirectory.course_id=deep-learning"]
    nbgrader("fetch_assignment", NAME, *exchange, cwd=home)
    solved = tmp_path_factory.mktemp("solved") / NAME
    nbgrader_form(ENTRIES["reference"], submissions / "reference.zip", source_nb, released, solved)
    shutil.copytree(solved, home / NAME, dirs_exist_ok=True)
    nbgrader("submit", NAME, *exchange, cwd=home)
    nbgrader("collect", NAME, cwd=course)
    nbgrader("autograde", NAME, cwd=course)
    nbgrader("generate_feedback", NAME, cwd=course)
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in STUDENTS:
            per = dict.fromkeys(ASSIGNMENT.questions, 0.0)
            for grade in gb.find_submission_notebook(Path(NOTEBOOK).stem, NAME, student).grades:
                per[question_of(grade.name)] += grade.score or 0.0
            scores[student] = per
    return scores


def feedback(course, student):
    return (course / "feedback" / student / NAME / f"{Path(NOTEBOOK).stem}.html").read_text()


def test_the_tests_carry_the_masters_points(built):
    nb = nbformat.read(built["course"] / "source" / NAME / NOTEBOOK, as_version=4)
    per = dict.fromkeys(ASSIGNMENT.questions, 0)
    for grade_id, points in grade_cells(nb).items():
        per[question_of(grade_id)] += points
    assert per == ASSIGNMENT.questions
    master = nbformat.read(leaks.MASTER, as_version=4)
    assert len(grade_cells(nb)) == sum("TEST CONFIG" in c.source for c in master.cells)
    hidden = [c.source for c in nb.cells if "hidden: true" in c.source or "BEGIN HIDDEN TESTS" in c.source]
    assert len(hidden) == sum(c.cell_type == "code" and "hidden: true" in c.source for c in master.cells)
    assert all("BEGIN HIDDEN TESTS" in s and "hidden: true" not in s for s in hidden)


def test_the_student_version_leaks_nothing(course):
    released = course / "release" / NAME
    assert not leaks.leaked((released / NOTEBOOK).read_text())
    modules = {p.relative_to(released).as_posix() for p in (released / "autograder").rglob("*.py")}
    assert modules == set(shipped_files(ASSIGNMENT)), "only the self-check's modules go to students"
    text = (released / NOTEBOOK).read_text()
    for otter_only in ("import otter", "submission_files", "Gradescope"):
        assert otter_only not in text, f"an otter-only cell reached the nbgrader release: {otter_only!r}"
    assert "Assignments list" in text, "the nbgrader-only Submit text is missing"


@pytest.mark.parametrize("student", STUDENTS)
def test_nbgrader_scores_every_question_as_otter_does(autograded, catalogue, student):
    otter = {q: float(s) for q, (s, _) in catalogue[1][STUDENTS[student]].scores.items()}
    assert autograded[student] == otter, STUDENTS[student]


def test_the_exchange_carries_the_checkpoint_files(course, autograded):
    collected = course / "submitted" / EXCHANGE_STUDENT / NAME / "checkpoints"
    assert sorted(p.name for p in collected.iterdir()) == sorted(Path(f.path).name for f in ASSIGNMENT.contract)


def test_feedback_names_the_problem_and_shows_the_resume_picture(course, autograded):
    page = feedback(course, "whole-model-saved")
    assert "holds a pickled model object" in page and "[whole_model]" in page
    assert 'alt="loss curves after resuming from checkpoints/crash.pth"' in page
    assert "tries to call" in feedback(course, "hostile-payload-checkpoint")
    assert not Path(ENTRIES["hostile-payload-checkpoint"]["canary"]).exists(), "code from a submitted file ran"


def test_the_grading_package_stays_with_the_graders(course, autograded):
    for folder in ("autograded", "feedback"):
        assert not (course / folder / EXCHANGE_STUDENT / NAME / "autograder" / "saving_and_loading" / "hidden.py").exists()
