"""The checks behind the notebook's hidden tests.

Two moments, because otter re-runs the notebook and that run overwrites the submitted files:

1. Before the notebook runs, the grading plugin moves the submitted checkpoints to
   ../submitted and grades them there, each check in a fresh interpreter
   (`python -m autograder check NAME ...`, see isolate.py): the file checks the student's
   self-check runs too (filechecks.py: load -> inspect -> verify), and the grader's resume run of
   the crash checkpoint. Its verdict, with a fingerprint of every file it loaded, goes to
   ../submitted/verdicts.json. No student code has run yet.
2. After the re-run, the hidden tests `require` each verdict, and that the re-run reproduced
   each file; they run in the notebook's kernel and again, for the points, in a fresh
   interpreter after it (integrity.py). The `require_*` helpers with arguments test what only
   the live notebook holds.
"""

import json
import os
from pathlib import Path

import torch

from . import filechecks, inspect, load, resume, verify
from .assignment import SUBMITTED, VERDICTS_ENV
from .feedback import Verdict, problem
from .filechecks import Files, files_of


def grading_device():
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_crash(files):
    """The crash checkpoint's file check, then the grader's own resume run of it (hidden from
    students: the self-check stops at the file)."""
    ckpt, problems, notes = filechecks.crash_checkpoint(files)
    if ckpt is None:
        return problems, notes
    rel = files_of("crash")[0].path
    found, ratio, curves = resume.resume_advantage(ckpt, rel, filechecks.data()[0], files.device)
    files.plot = {"epoch": ckpt["epoch"], "loss": inspect.loss_value(ckpt["loss"]),
                  **{k: [round(x, 5) for x in v] for k, v in curves.items()}}
    notes.append(f"resumed with its Adam state, the first epoch's loss is {ratio:.2f}x lower than with a fresh Adam")
    return problems + found, notes


CHECKS = {**filechecks.CHECKS, "crash": check_crash}


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
