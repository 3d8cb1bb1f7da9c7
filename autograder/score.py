"""Score: the student's own resumed run and early-stopping logic, against written-down rules."""

import copy
import math

import torch

from .feedback import problem
from .inspect import adam_steps
from .load import load
from .reference import STEPS_PER_EPOCH, MNISTModel, canonical_splits, make_loader, train_one_epoch

# First resumed epoch over last pre-crash epoch (tests/benchmark_streams.py, the notebook's crash
# run with 9 dropout streams, as a GPU would draw): 0.80-1.01 when model and Adam are restored,
# 0.97-1.27 with a fresh Adam. The two overlap, so the loss alone cannot tell them apart: a jump
# over 5 % flags a model that was not restored (strict=False, wrong weights), and
# `optimizer_continued` checks the Adam state exactly.
CONTINUITY_TOLERANCE = 0.05


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


def bit_identical_resume(history_after, rel="checkpoints/crash.pth"):
    """Problems when a checkpoint carrying the RNG state (the optional extension) does not resume
    bit-identically: on the CPU, the first resumed epoch recomputed from the checkpoint must give
    exactly the student's loss. On a GPU, dropout draws from the CUDA generator, which
    torch.get_rng_state() does not hold, so there the tolerance of `continuity` applies alone."""
    ckpt, refused = load(rel)
    needed = {"epoch", "model_state_dict", "optimizer_state_dict", "rng_state"}
    if refused or not isinstance(ckpt, dict) or not needed <= set(ckpt) or not history_after:
        return []  # other tests report a checkpoint that lacks the rest
    if torch.cuda.is_available():
        return []
    model = MNISTModel()
    model.load_state_dict(ckpt["model_state_dict"])
    optimizer = torch.optim.Adam(model.parameters())
    optimizer.load_state_dict(ckpt["optimizer_state_dict"])
    kept = torch.get_rng_state()
    try:
        torch.set_rng_state(ckpt["rng_state"])
        expected = train_one_epoch(model, optimizer, make_loader(canonical_splits()[0], ckpt["epoch"] + 1))
    finally:
        torch.set_rng_state(kept)
    if expected != history_after[0]:
        return [problem("not_bit_identical", epoch=ckpt["epoch"] + 1, expected=expected, found=history_after[0])]
    return []


class ReferenceEarlyStopping:
    """The semantics the notebook's EarlyStopping must have.

    - An epoch improves when val_loss < best_loss (strictly: a tie is not an improvement; NaN
      never improves).
    - Improvement: best_loss, best_epoch and the best weights are updated and the counter resets
      to 0. Otherwise the counter grows by 1.
    - step() returns True once the counter reaches `patience`, so training stops at epoch
      best_epoch + patience (epochs are counted from 1, one step() per epoch).
    """

    def __init__(self, patience=3):
        self.patience = patience
        self.best_loss = math.inf
        self.best_epoch = 0
        self.counter = 0
        self.epoch = 0
        self.best_state = None

    def step(self, val_loss, model):
        self.epoch += 1
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.counter = val_loss, self.epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.counter += 1
        return self.counter >= self.patience


SCRIPTED = {  # name -> validation-loss sequence
    "steady improvement": [1.0, 0.9, 0.8, 0.7, 0.6, 0.5],
    "plateau": [1.0, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8],
    "ties": [1.0, 0.7, 0.7, 0.9, 0.7, 0.8, 0.6],
    "noise": [1.0, 0.8, 0.85, 0.79, 0.81, 0.83, 0.78, 0.9, 0.95, 0.99],
    "NaN": [1.0, 0.9, float("nan"), float("nan"), 0.95, float("nan")],
    "late best": [0.9, 1.0, 1.1, 0.5, 0.6, 0.7, 0.8],
}


def trace(stopper, losses):
    """Run `stopper` over `losses`; what an observer sees at each step and the weights it kept.

    The dummy model's weight equals the epoch number, so the kept weights name their epoch.
    """
    model = torch.nn.Linear(1, 1, bias=False)
    steps = []
    for epoch, loss in enumerate(losses, start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)
        stop = bool(stopper.step(loss, model))
        steps.append((epoch, stop, stopper.best_epoch, stopper.counter))
        if stop:
            break
    kept = stopper.best_state["weight"].item() if stopper.best_state is not None else None
    return steps, kept


def compare_early_stopping(make_stopper, patience=3):
    """Problems where the student's EarlyStopping(patience) disagrees with the reference."""
    problems = []
    for name, losses in SCRIPTED.items():
        try:
            got = trace(make_stopper(patience), losses)
        except Exception as e:  # a crash on one sequence must not hide the others' verdicts
            got = f"{type(e).__name__}: {e}"
        want = trace(ReferenceEarlyStopping(patience), losses)
        if got != want:
            problems.append(problem("early_stopping", detail=f"the '{name}' sequence {losses}: "
                                    f"{_difference(got, want)}"))
    return problems


def compare_resumed_early_stopping(make_stopper, patience=3):
    """Problems where a stopper rebuilt from state_dict() mid-run stops elsewhere than an
    uninterrupted one (the state a checkpoint carries must be enough to resume early stopping)."""
    problems = []
    for name, losses in SCRIPTED.items():
        want = [stop for _, stop, _, _ in trace(ReferenceEarlyStopping(patience), losses)[0]]
        for k in range(1, len(want)):
            try:
                first = make_stopper(patience)
                trace(first, losses[:k])
                resumed = make_stopper(patience)
                resumed.load_state_dict(first.state_dict())
                got = want[:k] + [stop for _, stop, _, _ in trace(resumed, losses[k:])[0]]
            except Exception as e:
                got = f"{type(e).__name__}: {e}"
            if got != want:
                problems.append(problem("early_stopping", detail=f"the '{name}' sequence {losses} "
                                        f"resumed from state_dict() after epoch {k}: "
                                        f"{_stop_epoch(got)} instead of stopping at epoch {_stop_epoch(want)}"))
                break
    return problems


def _stop_epoch(stops):
    return stops if isinstance(stops, str) else (stops.index(True) + 1 if True in stops else "never stopped")


def _difference(got, want):
    if isinstance(got, str):
        return f"it raised {got}"
    (g_steps, g_kept), (w_steps, w_kept) = got, want
    for g, w in zip(g_steps, w_steps):
        if g != w:
            return (f"after epoch {w[0]} expected stop={w[1]}, best_epoch={w[2]}, counter={w[3]}; "
                    f"found stop={g[1]}, best_epoch={g[2]}, counter={g[3]}")
    if len(g_steps) != len(w_steps):
        return f"expected to stop at epoch {len(w_steps)}, stopped at {len(g_steps)}"
    return f"kept the weights of epoch {g_kept}, expected epoch {w_kept}"
