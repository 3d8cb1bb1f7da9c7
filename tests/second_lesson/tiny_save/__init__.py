"""A second, deliberately small lesson: one exercise, one checkpoint file, one file check. It
exists to prove the lesson interface (autograder/lesson.py): its declaration, its rules and its
wording are all it has; loading, the self-check, reproduction, the build and grading are the
core's. tests/test_second_lesson.py builds and grades it.

It lives outside autograder/ (assignment.lesson_package finds it on sys.path) and imports the core
absolutely, as autograder.*, so the same files work where the build ships them,
autograder/tiny_save/.
"""

from autograder.assignment import Assignment, ContractFile
from autograder.lesson import Lesson

ASSIGNMENT = Assignment(
    name="tiny-save",
    title="Save a fitted line",
    questions={"ex1_save_line": 2},
    contract=(ContractFile("checkpoints/line.pth", "line", "Exercise 1's cell that saves line"),),
    shipped=("__init__", "checks"),
)


class TinySave(Lesson):
    """This lesson's side of the lesson interface."""

    def file_checks(self):
        from .checks import CHECKS
        return CHECKS

    def self_checks(self):  # nothing here stays with the grader
        return self.file_checks()

    def fingerprint(self, obj, saved_on):
        from .checks import fingerprint
        return fingerprint(obj, saved_on)

    def messages(self):
        from .checks import MESSAGES
        return MESSAGES

    def describe(self, path):
        from .checks import describe
        return describe(path)

    def feedback_picture(self, verdicts):
        return None

    def stage(self, staged, build_dir, committed):
        return []


LESSON = TinySave()
