"""The nbgrader course the build writes: generated from the master, run through nbgrader's own
commands headless (generate_assignment, release, fetch and submit through a local exchange,
collect, autograde, generate_feedback), and scored as otter scores the same submissions; then the
ways a grading goes wrong, each the reference submission changed one way."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import get_username

from autograder import confine
from autograder.build import shipped_files
from autograder.nbgrader_course import DEMO, grade_cells, ignored_by_otter, is_demo, question_of
from autograder.saving_and_loading import ASSIGNMENT
from catalogue.make import entries, nbgrader_form
from conftest import BACKGROUND, needs_root

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
WORKERS = os.cpu_count() or 1
# The course's own limits (a cell 60 s, a run 300 s) hold the notebook's run, about 65 s alone on a
# slow machine; under the suite's load a 2-core machine runs it several times slower (on an AMD
# EPYC one a 12 s cell went past 60 s). A case that does not test a limit gets these, which no load
# reaches; one that does replaces the limit it tests.
UNHURRIED = {"Execute.timeout": 900, "BoundedExecute.run_time_limit": 3600}


def nbgrader(*args, cwd, expected_errors=()):
    """Run an nbgrader command; it must succeed and log no error but the `expected_errors`."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True)
    errors = [line for line in run.stderr.splitlines()
              if "ERROR" in line and not any(e in line for e in expected_errors)]
    assert run.returncode == 0 and not errors, run.stderr[-3000:]
    return run


def autograde(course, students, expected_errors=()):
    """`nbgrader autograde` of {student: the limits that replace UNHURRIED's}, one process a student, WORKERS at a
    time: nbgrader grades a course's students one after the other, each notebook on one core.
    Concurrent processes share the sqlite gradebook safely: each write is a short transaction
    (sqlite makes the other writer wait, up to 5 s), and no process holds a read transaction
    open across its writes."""
    def one(item):
        student, limits = item
        options = [f"--{name}={value}" for name, value in {**UNHURRIED, **limits}.items()]
        nbgrader("autograde", NAME, f"--student={student}", *options, cwd=course, expected_errors=expected_errors)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, students.items()))


def scores(gb, student):
    """{question: score} of `student` in the gradebook `gb`."""
    per = dict.fromkeys(ASSIGNMENT.questions, 0.0)
    for grade in gb.find_submission_notebook(Path(NOTEBOOK).stem, NAME, student).grades:
        per[question_of(grade.name)] += grade.score or 0.0
    return per


@BACKGROUND.fixture(lane="others", needs=("built",))
def course(tmp_path_factory, built):
    """A copy of the built course, its assignment generated and released to the exchange."""
    root = tmp_path_factory.mktemp("nbgrader") / "course"
    shutil.copytree(built["course"], root)
    nbgrader("generate_assignment", NAME, cwd=root)
    nbgrader("release_assignment", NAME, cwd=root)
    return root


