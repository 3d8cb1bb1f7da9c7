"""The hidden tests' assertions, one call per hidden-test cell: they run in the notebook's kernel
after otter has re-run it, and every message goes through Verdict.render, as the file checks' do.

Calls without arguments (require_files) need nothing from the live notebook: the grader runs them
again in its own interpreter after the kernel has ended, and that run's verdict counts
(autograder/integrity.py); in the kernel they find no verdicts. The others test the notebook's
own objects.
"""

import json
import os
from pathlib import Path

import torch

from .. import load
from ..assignment import VERDICTS_ENV
from ..codes import Verdict
from . import CRASH_EPOCH, early_stopping, resume, verification
from .filechecks import files_of
from .messages import problem
from .recorded import loss_value


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
        _assert_ok(verdict)


def require_best_of(val_history: list[float]) -> None:
    """This run's best.pth holds the lowest validation loss of its own history.

    Args:
        val_history: the notebook's validation losses of Exercise 2, one per epoch.
    """
    [spec] = files_of("best")
    best, refused = load.load(spec.path)
    problems = [refused] if refused else []
    if best is not None and val_history:
        i = min(range(len(val_history)), key=val_history.__getitem__)
        if best.get("epoch") != i + 1 or loss_value(best.get("val_loss")) != float(val_history[i]):
            problems.append(problem("not_best", name=spec.path, expected=float(val_history[i]), epoch=i + 1,
                                    detail=f"{best.get('val_loss')!r} at epoch {best.get('epoch')!r}"))
    _assert_ok(Verdict("best of the run", problems))


def require_resumed(history_before: list[float], history_after: list[float], start_epoch: int,
                    resumed_optimizer: torch.optim.Optimizer) -> None:
    """Exercise 3's resumed run continues the crashed one: it starts at the next epoch, its first
    loss does not jump, and its Adam continued from the checkpoint's steps.

    Args:
        history_before: the training losses up to the crash, one per epoch.
        history_after: the training losses after resuming, one per epoch.
        start_epoch: the epoch training resumed at.
        resumed_optimizer: the Adam that trained the resumed run.
    """
    problems = resume.continuity(history_before, history_after, start_epoch, crash_epoch=CRASH_EPOCH)
    problems += resume.optimizer_continued(resumed_optimizer, len(history_after or []), crash_epoch=CRASH_EPOCH)
    _assert_ok(Verdict("resumed run", problems))


def require_bit_identical(history_after: list[float], train_set: torch.utils.data.Dataset) -> None:
    """With the optional RNG extension, the resume is bit-identical on the CPU (a 0-point note).

    Args:
        history_after: the training losses after resuming, one per epoch.
        train_set: the notebook's training split, which its resumed run trained on.
    """
    _assert_ok(Verdict("bit-identical resume", resume.bit_identical_resume(history_after, train_set),
                       ["the optional extension: no points depend on it"]))


def require_early_stopping(stopper_class: type) -> None:
    """The notebook's EarlyStopping follows the reference on scripted sequences, and resumes from
    its state_dict() as if it had never stopped.

    Args:
        stopper_class: the notebook's EarlyStopping class.
    """
    problems = early_stopping.compare_early_stopping(stopper_class)
    problems += early_stopping.compare_resumed_early_stopping(stopper_class)
    _assert_ok(Verdict("early stopping", problems))


def require_restored(model: torch.nn.Module) -> None:
    """The model early stopping returned holds this run's best checkpoint's weights.

    Args:
        model: es_model, after train_with_early_stopping.
    """
    [spec] = files_of("early_stopping")
    best, refused = load.load(spec.path)
    problems = [refused] if refused else []
    if best is not None:
        weights = {k: v.cpu() for k, v in model.state_dict().items()}
        saved = best.get("model_state_dict", {})
        if weights.keys() != saved.keys() or any(not torch.equal(weights[k], saved[k]) for k in weights):
            problems.append(problem("not_restored"))
    _assert_ok(Verdict("restored", problems))


def _assert_ok(verdict):
    assert verdict.ok, "\n" + verdict.render()
