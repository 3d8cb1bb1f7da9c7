"""Early stopping: the reference for Exercise 4's EarlyStopping, and the scripted loss sequences
the grader runs the student's class through (in the kernel, after the notebook: hidden.py)."""

import copy
import math

import torch

from . import PATIENCE
from .messages import problem


class ReferenceEarlyStopping:
    """The semantics the notebook's EarlyStopping must have.

    - An epoch improves when val_loss < best_loss (strictly: a tie is not an improvement; NaN
      never improves).
    - Improvement: best_loss, best_epoch and the best weights are updated and the counter resets
      to 0. Otherwise the counter grows by 1.
    - step() returns True once the counter reaches `patience`, so training stops at epoch
      best_epoch + patience (epochs are counted from 1, one step() per epoch).
    """

    def __init__(self, patience=PATIENCE):
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

    def state_dict(self):
        """What a checkpoint needs to resume early stopping (the best weights are its model_state_dict)."""
        return {"best_loss": self.best_loss, "best_epoch": self.best_epoch, "counter": self.counter, "epoch": self.epoch}

    def load_state_dict(self, state):
        self.best_loss, self.best_epoch = state["best_loss"], state["best_epoch"]
        self.counter, self.epoch = state["counter"], state["epoch"]


SCRIPTED = {  # name -> validation-loss sequence
    "steady improvement": [1.0, 0.9, 0.8, 0.7, 0.6, 0.5],
    "plateau": [1.0, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8],
    "ties": [1.0, 0.7, 0.7, 0.9, 0.7, 0.8, 0.6],
    "noise": [1.0, 0.8, 0.85, 0.79, 0.81, 0.83, 0.78, 0.9, 0.95, 0.99],
    "NaN": [1.0, 0.9, float("nan"), float("nan"), 0.95, float("nan")],
    "late best": [0.9, 1.0, 1.1, 0.5, 0.6, 0.7, 0.8],
    # each step improves by 3e-5 to 5e-5: Keras's and Lightning's min_delta, or a relative
    # threshold (ReduceLROnPlateau's 1e-4), would not count them, and the rule has none
    "tiny improvements": [1.0, 0.9, 0.89995, 0.8999, 0.89986, 0.89983, 0.8998],
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


def compare_early_stopping(make_stopper, patience=PATIENCE):
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


def compare_resumed_early_stopping(make_stopper, patience=PATIENCE):
    """Problems where a stopper rebuilt from state_dict() mid-run goes on otherwise than the same
    class never interrupted: where it stops, and its best_epoch and counter after each epoch (the
    state a checkpoint carries must be enough to resume early stopping). How the class steps is
    compare_early_stopping's."""
    problems = []
    for losses in SCRIPTED.values():
        try:
            want = [(stop, best, counter) for _, stop, best, counter in trace(make_stopper(patience), losses)[0]]
        except Exception:  # compare_early_stopping reports it
            continue
        for k in range(1, len(want)):
            try:
                first = make_stopper(patience)
                trace(first, losses[:k])
                resumed = make_stopper(patience)
                resumed.load_state_dict(first.state_dict())
                got = want[:k] + [(stop, best, counter) for _, stop, best, counter in trace(resumed, losses[k:])[0]]
            except Exception as e:
                got = f"{type(e).__name__}: {e}"
            if got != want:
                did, then = _resumed_difference(got, want)
                problems.append(problem("early_stopping_resume", losses=losses, epoch=k, did=did, want=then))
                break
    return problems


def _resumed_difference(got, want):
    """(what the resumed stopper did, what an uninterrupted one does), in words."""
    def stops(steps):
        return next((f"stopped at epoch {e}" for e, (stop, _, _) in enumerate(steps, 1) if stop), "never stopped")

    if isinstance(got, str):
        return f"raised {got}", stops(want)
    if [s for s, _, _ in got] != [s for s, _, _ in want]:
        return stops(got), stops(want)
    epoch, g, w = next((e, g, w) for e, (g, w) in enumerate(zip(got, want), 1) if g != w)
    return (f"had best_epoch {g[1]!r} and counter {g[2]!r} after epoch {epoch}",
            f"has best_epoch {w[1]} and counter {w[2]}")


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
