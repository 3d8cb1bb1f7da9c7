"""Score: the early-stopping reference (property-based) and the continuity rule."""

import math

import torch
from hypothesis import given, strategies as st

from autograder.saving_and_loading.model import MNISTModel
from autograder.saving_and_loading.early_stopping import ReferenceEarlyStopping, compare_early_stopping, trace
from autograder.saving_and_loading.live_run import continuity, optimizer_continued

losses = st.lists(st.one_of(st.floats(0.01, 2.0), st.just(float("nan")), st.sampled_from([0.5, 0.7])),
                  min_size=1, max_size=30)


@given(losses, st.integers(1, 5))
def test_reference_semantics(seq, patience):
    steps, kept = trace(ReferenceEarlyStopping(patience), seq)
    seen = seq[: len(steps)]
    finite = [(x, i + 1) for i, x in enumerate(seen) if not math.isnan(x)]
    last_epoch, stopped, best_epoch, counter = steps[-1]
    if finite:
        best = min(x for x, _ in finite)
        assert best_epoch == next(e for x, e in finite if x == best)  # ties keep the first
        assert kept == best_epoch
    else:
        assert best_epoch == 0 and kept is None
    assert counter == last_epoch - best_epoch
    assert stopped == (counter >= patience)
    if stopped:
        assert last_epoch == best_epoch + patience
    else:
        assert len(steps) == len(seq)


class NeverResets(ReferenceEarlyStopping):
    def step(self, val_loss, model):
        stop = super().step(val_loss, model)
        self.counter = self.epoch - 1 if self.best_epoch == self.epoch else self.counter
        return self.counter >= self.patience


class TiesImprove(ReferenceEarlyStopping):
    def step(self, val_loss, model):
        if val_loss == self.best_loss:
            self.best_loss += 1e-12
        return super().step(val_loss, model)


def solution_early_stopping():
    """The master notebook's own EarlyStopping (its solution), as the reference solution runs it."""
    import copy
    import json

    from autograder.build import source_of
    from autograder.saving_and_loading import ASSIGNMENT

    cells = json.loads((source_of(ASSIGNMENT) / ASSIGNMENT.notebook).read_text())["cells"]
    [source] = ["".join(c["source"]) for c in cells if "".join(c["source"]).startswith("class EarlyStopping")]
    namespace = {"copy": copy}
    exec(source, namespace)
    return namespace["EarlyStopping"]


def test_the_solution_meets_the_written_rules():
    assert compare_early_stopping(solution_early_stopping()) == []
    assert compare_early_stopping(NeverResets) != []  # the control: the comparison can fail


def test_mistakes_are_named():
    for wrong in (NeverResets, TiesImprove):
        problems = compare_early_stopping(wrong)
        assert problems and all(p.code == "early_stopping" for p in problems)


def test_crashing_step_is_reported_not_raised():
    class Broken(ReferenceEarlyStopping):
        def step(self, val_loss, model):
            raise ValueError("boom")

    assert "raised ValueError: boom" in compare_early_stopping(Broken)[0].message


def test_continuity():
    before = [0.5, 0.3, 0.2]
    assert continuity(before, [0.19, 0.15], 4, 3) == []
    assert [p.code for p in continuity(before, [0.25, 0.15], 4, 3)] == ["discontinuous"]
    assert [p.code for p in continuity(before, [0.19], 3, 3)] == ["resume_epoch"]
    assert [p.code for p in continuity(before, [], 4, 3)] == ["no_history"]
    assert [p.code for p in continuity(before, [math.nan, 0.15], 4, 3)] == ["discontinuous"]


class ForgetsCounter(ReferenceEarlyStopping):
    def load_state_dict(self, state):
        super().load_state_dict({**state, "counter": 0})


class NoStateDict:
    """Steps like the reference, but has no state_dict() to resume from."""

    def __init__(self, patience):
        self._inner = ReferenceEarlyStopping(patience)

    def step(self, val_loss, model):
        return self._inner.step(val_loss, model)

    def __getattr__(self, name):
        if name in ("state_dict", "load_state_dict"):
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_resumed_early_stopping():
    from autograder.saving_and_loading.early_stopping import compare_resumed_early_stopping

    assert compare_resumed_early_stopping(solution_early_stopping()) == []  # resumes like Lightning's callback
    problems = compare_resumed_early_stopping(ForgetsCounter)
    assert problems and "resumed after epoch" in problems[0].message and problems[0].code == "early_stopping_resume"
    assert "AttributeError" in compare_resumed_early_stopping(NoStateDict)[0].message


def test_optimizer_continued_reads_adams_step_count():
    model = MNISTModel()
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 784)).sum().backward()
    opt.step()

    def codes_at(step):
        for state in opt.state.values():
            state["step"].fill_(step)
        return [p.code for p in optimizer_continued(opt, 10, crash_epoch=10)]

    assert codes_at(2500) == []  # 10 epochs of 125 steps before the crash, 10 after
    assert codes_at(1250) == ["optimizer_not_resumed"]  # a fresh Adam: the resumed epochs only
    [fresh] = optimizer_continued(torch.optim.Adam(model.parameters()), 10, crash_epoch=10)
    assert "no steps" in fresh.message and "2500" in fresh.message
    assert [p.code for p in optimizer_continued(None, 10, crash_epoch=10)] == ["optimizer_not_resumed"]
