"""The grader's file checks for this lesson, by name: the student's own (filechecks.py), with the
crash checkpoint's check replaced by the grader's, which adds its resume run (resume.py). The
core's checker runs them on the submitted files, sealed before the notebook ran
(autograder/checker.py)."""

from . import filechecks, resume

CHECKS = {**filechecks.CHECKS, "crash": resume.check_crash_resumes}
