"""Early stopping: the reference for Exercise 4's EarlyStopping, the runs the grader asks of the
notebook's class (the kernel runs them: stopper_runs.py) and how the grader judges what it saw."""

import copy
import math
import random

from . import PATIENCE, stopper_runs
from .messages import problem
from .stopper_runs import PLATEAU

RANDOM_RUNS = 6  # drawn for each grading, beside the scripted sequences


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


def runs(seed=None):
    """The runs the grader asks of the notebook's EarlyStopping ([{"name", "patience", "losses"}]):
    the public test's plateau, the scripted sequences with the lesson's patience and, for a grading,
    RANDOM_RUNS sequences drawn from `seed` with a random patience: ties, NaNs and tiny improvements
    placed where a notebook cannot know them in advance."""
    chosen = [PLATEAU] + [{"name": name, "patience": PATIENCE, "losses": losses} for name, losses in SCRIPTED.items()]
    if seed is None:
        return chosen
    rng = random.Random(seed)
    for i in range(1, RANDOM_RUNS + 1):
        losses = [round(rng.uniform(0.2, 1.0), 2)]
        for _ in range(rng.randint(5, 13)):
            roll, last = rng.random(), losses[-1]
            losses.append(math.nan if roll < 0.1 else last if roll < 0.25 else round(last - 3e-5, 6) if roll < 0.4
                          else round(rng.uniform(0.2, 1.0), 2))
        chosen.append({"name": f"random #{i} (seed {seed})", "patience": rng.randint(1, 4), "losses": losses})
    return chosen


def problems(runs):
    """Problems where the notebook's runs (stopper_runs.Runs) differ from the reference's on the
    same inputs: how it steps (step's return, best_epoch, counter and best_loss after each epoch,
    the weights kept), and how a stopper rebuilt from state_dict() mid-run goes on (as the same
    class never interrupted: the state a checkpoint carries must be enough to resume)."""
    unobserved = next((got.unobserved for _, got in runs if got.unobserved), None)
    if unobserved:  # one reason for the whole class, not one line a run
        return [problem("early_stopping", detail=f"its runs, which the grader could not observe: {unobserved}")]
    found = []
    for spec, got in runs:
        want = stopper_runs.run(ReferenceEarlyStopping, spec["patience"], spec["losses"])
        if (got.error, got.steps, got.kept) != (want.error, want.steps, want.kept):
            found.append(problem("early_stopping", detail=f"the '{spec['name']}' sequence {_losses(spec)}: "
                                 f"{_difference(got, want)}"))
    for spec, got in runs:  # against the class's own uninterrupted run: how it steps is reported above
        alone = [step[:3] for step in got.steps]
        for k, resumed in enumerate(got.resumed, start=1):
            if resumed != alone[k:]:
                did, then = _resumed_difference(alone[:k] + resumed if isinstance(resumed, list) else resumed, alone)
                found.append(problem("early_stopping_resume", losses=_losses(spec), epoch=k, did=did, want=then))
                break
        else:
            if got.error is None and len(got.resumed) != max(len(alone) - 1, 0):
                found.append(problem("early_stopping_resume", losses=_losses(spec), epoch=len(got.resumed) + 1,
                                     did="was not observed", want=_stops(alone)))
    return found


def _losses(spec):
    return f"{spec['losses']}" + (f" with patience {spec['patience']}" if spec["patience"] != PATIENCE else "")


def _stops(steps):
    return next((f"stopped at epoch {e}" for e, (stop, *_) in enumerate(steps, 1) if stop), "never stopped")


def _resumed_difference(got, want):
    """(what the resumed stopper did, what an uninterrupted one does), in words."""
    if isinstance(got, str):
        return f"raised {got}", _stops(want)
    if [s[0] for s in got] != [s[0] for s in want]:
        return _stops(got), _stops(want)
    epoch, g, w = next((e, g, w) for e, (g, w) in enumerate(zip(got, want), 1) if g != w)
    return (f"had best_epoch {g[1]!r} and counter {g[2]!r} after epoch {epoch}",
            f"has best_epoch {w[1]} and counter {w[2]}")


def _difference(got, want):
    if got.error is not None:
        return f"it raised {got.error}"
    for epoch, (g, w) in enumerate(zip(got.steps, want.steps), start=1):
        if g != w:
            return (f"after epoch {epoch} expected stop={w[0]}, best_epoch={w[1]}, counter={w[2]}, best_loss={w[3]}; "
                    f"found stop={g[0]}, best_epoch={g[1]!r}, counter={g[2]!r}, best_loss={g[3]!r}")
    if len(got.steps) != len(want.steps):
        return f"expected to stop at epoch {len(want.steps)}, stopped at {len(got.steps)}"
    return f"kept the weights of epoch {got.kept!r}, expected epoch {want.kept!r}"
