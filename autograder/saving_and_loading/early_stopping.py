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
                did = (f"raised {got}" if isinstance(got, str) else
                       f"stopped at epoch {got.index(True) + 1}" if True in got else "never stopped")
                problems.append(problem("early_stopping_resume", losses=losses, epoch=k, did=did,
                                        want=_stop_epoch(want)))
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
