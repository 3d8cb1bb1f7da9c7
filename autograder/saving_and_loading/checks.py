"""The grader's file checks for this lesson, by name: the student's own (filechecks.py), with the
crash checkpoint's resume run added (resume.py). The core's checker runs them on the submitted
files, sealed before the notebook ran (autograder/checker.py)."""

import torch

from . import filechecks, resume
from .filechecks import Files  # noqa: F401 (the checker loads each check's files with it)

CHECKS = {**filechecks.CHECKS, "crash": resume.check_crash}


def device():
    return "cuda" if torch.cuda.is_available() else "cpu"
