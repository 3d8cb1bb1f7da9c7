"""Runs of the notebook's EarlyStopping on loss sequences: what the grader observes of the class.

A class's behaviour is not data; its runs are. Under grading, the grader's observation cell runs
the notebook's class in the kernel (`probe`) on the runs the grader chose for this grading
(early_stopping.runs: the public plateau, the scripted sequences and random ones drawn for it) and
records, for each, what step() returned and the stopper's state after every epoch, the weights it
kept, and the same after a state_dict() round trip at every epoch. The grader's interpreter reads
that back as plain data (`observed`) and the tests compare it with the reference's runs. In a
student's notebook (and in the kernel) the tests run the class itself (`runs_of`).

Shipped in the student notebook: the public test reads its plateau run through it.
"""

PLATEAU = {"name": "public test", "patience": 2, "losses": [1.0, 0.5, 0.6, 0.7]}  # the public test's run
ERROR_CHARS = 300  # of an exception's message, in a run


class Run:
    """One run of a stopper: `steps`, one [stop, best_epoch, counter, best_loss] an epoch until it
    stopped; `kept`, the epoch whose weights best_state holds (None: no weights kept); `error`,
    the exception a call raised (the run ends there); `resumed`, for each epoch k before the last,
    the steps of a stopper rebuilt from the first one's state_dict() after k epochs, then run on
    the rest (a list of [stop, best_epoch, counter]), or the exception that stopped it;
    `unobserved`, why the grader has no run (then nothing else is set)."""

    def __init__(self, steps=(), kept=None, error=None, resumed=(), unobserved=None):
        self.steps, self.kept, self.error, self.resumed = list(steps), kept, error, list(resumed)
        self.unobserved = unobserved

    @property
    def stops(self):
        return [step[0] for step in self.steps]

    @property
    def best_epoch(self):
        return self.steps[-1][1] if self.steps else None

    @property
    def best_loss(self):
        return self.steps[-1][3] if self.steps else None

    def to_dict(self):
        return {"steps": self.steps, "kept": self.kept, "error": self.error, "resumed": self.resumed}

    @classmethod
    def from_dict(cls, found):
        """A run read back as plain data (observe.plain: lists, dicts, numbers, strings), or an
        unobserved one when it does not have a run's shape."""
        steps, resumed, error = (found.get(k) for k in ("steps", "resumed", "error")) if type(found) is dict else [None] * 3
        if (type(steps) is list and all(type(s) is list and len(s) == 4 for s in steps)
                and type(resumed) is list and all(type(r) is str or (type(r) is list and all(
                    type(s) is list and len(s) == 3 for s in r)) for r in resumed)
                and (error is None or type(error) is str)):
            return cls(steps, found.get("kept"), error, resumed)
        return cls(unobserved="what the kernel recorded is not a run")


def trace(stopper, losses, fields=4):
    """Run `stopper` over `losses` until step() returns True: one [stop, best_epoch, counter,
    best_loss][:fields] an epoch. The dummy model's weight equals the epoch number, so the weights
    a stopper keeps name their epoch."""
    import torch  # here: otter's process draws the runs (early_stopping.runs) without torch
    model = torch.nn.Linear(1, 1, bias=False)
    steps = []
    for epoch, loss in enumerate(losses, start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)
        stop = bool(stopper.step(loss, model))
        steps.append([stop, _number(stopper.best_epoch), _number(stopper.counter), _number(stopper.best_loss)][:fields])
        if stop:
            break
    return steps


def run(stopper_class, patience, losses):
    """A Run of stopper_class(patience) over `losses`, whatever the class raises."""
    stopper = None
    try:
        stopper = stopper_class(patience)
        steps = trace(stopper, losses)
        kept = _number(stopper.best_state["weight"]) if stopper.best_state is not None else None
        kept = int(kept) if isinstance(kept, float) and kept.is_integer() else kept  # an epoch
    except Exception as e:  # a crash in one run must not hide the others' verdicts
        return Run(error=_error(e))
    resumed = []
    for k in range(1, len(steps)):
        try:
            first = stopper_class(patience)
            trace(first, losses[:k])
            again = stopper_class(patience)
            again.load_state_dict(first.state_dict())
            resumed.append(trace(again, losses[k:], fields=3))
        except Exception as e:
            resumed.append(_error(e))
    return Run(steps, kept, None, resumed)


def probe(stopper_class, inputs):
    """In the kernel: the runs of `inputs` ([{"name", "patience", "losses"}]) as plain data."""
    return [run(stopper_class, spec["patience"], spec["losses"]).to_dict() for spec in inputs]


class Runs:
    """The runs of one stopper class on `inputs`, found by the kernel (observed) or now (live)."""

    def __init__(self, inputs, found):
        self.inputs, self._found = inputs, found

    def __iter__(self):
        """(input, its Run), in the order they were asked for."""
        return zip(self.inputs, self._found)

    def of(self, spec):
        """The Run of one input (a public test's, which holds no NaN: inputs are compared by value)."""
        return next((found for asked, found in self if asked == spec), Run(unobserved="this run was not asked for"))


def observed(found, inputs):
    """In the grader: the Runs the kernel recorded for `inputs` (the grader's, not what the kernel
    says it ran), each checked to be a run."""
    if not (type(found) is list and len(found) == len(inputs)):
        why = getattr(found, "why", "not the runs asked for")  # observe.NotObserved says why
        return Runs(inputs, [Run(unobserved=why)] * len(inputs))
    return Runs(inputs, [Run.from_dict(f) for f in found])


def runs_of(stopper, inputs):
    """`stopper` as the grader observed it, or a live class run now on `inputs`."""
    if isinstance(stopper, Runs):
        return stopper
    return Runs(inputs, [run(stopper, spec["patience"], spec["losses"]) for spec in inputs])


def _number(value):
    """A student's number as plain data (a one-element tensor's value as a float); anything else as
    its type's name. (Here, not observe's: this module is shipped to students, observe is not.)"""
    try:
        return value if value is None or type(value) in (bool, int, float) else float(value)
    except Exception:
        return f"a {type(value).__name__}"


def _error(e):
    return f"{type(e).__name__}: {e}"[:ERROR_CHARS]
