"""The public tests of the notebook's own run: Exercise 2's best checkpoint against its
`val_history`, Exercise 3's resumed run, Exercise 4's restored model. Shipped in the student
notebook, so a student runs the same rules, codes and messages before submitting; when grading,
they run in the kernel after otter has re-run the notebook.

Each `require_*` is one public test cell: it raises AssertionError with one line a problem.
"""

import torch

from ..codes import Verdict
from ..load import load
from . import ASSIGNMENT, CRASH_EPOCH, STEPS_PER_EPOCH
from .messages import problem
from .recorded import adam_steps, loss_value

# First resumed epoch over last pre-crash epoch (tests/benchmark_streams.py, the notebook's crash
# run with 9 dropout streams, as a GPU would draw): 0.80-1.01 when model and Adam are restored,
# 0.97-1.27 with a fresh Adam. The two overlap, so the loss alone cannot tell them apart: a jump
# over 5 % flags a model that was not restored (strict=False, wrong weights), and
# `optimizer_continued` checks the Adam state exactly.
CONTINUITY_TOLERANCE = 0.05


def require_best_of(val_history: list[float]) -> None:
    """This run's best.pth holds the lowest validation loss of its own history.

    Args:
        val_history: the notebook's validation losses of Exercise 2, one per epoch.

    Raises:
        AssertionError: the grader's messages and codes, one line a problem (as do all the
        require_* here).
    """
    [spec] = ASSIGNMENT.files_of("best")
    best, refused = load(spec.path, limits=ASSIGNMENT.checkpoint_limits)
    problems = [refused] if refused else []
    if best is not None and val_history:
        i = min(range(len(val_history)), key=val_history.__getitem__)
        if best.get("epoch") != i + 1 or loss_value(best.get("val_loss")) != float(val_history[i]):
            problems.append(problem("not_best", name=spec.path, expected=float(val_history[i]), epoch=i + 1,
                                    detail=f"{best.get('val_loss')!r} at epoch {best.get('epoch')!r}"))
    Verdict("best of the run", problems).assert_ok()


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
    problems = continuity(history_before, history_after, start_epoch, crash_epoch=CRASH_EPOCH)
    problems += optimizer_continued(resumed_optimizer, len(history_after or []), crash_epoch=CRASH_EPOCH)
    Verdict("resumed run", problems).assert_ok()


def require_restored(model: torch.nn.Module) -> None:
    """The model early stopping returned holds this run's best checkpoint's weights.

    Args:
        model: es_model, after train_with_early_stopping.
    """
    [spec] = ASSIGNMENT.files_of("early_stopping")
    best, refused = load(spec.path, limits=ASSIGNMENT.checkpoint_limits)
    problems = [refused] if refused else []
    if best is not None:
        weights = {k: v.cpu() for k, v in model.state_dict().items()}
        saved = best.get("model_state_dict", {})
        if weights.keys() != saved.keys() or any(not torch.equal(weights[k], saved[k]) for k in weights):
            problems.append(problem("not_restored"))
    Verdict("restored", problems).assert_ok()


def continuity(before, after, start_epoch, crash_epoch):
    """Problems with the student's loss history around the crash."""
    if not before or not after:
        return [problem("no_history", detail=f"{len(before or [])} epochs before the crash, "
                        f"{len(after or [])} after")]
    problems = []
    if start_epoch != crash_epoch + 1:
        problems.append(problem("resume_epoch", expected=crash_epoch + 1, detail=repr(start_epoch)))
    if not after[0] <= before[-1] * (1 + CONTINUITY_TOLERANCE):  # a NaN loss fails too
        problems.append(problem("discontinuous", before=before[-1], after=after[0],
                                tolerance=CONTINUITY_TOLERANCE))
    return problems


def optimizer_continued(optimizer, epochs_after, crash_epoch):
    """Problems when the resumed Adam did not continue from the checkpoint's state. Exact on any
    device: Adam counts its steps, and a restored one starts from the crash checkpoint's."""
    saved = crash_epoch * STEPS_PER_EPOCH
    expected = saved + epochs_after * STEPS_PER_EPOCH
    try:
        steps = adam_steps(optimizer.state_dict())
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        return [problem("optimizer_not_resumed", found=f"no Adam step count ({type(e).__name__})",
                        saved=saved, expected=expected)]
    if steps != [expected]:
        found = ", ".join(map(str, steps)) or "no steps"
        return [problem("optimizer_not_resumed", found=found, saved=saved, expected=expected)]
    return []
