"""The checks behind the notebook's hidden tests.

Two moments, because otter re-runs the notebook and that run overwrites the submitted files:

1. Before the notebook runs, the grading plugin moves the submitted checkpoints to
   ../submitted and grades them there, each check in a fresh interpreter
   (`python -m autograder check NAME ...`, see isolate.py). A check reads top to bottom:
   load -> inspect -> verify -> resume. Its verdict, with a fingerprint of every file it loaded,
   goes to ../submitted/verdicts.json. No student code has run yet.
2. After the re-run, the hidden tests `require` each verdict, and that the re-run reproduced
   each file; they run in the notebook's kernel and again, for the points, in a fresh
   interpreter after it (integrity.py). The `require_*` helpers with arguments test what only
   the live notebook holds.
"""

import functools
import json
import os
from pathlib import Path

import torch

from . import inspect, load, resume, verify
from .assignment import SUBMITTED, VERDICTS_ENV
from .feedback import Verdict, problem
from .reference import STEPS_PER_EPOCH, canonical_splits


def grading_device():
    return "cuda" if torch.cuda.is_available() else "cpu"


class Files:
    """The submitted files, each loaded through load.load and fingerprinted."""

    def __init__(self, folder, device):
        self.folder, self.device, self.fingerprints = Path(folder), device, {}
        self.plot = {}  # numbers for the feedback's picture, when a check has some

    def get(self, rel):
        obj, refused = load.load(self.folder / rel, self.device, name=rel)
        if refused:
            return None, [refused]
        self.fingerprints[rel] = verify.fingerprint(obj, load.saved_on(self.folder / rel))
        return obj, []


@functools.cache
def data():
    """(train, val, test) of the grading data, read once per interpreter."""
    return canonical_splits()


def _checkpoint(files, rel, epoch=None, extra=("val_loss",)):
    """(checkpoint or None, problems, notes) after load, inspect and verify."""
    ckpt, problems = files.get(rel)
    if ckpt is None:
        return None, problems, []
    found, notes = inspect.inspect_checkpoint(ckpt, rel, epoch=epoch, extra_keys=extra,
                                              steps_per_epoch=STEPS_PER_EPOCH)
    if not found and "val_loss" in extra:
        found = verify.verify_val_loss(ckpt, rel, data()[1], files.device)
    return (None if found else ckpt), problems + found, notes


def check_saved_model(files):
    rel = "checkpoints/mnist_model.pth"
    sd, problems = files.get(rel)
    return problems + (inspect.inspect_state_dict(sd, rel) if sd is not None else []), []


def check_periodic(files):
    problems, notes = [], []
    for epoch in (5, 10):
        _, p, n = _checkpoint(files, f"checkpoints/epoch_{epoch}.pth", epoch=epoch)
        problems, notes = problems + p, notes + n
    return problems, notes


def check_best(files):
    """Valid, and no worse than the run's periodic checkpoints: best is the minimum so far."""
    rel = "checkpoints/best.pth"
    best, problems, notes = _checkpoint(files, rel)
    if best is not None:
        for epoch in (5, 10):
            other, _ = files.get(f"checkpoints/epoch_{epoch}.pth")
            lower = inspect.loss_value(other.get("val_loss")) if isinstance(other, dict) else None
            if lower is not None and lower < best["val_loss"] and best["epoch"] >= epoch:
                problems.append(problem("not_best", name=rel, expected=lower, epoch=epoch,
                                        detail=f"{float(best['val_loss']):.4f} at epoch {best['epoch']}"))
    return problems, notes


def check_crash(files):
    rel = "checkpoints/crash.pth"
    ckpt, problems, notes = _checkpoint(files, rel, epoch=10, extra=())
    if ckpt is None:
        return problems, notes
    train = data()[0]
    problems += verify.verify_train_loss(ckpt, rel, train, files.device)
    found, ratio, curves = resume.resume_advantage(ckpt, rel, train, files.device)
    files.plot = {"epoch": ckpt["epoch"], "loss": inspect.loss_value(ckpt["loss"]),
                  **{k: [round(x, 5) for x in v] for k, v in curves.items()}}
    notes.append(f"resumed with its Adam state, the first epoch's loss is {ratio:.2f}x lower than with a fresh Adam")
    return problems + found, notes