@BACKGROUND.fixture(lane="others", needs=("course", "made"), late=True)
def autograded(tmp_path_factory, course, made):
    """{student: {question: score}} from nbgrader's gradebook after autograde and feedback, of
    each student whose catalogue entry could be made (the others' tests fail with the reason)."""
    submissions, failed = made
    source_nb, released = course / "source" / NAME / NOTEBOOK, course / "release" / NAME
    students = [s for s, entry in STUDENTS.items() if entry not in failed]
    for name in set(GRADED) & set(students):
        nbgrader_form(ENTRIES[name], submissions / f"{name}.zip", source_nb, released, course / "submitted" / name / NAME)
    home = tmp_path_factory.mktemp("student-home")  # the student's side of the exchange
    exchange = [f"--Exchange.root={course / 'exchange'}", "--CourseDirectory.course_id=deep-learning"]
    nbgrader("fetch_assignment", NAME, *exchange, cwd=home)
    solved = tmp_path_factory.mktemp("solved") / NAME
    nbgrader_form(ENTRIES["reference"], submissions / "reference.zip", source_nb, released, solved)
    shutil.copytree(solved, home / NAME, dirs_exist_ok=True)
    nbgrader("submit", NAME, *exchange, cwd=home)
    nbgrader("collect", NAME, cwd=course)
    autograde(course, {student: {} for student in students})
    nbgrader("generate_feedback", NAME, cwd=course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {student: scores(gb, student) for student in students}


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
    for otter_only in ("import otter", "autograder.submit", "Gradescope"):
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


def test_a_demonstration_is_a_locked_cell_and_a_test_cell_never_is():
    def cell(**meta):
        return nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": f"{DEMO}1", **meta}})
    assert is_demo(cell(locked=True, grade=False, solution=False))
    assert not is_demo(cell(locked=True, grade=True, solution=False, points=1))  # a test cell runs, whatever its id
    assert not is_demo(cell(locked=False, grade=False, solution=True))
    assert not is_demo(cell(locked=False, grade=False, solution=False))
    assert not is_demo(nbformat.v4.new_code_cell("x = 1"))


def test_the_demonstrations_otter_skips_are_not_rerun(built, course, autograded):
    """Each cell the master tags otter_ignore is a locked demo cell of the nbgrader notebook, and
    autograde ran every code cell but those."""
    master = nbformat.read(built["copy"] / "source" / NAME / NOTEBOOK, as_version=4)
    ignored = [c.source for c in master.cells if c.cell_type == "code" and ignored_by_otter(c)]
    graded = nbformat.read(course / "autograded" / EXCHANGE_STUDENT / NAME / NOTEBOOK, as_version=4)
    code = [c for c in graded.cells if c.cell_type == "code"]
    assert len(ignored) >= 5 and [c.source for c in code if is_demo(c)] == ignored
    assert all(c.execution_count is None and not c.outputs for c in code if is_demo(c))
    assert all(c.execution_count for c in code if not is_demo(c))


def test_the_grading_package_stays_with_the_graders(course, autograded):
    for folder in ("autograded", "feedback"):
        assert not (course / folder / EXCHANGE_STUDENT / NAME / "autograder" / "saving_and_loading" / "hidden.py").exists()


# --- when grading goes wrong: the reference submission changed one way a case -------------------

def under_grading(code):
    """A cell that runs `code` only when nbgrader autogrades the notebook."""
    return 'import os\nif os.environ.get("NBGRADER_EXECUTION") == "autograde":\n' + textwrap.indent(code, "    ")


LAST_EXERCISE, FIRST_CELL = "stopper = train_with_early_stopping", "torch.set_num_threads(1)"
SLEEP = "import time\ntime.sleep(3600)"
HOG = "def hog():\n    held = []\n    while True:\n        held.append(bytearray(2**27))\nhog()"  # freed when it fails
# what the kernel is and reaches, written beside the notebook; a process left behind
PROBE = textwrap.dedent("""\
    import json, subprocess
    seen = {"uid": os.getuid()}
    try:
        open("../../../gradebook.db", "ab").close()
        seen["wrote_gradebook"] = True
    except OSError:
        seen["wrote_gradebook"] = False
    subprocess.Popen(["sleep", "600"], start_new_session=True)
    with open("probe.json", "w") as f:
        json.dump(seen, f)
""")
# limits of the cases that test one: above what the other cells take under load, below SLEEP
CELL_BOUND, RUN_LIMIT = 180, 90
FAILURES = {  # student: (cells added to the reference, the limits it tests)
    "os-exit": ([(FIRST_CELL, under_grading(PROBE)), (LAST_EXERCISE, under_grading("os._exit(0)"))], {}),
    "exceeds-each-cell-bound": ([(LAST_EXERCISE, under_grading(code)) for code in
                                 (SLEEP, 'for _ in range(100):\n    print("x" * 1_000_000)', HOG)],
                                {"Execute.timeout": CELL_BOUND}),
    "sleeps-past-the-run-limit": ([(FIRST_CELL, under_grading(SLEEP))], {"BoundedExecute.run_time_limit": RUN_LIMIT}),
    # a broken best.pth, and its hidden tests' file check replaced in the kernel by one that passes
    # (the kernel's copy has none: as hostile-replace-require does under otter)
    "kernel-passes-a-broken-file": ([(FIRST_CELL, under_grading(
        "import sys, types\nimport autograder\n"
        'autograder.reproduction = sys.modules["autograder.reproduction"] = types.ModuleType("autograder.reproduction")\n'
        "autograder.reproduction.require_files = lambda *args, **kwargs: None"))], {}),
    # a str that equals every answer: the kernel's Check 2 tests pass it (as hostile-lying-value
    # under otter)
    "kernel-lies-about-check2": ([('check2_answer = "c"', under_grading(
        "class Agrees(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\n"
        'check2_answer = Agrees("c")'))], {}),
    # a file where the grader's observations go: nothing can be observed (as hostile-block-observation)
    "kernel-blocks-the-observation": ([(FIRST_CELL, under_grading('open(".observed", "w").close()'))], {}),
}
BROKEN = b"not a checkpoint"  # the broken best.pth, and the instructor's file in source/
# what nbclient and the kernel log when a cell is interrupted, the kernel dies, or its memory runs out
KERNEL_ERRORS = ("Timeout waiting for execute reply", "Interrupting kernel", "KeyboardInterrupt caught in kernel",
                 "Kernel died", "ERROR:tornado.general:Uncaught exception in")


@BACKGROUND.fixture(lane="others", needs=("course", "built"), late=True)
def failures_course(tmp_path_factory, course, built):
    """A copy of the course whose source/ holds a best.pth (an instructor's run left it), each
    case of FAILURES autograded in it, feedback generated."""
    root = tmp_path_factory.mktemp("failures") / "course"
    shutil.copytree(course, root, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
    (root / "source" / NAME / "checkpoints").mkdir()
    (root / "source" / NAME / "checkpoints" / "best.pth").write_bytes(BROKEN)
    for student, (cells, _) in FAILURES.items():
        entry = {"add_cells": [{"after": after, "source": source} for after, source in cells]}
        target = nbgrader_form(entry, built["samples_dir"] / "reference.zip", course / "source" / NAME / NOTEBOOK,
                               course / "release" / NAME, root / "submitted" / student / NAME)
        if student == "kernel-passes-a-broken-file":
            (target / "checkpoints" / "best.pth").write_bytes(BROKEN)
    autograde(root, {student: limits for student, (_, limits) in FAILURES.items()}, KERNEL_ERRORS)
    nbgrader("generate_feedback", NAME, cwd=root)
    return root


@pytest.fixture(scope="module")
def failures(failures_course):
    """{student: (scores, feedback page, flagged in the gradebook)} of each case of FAILURES."""
    root = failures_course
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {student: (scores(gb, student), feedback(root, student),
                          gb.find_submission_notebook(Path(NOTEBOOK).stem, NAME, student).flagged)
                for student in FAILURES}


FULL = {q: float(p) for q, p in ASSIGNMENT.questions.items()}


def test_a_dead_kernel_costs_the_tests_that_had_not_run(failures):
    graded, page, flagged = failures["os-exit"]
    # Exercise 4's tests after the cell: the kernel-free ones (its files) keep their point
    assert graded == {**FULL, "ex4_early_stopping": 1.0}
    assert "kernel stopped (Kernel died), in cell" in page and "Not graded: the notebook" in page
    assert not flagged


@needs_root
def test_the_kernel_runs_as_a_user_of_its_own_and_leaves_nothing(failures_course, failures):
    """BoundedExecute confines nbgrader's kernel as the otter plugin does (confine.py): the probe
    ran in os-exit's notebook, whose kernel then died with a process of its still running."""
    folder = failures_course / "autograded" / "os-exit" / NAME
    seen = json.loads((folder / "probe.json").read_text())
    assert seen["uid"] >= confine.UID_BASE and not seen["wrote_gradebook"]
    assert not confine.processes_of(seen["uid"]), "a process of the kernel's user outlived the grading"
    assert (folder / "probe.json").stat().st_uid == 0, "the folder was not taken back from the kernel's user"


def test_each_cell_bound_costs_that_cell_only(failures):
    graded, page, flagged = failures["exceeds-each-cell-bound"]
    assert graded == FULL
    assert f"limit of {CELL_BOUND} s and was stopped; the notebook went on with the next cell" in page
    assert "printed over 1,000,000 characters" in page and "ran out of memory" in page
    assert not flagged


def test_a_run_past_its_limit_is_ended_and_every_test_says_why(failures):
    graded, page, flagged = failures["sleeps-past-the-run-limit"]
    # ended at its third cell: the re-run wrote no file, so none is reproduced; the public file
    # tests judge the submitted files (as under otter: the catalogue's hostile-early-exit)
    assert graded == {**dict.fromkeys(ASSIGNMENT.questions, 0.0), "ex1_save_load": 0.5, "ex2_checkpointing": 1.0,
                      "ex3_resume": 1.0, "ex4_early_stopping": 0.5}
    assert f"limit of {RUN_LIMIT} s and was stopped, in cell 3" in page and "[not_reproduced]" in page
    assert "Not graded: the notebook ran past" in page
    assert not flagged


def test_the_graders_own_run_overrides_the_kernel_and_flags_it(failures):
    graded, page, flagged = failures["kernel-passes-a-broken-file"]
    assert graded == {**FULL, "ex2_checkpointing": 2.5}  # the best.pth case only
    assert "[not_torch_zip]" in page
    assert flagged, "the kernel passed a test the grader failed: formgrader must show the flag"
    assert not any(f for student, (_, _, f) in failures.items()
                   if student not in ("kernel-passes-a-broken-file", "kernel-lies-about-check2",
                                      "kernel-blocks-the-observation"))


def test_a_value_that_lies_to_the_kernels_tests_is_judged_by_the_grader(failures):
    """check2_answer is an observed variable: its cells are judged on the value observed at the
    top of each (observe.py), which is not plain data, whatever the kernel's run of them said."""
    graded, page, flagged = failures["kernel-lies-about-check2"]
    assert graded == {**FULL, "check2": 0.0}
    assert 'set check2_answer to one of' in page
    assert flagged


def test_a_kernel_that_keeps_the_grader_from_observing_loses_those_cases(failures):
    graded, _, flagged = failures["kernel-blocks-the-observation"]
    assert graded == {**FULL, "check1": 0.0, "check2": 0.0, "map_location": 0.0, "ex1_save_load": 1.0,
                      "ex2_checkpointing": 2.5, "ex3_resume": 3.0, "ex4_early_stopping": 1.0}
    assert flagged


def test_an_instructors_checkpoint_in_source_does_not_replace_the_students(failures):
    """Every case's course holds the instructor's broken best.pth in source/: only the case that
    submitted a broken one is graded on a broken file."""
    assert {student for student, (_, page, _) in failures.items() if "[not_torch_zip]" in page} == {
        "kernel-passes-a-broken-file"}
    assert failures["kernel-lies-about-check2"][0]["ex2_checkpointing"] == FULL["ex2_checkpointing"]
