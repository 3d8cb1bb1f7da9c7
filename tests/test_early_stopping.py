"""Score: the early-stopping reference (property-based) and the continuity rule."""

import copy
import math

import pytest
import torch
from hypothesis import given, strategies as st

from autograder.saving_and_loading import STEPS_PER_EPOCH
from autograder.saving_and_loading.model import MNISTModel, canonical_splits, make_loader, train_one_epoch
from autograder.saving_and_loading.early_stopping import ReferenceEarlyStopping, problems, runs
from autograder.saving_and_loading.stopper_runs import run, runs_of
from autograder.saving_and_loading.live_run import continuity, optimizer_continued

losses = st.lists(st.one_of(st.floats(0.01, 2.0), st.just(float("nan")), st.sampled_from([0.5, 0.7])),
                  min_size=1, max_size=30)


def judge(stopper_class, seed=None):
    """The hidden test's problems with a class, on the scripted runs (and the random ones of `seed`)."""
    return problems(runs_of(stopper_class, runs(seed)))


@given(losses, st.integers(1, 5))
def test_reference_semantics(seq, patience):
    done = run(ReferenceEarlyStopping, patience, seq)
    steps, kept = done.steps, done.kept
    seen = seq[: len(steps)]
    finite = [(x, i + 1) for i, x in enumerate(seen) if not math.isnan(x)]
    last_epoch, (stopped, best_epoch, counter, best_loss) = len(steps), steps[-1]
    if finite:
        best = min(x for x, _ in finite)
        assert best_epoch == next(e for x, e in finite if x == best)  # ties keep the first
        assert kept == best_epoch and best_loss == best
    else:
        assert best_epoch == 0 and kept is None and best_loss == math.inf
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
    for seed in (None, 1, 2):
        assert judge(solution_early_stopping(), seed) == []
    assert judge(NeverResets) != []  # the control: the comparison can fail


def test_mistakes_are_named():
    for wrong in (NeverResets, TiesImprove):
        found = judge(wrong)
        assert found and all(p.code == "early_stopping" for p in found)
    assert any("the 'ties' sequence" in p.message and "expected stop=False, best_epoch=2, counter=1" in p.message
               for p in judge(TiesImprove))


def test_crashing_step_is_reported_not_raised():
    class Broken(ReferenceEarlyStopping):
        def step(self, val_loss, model):
            raise ValueError("boom")

    assert "raised ValueError: boom" in judge(Broken)[0].message


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
    found = judge(ForgetsCounter)
    assert found and "resumed after epoch" in found[0].message and found[0].code == "early_stopping_resume"
    assert "[1.0, 0.5, 0.6, 0.7] with patience 2, resumed after epoch" in found[0].message  # the public test's run
    assert "AttributeError" in judge(NoStateDict)[0].message


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


def test_a_step_count_written_onto_a_fresh_adam_does_not_pass():
    """The resumed Adam's second moments must hold the checkpoint's, decayed: a fresh Adam with the
    right step count written in fails, a restored one passes, over the lesson's real training."""
    train, _, _ = canonical_splits()
    torch.manual_seed(0)
    model = MNISTModel()
    opt = torch.optim.Adam(model.parameters())
    for epoch in range(2):
        train_one_epoch(model, opt, make_loader(train, epoch))
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())

    def resumed(restore):
        model = MNISTModel()
        model.load_state_dict(saved_model)
        opt = torch.optim.Adam(model.parameters())
        if restore:
            opt.load_state_dict(copy.deepcopy(saved_opt))
        train_one_epoch(model, opt, make_loader(train, 2))
        for state in opt.state.values():  # what a notebook forging the count would write
            state["step"].fill_(3 * STEPS_PER_EPOCH)
        return [p.code for p in optimizer_continued(opt, 1, crash_epoch=2, saved_state=saved_opt)]

    assert resumed(restore=True) == []
    assert resumed(restore=False) == ["moments_restarted"]


def test_moments_the_notebook_could_craft_do_not_switch_the_check_off():
    """beta2 is the lesson's, not the file's; NaN or missing moments count as restarted; a file
    that is no optimizer state compares nothing (its file check says why), and nothing raises."""
    from autograder.saving_and_loading.live_run import moments_restarted
    saved = {"state": {0: {"exp_avg_sq": torch.ones(4)}}, "param_groups": [{"betas": (0.9, 0.0)}]}
    assert moments_restarted({"state": {0: {"exp_avg_sq": torch.zeros(4)}}}, saved, 10) == 1.0
    assert moments_restarted({"state": {0: {"exp_avg_sq": torch.full((4,), float("nan"))}}}, saved, 10) == 1.0
    assert moments_restarted({"state": {0: {"exp_avg_sq": torch.ones(4)}}}, saved, 10) == 0.0
    assert moments_restarted({"state": {}}, saved, 10) == 1.0
    assert moments_restarted({"state": {0: {"exp_avg_sq": "no"}}}, saved, 10) == 1.0
    for crafted in (None, [1], {"state": "x"}, {"state": {0: {"exp_avg_sq": torch.ones(2, dtype=torch.complex64)}}}):
        assert moments_restarted({"state": {}}, crafted, 10) == 0.0


