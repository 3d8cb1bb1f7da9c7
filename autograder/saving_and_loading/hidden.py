"""The hidden tests of the notebook's own objects, one call per hidden-test cell: they run in the
notebook's kernel after otter has re-run it, and every message goes through Verdict.render, as the
file checks' do. (The hidden file tests are the core's reproduction.require_files, which the grader
runs in its own interpreter; the public tests of the run are in live_run.py.)

Each raises AssertionError with the grader's messages and codes, one line a problem.
"""

import torch

from ..codes import Verdict
from . import early_stopping, resume, stopper_runs


def require_bit_identical(history_after: list[float], train_set: torch.utils.data.Dataset) -> None:
    """With the optional RNG extension, the resume is bit-identical on the CPU (a 0-point note).

    Args:
        history_after: the training losses after resuming, one per epoch.
        train_set: the notebook's training split, which its resumed run trained on.
    """
    Verdict("bit-identical resume", resume.bit_identical_resume(history_after, train_set),
            ["the optional extension: no points depend on it"]).assert_ok()


def require_early_stopping(stopper: "type | stopper_runs.Runs") -> None:
    """The notebook's EarlyStopping follows the reference on the grader's sequences, and resumes
    from its state_dict() as if it had never stopped.

    Args:
        stopper: the notebook's EarlyStopping class, or its runs as the grader observed them
            (stopper_runs.py) on the scripted sequences and random ones drawn for this grading.
    """
    runs = stopper_runs.runs_of(stopper, early_stopping.runs())
    Verdict("early stopping", early_stopping.problems(runs)).assert_ok()
