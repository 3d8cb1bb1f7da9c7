"""Verify and resume on a real 10-epoch run of the lesson's model and data."""

import copy
import math

import pytest
import torch

from autograder.codes import Found
from autograder.saving_and_loading import LR, STEPS_PER_EPOCH
from autograder.saving_and_loading import model as ref
from autograder.saving_and_loading.inspection import inspect_checkpoint
from autograder.saving_and_loading.resume import ADVANTAGE_THRESHOLD, resume_advantage
from autograder.reproduction import same_run as reproduced
from autograder.saving_and_loading import ASSIGNMENT
from autograder.saving_and_loading.verification import fingerprint, verify_train_loss, verify_val_loss


@pytest.fixture(scope="module")
def run():
    """Checkpoints of one seeded run after epochs 1 and 10, and the data."""
    torch.manual_seed(0)
    train, val, _ = ref.canonical_splits()
    model = ref.MNISTModel()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    saved = {}
    for epoch in range(1, 11):
        loss = ref.train_one_epoch(model, opt, ref.make_loader(train, epoch))
        if epoch in (1, 10):
            saved[epoch] = copy.deepcopy({"epoch": epoch, "model_state_dict": model.state_dict(),
                                          "optimizer_state_dict": opt.state_dict(), "loss": loss,
                                          "val_loss": ref.evaluate(model, ref.make_loader(val))})
    return saved, train, val


def test_honest_checkpoint_passes(run):
    saved, train, val = run
    ckpt = saved[10]
    assert inspect_checkpoint(ckpt, "c", epoch=10, extra_keys=("val_loss",), steps_per_epoch=STEPS_PER_EPOCH) == Found()
    assert verify_val_loss(ckpt, "c", val, "cpu") == []
    assert verify_train_loss(ckpt, "c", train, "cpu") == []


def test_edited_losses_are_caught(run):
    saved, train, val = run
    assert [p.code for p in verify_val_loss({**saved[10], "val_loss": saved[10]["val_loss"] / 2}, "c", val, "cpu")] == ["loss_mismatch"]
    for edited in (0.001, 5.0):
        assert [p.code for p in verify_train_loss({**saved[10], "loss": edited}, "c", train, "cpu")] == ["loss_mismatch"]
    # weights from epoch 1 under epoch 10's numbers
    swapped = {**saved[10], "model_state_dict": saved[1]["model_state_dict"]}
    assert [p.code for p in verify_val_loss(swapped, "c", val, "cpu")] == ["loss_mismatch"]


def test_genuine_optimizer_state_gives_a_resume_advantage(run):
    saved, train, _ = run
    problems, ratio, curves = resume_advantage(saved[10], "c", train, "cpu")
    assert problems == [] and ratio > ADVANTAGE_THRESHOLD
    # the picture's curves are the two resumed epochs, batch by batch
    assert len(curves["restored"]) == len(curves["fresh"]) == STEPS_PER_EPOCH
    assert sum(curves["fresh"]) / sum(curves["restored"]) == pytest.approx(ratio)


def test_fabricated_optimizer_state_gives_none(run):
    saved, train, _ = run
    fabricated = copy.deepcopy(saved[10])
    for s in fabricated["optimizer_state_dict"]["state"].values():
        s["exp_avg"].zero_()
        s["exp_avg_sq"].fill_(1e-8)
    problems, _, _ = resume_advantage(fabricated, "c", train, "cpu")
    assert [p.code for p in problems] == ["no_resume_advantage"]
    poisoned = copy.deepcopy(saved[10])  # NaN moments: the resumed loss is NaN, never an advantage
    next(iter(poisoned["optimizer_state_dict"]["state"].values()))["exp_avg"].fill_(float("nan"))
    problems, ratio, _ = resume_advantage(poisoned, "c", train, "cpu")
    assert math.isnan(ratio) and [p.code for p in problems] == ["no_resume_advantage"]


def test_stale_optimizer_state_is_caught_by_its_step_count(run):
    """A stale state still damps the restart (measured: more than a genuine one), so the
    step count is what gives it away."""
    saved, _, _ = run
    stale = {**saved[10], "optimizer_state_dict": saved[1]["optimizer_state_dict"]}
    problems = inspect_checkpoint(stale, "c", epoch=10, steps_per_epoch=STEPS_PER_EPOCH).problems
    assert [p.code for p in problems] == ["stale_optimizer_state"]


