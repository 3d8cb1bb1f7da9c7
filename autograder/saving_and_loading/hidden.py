"""The hidden tests' assertions, one call per hidden-test cell: they run in the notebook's kernel
after otter has re-run it, and every message goes through Verdict.render, as the file checks' do.

Calls without arguments (require_files) need nothing from the live notebook: the grader runs them
again in its own interpreter after the kernel has ended, and that run's verdict counts
(autograder/integrity.py); in the kernel they find no verdicts. The others test the notebook's
own objects; the public tests of its run are in live_run.py.
"""

import json
import os
from pathlib import Path

import torch

from .. import load
from ..assignment import VERDICTS_ENV
from ..codes import Verdict
from . import early_stopping, resume, verification
from .live_run import assert_ok


def require_files(*names: str) -> None:
    """The submitted files passed the file checks `names`, and the notebook's re-run wrote the same
    files (same keys and epochs, losses within 10 %).

    Args:
        *names: file checks (saved_model, periodic, best, crash, early_stopping).

    Raises:
        AssertionError: the grader's messages and codes, one line a problem (as do all the
        require_* below).
    """
    verdicts = Path(os.environ.get(VERDICTS_ENV, ""))
    if not verdicts.is_file():  # as in the notebook's kernel: the grader's own interpreter runs this
        raise AssertionError("No grading verdicts here: the grader checks the submitted files in its own "
                             "interpreter after the notebook's run.")
    for name in names:
        verdict = Verdict.from_dict(json.loads(verdicts.read_text())[name])
        for rel, fp in verdict.files.items():
            again, refused = load.load(rel)
            regenerated = None if refused else verification.fingerprint(again, load.saved_on(rel))
            verdict.problems += verification.same_run(fp, regenerated, rel)
        assert_ok(verdict)


def require_bit_identical(history_after: list[float], train_set: torch.utils.data.Dataset) -> None:
    """With the optional RNG extension, the resume is bit-identical on the CPU (a 0-point note).

    Args:
        history_after: the training losses after resuming, one per epoch.
        train_set: the notebook's training split, which its resumed run trained on.
    """
    assert_ok(Verdict("bit-identical resume", resume.bit_identical_resume(history_after, train_set),
                       ["the optional extension: no points depend on it"]))


def require_early_stopping(stopper_class: type) -> None:
    """The notebook's EarlyStopping follows the reference on scripted sequences, and resumes from
    its state_dict() as if it had never stopped.

    Args:
        stopper_class: the notebook's EarlyStopping class.
    """
    problems = early_stopping.compare_early_stopping(stopper_class)
    problems += early_stopping.compare_resumed_early_stopping(stopper_class)
    assert_ok(Verdict("early stopping", problems))
