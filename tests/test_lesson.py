"""The lesson interface (autograder/lesson.py): what the core calls on a lesson, and the promise
that reading a lesson's declaration costs no torch import."""

import subprocess
import sys
from pathlib import Path

from autograder.assignment import get
from autograder.lesson import Lesson
from autograder.saving_and_loading import ASSIGNMENT, LESSON

REPO = Path(__file__).resolve().parent.parent


def test_the_lesson_implements_the_interface_and_names_a_check_for_every_contract_file():
    assert isinstance(LESSON, Lesson) and get(ASSIGNMENT.name).lesson is LESSON
    checks = LESSON.file_checks()
    assert set(checks) == set(ASSIGNMENT.file_checks) and all(callable(c) for c in checks.values())
    assert {"missing", "whole_model", "loss_mismatch"} <= set(LESSON.messages())


def test_reading_the_declaration_and_the_lesson_imports_no_torch():
    """otter's process, the harness and the bulk grader read the declaration and call nothing that
    needs torch; the lesson's modules are imported only by the method that needs them."""
    script = ("import sys\nfrom autograder.assignment import get\na = get()\nlesson = a.lesson\n"
              "messages = lesson.messages()\nassert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)\n"
              "lesson.file_checks()\nassert 'torch' in sys.modules\nprint(len(messages))")
    run = subprocess.run([sys.executable, "-P", "-c", script], cwd=REPO, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0 and int(run.stdout) > 20, run.stderr
