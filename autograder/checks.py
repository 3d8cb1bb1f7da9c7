"""The checks the notebook's hidden tests run, one per group of submitted files.

Each check runs in a fresh interpreter (`python -m autograder check NAME`) with a time limit, so
a notebook that monkeypatched torch.load, a hang or a crash cannot touch other questions. The
pipeline inside a check reads top to bottom: load -> inspect -> verify -> resume -> score.

What is graded: the files the student **submitted** (the grader's plugin moves them to
../submitted before otter re-runs the notebook, which would overwrite them), and each must be
reproduced by the re-run (same keys and epochs, losses within 10 %).
"""

import json
import subprocess
import sys
from pathlib import Path

import torch

from . import inspect, load, resume, score, verify
from .feedback import Verdict, problem

CONTRACT = {  # submitted file -> what it holds (the README documents the same contract)
    "checkpoints/mnist_model.pth": "model.state_dict() after training (Exercise 1)",
    "checkpoints/epoch_5.pth": "checkpoint after epoch 5, with 'val_loss' (Exercise 2)",
    "checkpoints/epoch_10.pth": "checkpoint after epoch 10, with 'val_loss' (Exercise 2)",
    "checkpoints/best.pth": "checkpoint of the lowest validation loss, with 'val_loss' (Exercise 2)",
    "checkpoints/crash.pth": "checkpoint after epoch 10 of the crash run (Exercise 3)",
    "checkpoints/early_stopping_best.pth": "best checkpoint of early stopping, with 'val_loss' and "
    "'early_stopping' (Exercise 4)",
}
SUBMITTED_DIR = Path("../submitted")  # where the grading plugin keeps the originals
TIME_LIMIT_S = 120


def grading_device():
    return "cuda" if torch.cuda.is_available() else "cpu"


class Files:
    """Loads each contract file once, submitted and regenerated, through load.load."""

    def __init__(self, submitted, regenerated, device):
        self.submitted, self.regenerated, self.device = Path(submitted), Path(regenerated), device

    def get(self, rel):
        """(submitted object, problems): problems include a missing or differing re-run."""
        obj, refused = load.load(self.submitted / rel, self.device, name=rel)
        if refused:
            return None, [refused]
        again, _ = load.load(self.regenerated / rel, self.device, name=rel)
        return obj, verify.same_run(obj, again, rel)


def data():
    from .reference import canonical_splits

    return canonical_splits()


def check_saved_model(files, values):
    sd, problems = files.get("checkpoints/mnist_model.pth")
    return problems + (inspect.inspect_state_dict(sd, "checkpoints/mnist_model.pth") if sd is not None else []), []


def _checkpoint(files, rel, epoch=None, extra=("val_loss",)):
    """(checkpoint or None, problems, notes) after load, inspect and verify."""
    ckpt, problems = files.get(rel)
    if ckpt is None:
        return None, problems, []
    found, notes = inspect.inspect_checkpoint(ckpt, rel, epoch=epoch, extra_keys=extra)
    if found:
        return None, problems + found, notes
    if "val_loss" in extra:
        _, val, _ = data()
        found = verify.verify_val_loss(ckpt, rel, val, files.device)
    return (None if found else ckpt), problems + found, notes


def check_periodic(files, values):
    problems, notes = [], []
    for epoch in (5, 10):
        _, p, n = _checkpoint(files, f"checkpoints/epoch_{epoch}.pth", epoch=epoch)
        problems, notes = problems + p, notes + n
    return problems, notes


def check_best(files, values):
    rel = "checkpoints/best.pth"
    ckpt, problems, notes = _checkpoint(files, rel)
    history = values.get("val_history") or []
    if ckpt is not None and history:
        best = min(range(len(history)), key=history.__getitem__)
        if ckpt["epoch"] != best + 1 or abs(ckpt["val_loss"] - history[best]) > 1e-6 * max(1, history[best]):
            problems.append(problem("not_best", name=rel, expected=history[best], epoch=best + 1,
                                    detail=f"{float(ckpt['val_loss']):.4f} at epoch {ckpt['epoch']}"))
    return problems, notes


def check_crash(files, values):
    rel = "checkpoints/crash.pth"
    ckpt, problems, notes = _checkpoint(files, rel, epoch=10, extra=())
    if ckpt is None:
        return problems, notes
    train, _, _ = data()
    problems += verify.verify_train_loss(ckpt, rel, train, files.device)
    found, ratio = resume.resume_advantage(ckpt, rel, train, files.device)
    notes.append(f"resuming {rel} with its Adam state: first-epoch loss {ratio:.2f}x lower than a fresh Adam")
    return problems + found, notes


def check_early_stopping(files, values):
    rel = "checkpoints/early_stopping_best.pth"
    ckpt, problems, notes = _checkpoint(files, rel, extra=("val_loss", "early_stopping"))
    if ckpt is None:
        return problems, notes
    state = ckpt["early_stopping"]
    if not isinstance(state, dict) or state.get("best_epoch") != ckpt["epoch"]:
        problems.append(problem("missing_keys", name=rel,
                                detail="'early_stopping' with best_epoch equal to 'epoch'"))
    final = values.get("final_weights")
    if final:
        restored, refused = load.load(final, files.device)
        if refused or any(not torch.equal(restored[k], v) for k, v in ckpt["model_state_dict"].items()):
            problems.append(problem("not_restored"))
    return problems, notes


CHECKS = {
    "saved_model": check_saved_model,
    "periodic": check_periodic,
    "best": check_best,
    "crash": check_crash,
    "early_stopping": check_early_stopping,
}


def main(name, submitted, regenerated, values):
    """Entry point of the fresh interpreter: one JSON verdict on stdout's last line."""
    files = Files(submitted, regenerated, grading_device())
    try:
        problems, notes = CHECKS[name](files, values)
    except Exception as e:  # a crafted file may break a stage: report, never crash the run
        problems, notes = [problem("checker_crashed", detail=f"{type(e).__name__}: {e}")], []
    print(json.dumps(Verdict(name, problems, notes).to_dict()))


def run(name, timeout=TIME_LIMIT_S, **values):
    """Run check `name` in a fresh interpreter; always returns a Verdict."""
    submitted = SUBMITTED_DIR if SUBMITTED_DIR.is_dir() else Path(".")
    cmd = [sys.executable, "-m", "autograder", "check", name, "--submitted", str(submitted),
           "--regenerated", ".", "--values", json.dumps(values)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Verdict(name, [problem("timeout", name=name, seconds=timeout)])
    try:
        return Verdict.from_dict(json.loads(out.stdout.strip().splitlines()[-1]))
    except (IndexError, ValueError, KeyError):
        last = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        return Verdict(name, [problem("checker_crashed", detail=last)])


def require(verdict):
    """The assertion a hidden test makes: fails with the student-facing feedback."""
    print(verdict.render())
    assert verdict.ok, "\n" + verdict.render()
