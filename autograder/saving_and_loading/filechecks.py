"""The file checks: is each file the notebook wrote the one the lesson asks for?

One implementation, run at two moments:
- by the grader, on the submitted originals (sealed before any student code runs), in its own
  interpreter (the lesson's file_checks(): the grader's crash check adds its resume run);
- by the student, on the files their notebook has just written (the core's selfcheck.py): the
  same rules, codes and messages, shipped inside the student notebook.
A check reads top to bottom: load -> inspect -> verify, and returns what it Found.
"""

import functools

from ..codes import Found
from . import ASSIGNMENT, STEPS_PER_EPOCH, inspection, verification
from .messages import problem
from .model import canonical_splits
from .recorded import loss_value

@functools.cache
def data():
    """(train, val, test) of the lesson's data split, read once per interpreter."""
    return canonical_splits()


def checkpoint(files, spec):
    """(checkpoint or None, Found) for contract file `spec`, after load, inspect and verify; the
    checkpoint only when inspecting it found nothing."""
    ckpt, refused = files.get(spec.path)
    if ckpt is None:
        return None, Found(refused)
    found = inspection.inspect_checkpoint(ckpt, spec.path, epoch=spec.epoch, extra_keys=spec.extra_keys,
                                          steps_per_epoch=STEPS_PER_EPOCH)
    if found.ok and "val_loss" in spec.extra_keys:
        found.problems += verification.verify_val_loss(ckpt, spec.path, data()[1], files.device)
    return (ckpt if found.ok else None), found


def check_saved_model(files):
    [spec] = ASSIGNMENT.files_of("saved_model")
    sd, refused = files.get(spec.path)
    return Found(refused + (inspection.inspect_state_dict(sd, spec.path) if sd is not None else []))


def check_periodic(files):
    return sum((checkpoint(files, spec)[1] for spec in ASSIGNMENT.files_of("periodic")), Found())


def check_best(files):
    """Valid, and no worse than the run's periodic checkpoints: best is the minimum so far."""
    [spec] = ASSIGNMENT.files_of("best")
    best, found = checkpoint(files, spec)
    if best is not None:
        for other_spec in ASSIGNMENT.files_of("periodic"):
            other, _ = files.get(other_spec.path)
            lower = loss_value(other.get("val_loss")) if isinstance(other, dict) else None
            if lower is not None and lower < best["val_loss"] and best["epoch"] >= other_spec.epoch:
                found.problems.append(problem("not_best", name=spec.path, expected=lower, epoch=other_spec.epoch,
                                              detail=f"{float(best['val_loss']):.4f} at epoch {best['epoch']}"))
    return found


def crash_checkpoint(files):
    """(checkpoint or None, Found) for the crash checkpoint: its training loss must be one its
    own weights can have produced (verification.verify_train_loss)."""
    [spec] = ASSIGNMENT.files_of("crash")
    ckpt, found = checkpoint(files, spec)
    if ckpt is not None:
        found.problems += verification.verify_train_loss(ckpt, spec.path, data()[0], files.device)
    return ckpt, found


def check_crash(files):
    return crash_checkpoint(files)[1]


def check_early_stopping(files):
    [spec] = ASSIGNMENT.files_of("early_stopping")
    ckpt, found = checkpoint(files, spec)
    if ckpt is not None:
        state, epoch = ckpt["early_stopping"], ckpt["epoch"]
        if not isinstance(state, dict) or not {"best_epoch", "counter", "epoch"} <= state.keys():
            found.problems.append(problem("missing_keys", name=spec.path, detail="'early_stopping' (stopper.state_dict(), "
                                          "with best_epoch, counter and epoch)"))
        elif state["best_epoch"] != epoch or state["counter"] != 0:
            found.problems.append(problem("early_stopping_state", name=spec.path, epoch=epoch, detail=(
                f"it counts {state['epoch']!r} epochs: taken before step() for epoch {epoch}"
                if state["epoch"] == epoch - 1 else
                f"best_epoch {state['best_epoch']!r}, counter {state['counter']!r}")))
    return found


CHECKS = {
    "saved_model": check_saved_model,
    "periodic": check_periodic,
    "best": check_best,
    "crash": check_crash,
    "early_stopping": check_early_stopping,
}