def check_early_stopping(files):
    rel = "checkpoints/early_stopping_best.pth"
    ckpt, problems, notes = _checkpoint(files, rel, extra=("val_loss", "early_stopping"))
    if ckpt is not None:
        state = ckpt["early_stopping"]
        if not isinstance(state, dict) or state.get("best_epoch") != ckpt["epoch"] or state.get("counter") != 0:
            problems.append(problem("missing_keys", name=rel, detail="'early_stopping' (stopper.state_dict() "
                                    "at the best epoch: best_epoch equal to 'epoch', counter 0)"))
    return problems, notes


CHECKS = {
    "saved_model": check_saved_model,
    "periodic": check_periodic,
    "best": check_best,
    "crash": check_crash,
    "early_stopping": check_early_stopping,
}


def main(names, submitted):
    """The fresh interpreter's work: one JSON verdict per line, printed as each check ends."""
    torch.set_num_threads(1)  # small model, small batches: one thread is faster and uses half the CPU
    device = grading_device()
    if device == "cuda":  # the same verdicts on every grading, as on the CPU (PyTorch's reproducibility notes)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    for name in names:
        files = Files(submitted, device)
        try:
            problems, notes = CHECKS[name](files)
        except Exception as e:  # a crafted file may break a stage: report it, never stop the others
            problems, notes = [problem("checker_crashed", detail=f"{type(e).__name__}: {e}")], []
        print(json.dumps(Verdict(name, problems, notes, files.fingerprints, files.plot).to_dict()), flush=True)


# --- in the notebook's kernel, after the re-run -------------------------------------------------

def require(name):
    """A hidden test's assertion: the submitted files passed check `name`, and this re-run
    wrote the same files (same keys and epochs, losses within 10 %)."""
    verdicts = Path(os.environ.get(VERDICTS_ENV) or Path(SUBMITTED, "verdicts.json"))
    if not verdicts.exists():
        raise AssertionError("No grading verdicts: the autograder's GuardSubmission plugin did not run.")
    verdict = Verdict.from_dict(json.loads(verdicts.read_text())[name])
    for rel, fp in verdict.files.items():
        again, refused = load.load(rel)
        regenerated = None if refused else verify.fingerprint(again, load.saved_on(rel))
        verdict.problems += verify.same_run(fp, regenerated, rel)
    _assert_ok(verdict)


def require_best_of(val_history, rel="checkpoints/best.pth"):
    """This run's best.pth holds the lowest validation loss of its own history."""
    best, refused = load.load(rel)
    problems = [refused] if refused else []
    if best is not None and val_history:
        i = min(range(len(val_history)), key=val_history.__getitem__)
        if best.get("epoch") != i + 1 or inspect.loss_value(best.get("val_loss")) != float(val_history[i]):
            problems.append(problem("not_best", name=rel, expected=float(val_history[i]), epoch=i + 1,
                                    detail=f"{best.get('val_loss')!r} at epoch {best.get('epoch')!r}"))
    _assert_ok(Verdict("best of the run", problems))


def require_restored(model, rel="checkpoints/early_stopping_best.pth"):
    """The model early stopping returned holds this run's best checkpoint's weights."""
    best, refused = load.load(rel)
    problems = [refused] if refused else []
    if best is not None:
        weights = {k: v.cpu() for k, v in model.state_dict().items()}
        saved = best.get("model_state_dict", {})
        if weights.keys() != saved.keys() or any(not torch.equal(weights[k], saved[k]) for k in weights):
            problems.append(problem("not_restored"))
    _assert_ok(Verdict("restored", problems))


def _assert_ok(verdict):
    assert verdict.ok, "\n" + verdict.render()