# --- every clause of the written rule is pinned --------------------------------------------------
# Each variant changes one clause of the reference (its docstring's rules), as a student or a
# Keras or Lightning habit would; the hidden test (require_early_stopping: both comparisons) must
# fail every one, so each costs its points.

def improving(improves):
    """The reference's step() with `improves(self, val_loss)` deciding what improves."""
    def step(self, val_loss, model):
        self.epoch += 1
        if improves(self, val_loss):
            self.best_loss, self.best_epoch, self.counter = val_loss, self.epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.counter += 1
        return self.counter >= self.patience
    return step


def _prev_improves(self, val_loss):  # against the previous epoch's loss, not the best
    prev, self.previous = getattr(self, "previous", math.inf), val_loss
    return val_loss < prev


def _zero_based_step(self, val_loss, model):  # epochs counted from 0
    stop = ReferenceEarlyStopping.step(self, val_loss, model)
    self.best_epoch -= self.best_epoch == self.epoch
    return stop


def _best_loss_set_once(self, val_loss, model):  # the first loss stays the one to beat
    first = self.best_loss
    stop = ReferenceEarlyStopping.step(self, val_loss, model)
    self.best_loss = self.best_loss if first == math.inf else first
    return stop


def _keeps_live_state(self, val_loss, model):  # the best "copy" is the live state_dict
    stop = ReferenceEarlyStopping.step(self, val_loss, model)
    if self.best_epoch == self.epoch:
        self.best_state = model.state_dict()
    return stop


def _loads_without(key, value):
    return lambda self, state: ReferenceEarlyStopping.load_state_dict(self, {**state, key: value})


VARIANTS = {  # clause broken -> the class's changed methods
    "epochs counted from 1": {"step": _zero_based_step},
    "improves when val_loss < best_loss (a tie does not)": {"step": improving(lambda s, v: v <= s.best_loss)},
    "NaN never improves": {"step": improving(lambda s, v: not v >= s.best_loss)},
    "NaN only counts (Lightning's check_finite stops)": {
        "step": lambda s, v, m: ReferenceEarlyStopping.step(s, v, m) or math.isnan(v)},
    "any decrease improves (Keras/Lightning min_delta=1e-4)": {"step": improving(lambda s, v: v < s.best_loss - 1e-4)},
    "improvement is against the best, not the previous epoch": {"step": improving(_prev_improves)},
    "best_loss is updated on improvement": {"step": _best_loss_set_once},
    "best_state is a copy": {"step": _keeps_live_state},
    "counter resets on improvement": {"step": lambda s, v, m: NeverResets.step(s, v, m)},
    "stop when counter reaches patience (Keras's wait >= patience)": {
        "step": lambda s, v, m: ReferenceEarlyStopping.step(s, v, m) and s.counter > s.patience},
    "load_state_dict restores counter": {"load_state_dict": _loads_without("counter", 0)},
    "load_state_dict restores epoch": {"load_state_dict": _loads_without("epoch", 0)},
    "load_state_dict restores best_loss": {"load_state_dict": _loads_without("best_loss", math.inf)},
    "load_state_dict restores best_epoch": {"load_state_dict": _loads_without("best_epoch", 0)},
}


@pytest.mark.parametrize("clause", sorted(VARIANTS))
def test_each_clause_is_pinned_by_a_sequence_its_variant_fails(clause):
    variant = type("Variant", (ReferenceEarlyStopping,), VARIANTS[clause])
    found = judge(variant)
    assert found, f"no scripted sequence tells the rule from a variant where {clause!r} is broken"
    assert {p.code for p in found} <= {"early_stopping", "early_stopping_resume"}


@pytest.mark.parametrize("clause", sorted(VARIANTS))
def test_random_runs_alone_tell_most_variants_from_the_rule(clause):
    """The runs drawn for a grading are not known to the notebook in advance: without the scripted
    ones (which a notebook could have been written against), they still fail each variant for most
    seeds, so right runs come from a class that behaves right."""
    variant = type("Variant", (ReferenceEarlyStopping,), VARIANTS[clause])
    scripted = len(runs())
    caught = sum(bool(problems(runs_of(variant, runs(seed)[scripted:]))) for seed in range(20))
    assert caught >= 14, f"random runs told {clause!r} from the rule for {caught} of 20 seeds"