def same_run(submitted, regenerated):
    return reproduced(submitted, regenerated, "c", ASSIGNMENT.same_run_tolerance)


def test_reproduction_fingerprints(run):
    saved, _, _ = run
    fp = fingerprint(saved[10])
    assert same_run(fp, fingerprint(copy.deepcopy(saved[10]))) == []
    assert [p.code for p in same_run(fp, fingerprint(saved[1]))] == ["not_reproduced"]
    assert [p.code for p in same_run(fp, None)] == ["not_reproduced"]
    assert [p.code for p in same_run(fp, fingerprint({**saved[10], "loss": saved[10]["loss"] * 1.2}))] == ["not_reproduced"]
    assert same_run({"keys": [], "w": -1.0}, {"keys": [], "w": -1.05}) == []  # a lesson's number may be negative
    assert [p.code for p in same_run({"keys": [], "w": -1.0}, {"keys": [], "w": -1.2})] == ["not_reproduced"]


def test_reproduction_across_devices_compares_what_no_dropout_stream_changes(run):
    """Saved on a GPU, re-run on a CPU: another dropout stream, so epochs and losses may differ."""
    saved, _, _ = run
    on_gpu = fingerprint(saved[10], ["cuda"])
    other_run = {**saved[1], "loss": saved[10]["loss"] * 1.25}  # another epoch, another loss
    assert same_run(on_gpu, fingerprint(other_run, ["cpu"])) == []
    assert [p.code for p in same_run(fingerprint(saved[10], ["cpu"]), fingerprint(other_run, ["cpu"]))] == [
        "not_reproduced"]
    no_optimizer = {k: v for k, v in saved[10].items() if k != "optimizer_state_dict"}
    assert [p.code for p in same_run(on_gpu, fingerprint(no_optimizer, ["cpu"]))] == ["not_reproduced"]


def test_rng_state_makes_the_resume_bit_identical(run, tmp_path):
    from autograder.saving_and_loading.resume import bit_identical_resume

    saved, train, _ = run
    path = tmp_path / "crash.pth"
    torch.manual_seed(5)
    torch.save({**saved[10], "rng_state": torch.get_rng_state()}, path)

    def student_resume(restore_rng):
        ckpt = torch.load(path, weights_only=True)
        model = ref.MNISTModel()
        model.load_state_dict(ckpt["model_state_dict"])
        opt = torch.optim.Adam(model.parameters())
        opt.load_state_dict(ckpt["optimizer_state_dict"])
        if restore_rng:
            torch.set_rng_state(ckpt["rng_state"])
        return [ref.train_one_epoch(model, opt, ref.make_loader(train, 11))]

    assert bit_identical_resume(student_resume(True), train, path) == []
    assert [p.code for p in bit_identical_resume(student_resume(False), train, path)] == ["not_bit_identical"]
    torch.save(saved[10], path)  # without rng_state the exact check does not apply
    assert bit_identical_resume(student_resume(False), train, path) == []


@pytest.mark.parametrize("state, code, phrase", [
    # stopper.state_dict() taken before step() for the checkpoint's epoch
    (lambda s: {**s, "epoch": s["epoch"] - 1, "best_epoch": s["best_epoch"] - 1, "counter": 1},
     "early_stopping_state", "taken before step() for epoch"),
    (lambda s: {**s, "counter": 2}, "early_stopping_state", "counter 2"),
    (lambda s: {k: v for k, v in s.items() if k != "counter"}, "missing_keys", "with best_epoch, counter and epoch"),
    (lambda s: s, None, None),  # the reference's own, as a control
])
def test_the_early_stopping_state_is_the_best_epochs(built, tmp_path, state, code, phrase):
    """The early-stopping checkpoint's 'early_stopping' is judged on the reference's own file,
    changed one way."""
    import zipfile

    from autograder.files import Files
    from autograder.saving_and_loading.filechecks import check_early_stopping

    rel = "checkpoints/early_stopping_best.pth"
    with zipfile.ZipFile(built["samples_dir"] / "reference.zip") as z:
        (tmp_path / "checkpoints").mkdir()
        (tmp_path / rel).write_bytes(z.read(rel))
    ckpt = torch.load(tmp_path / rel, weights_only=True)
    torch.save({**ckpt, "early_stopping": state(ckpt["early_stopping"])}, tmp_path / rel)
    found = check_early_stopping(Files(ASSIGNMENT, tmp_path))
    assert [p.code for p in found.problems] == ([code] if code else [])
    assert phrase is None or phrase in found.problems[0].message
