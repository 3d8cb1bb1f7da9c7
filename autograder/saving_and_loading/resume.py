"""Resume: does training continue from the crash checkpoint as if it never stopped?

Two sides of Exercise 3:
- the grader resumes the student's crash checkpoint twice for one epoch on the grading data: once
  with its Adam state, once with a fresh Adam. Both runs share the seed (dropout masks) and data
  order, so they differ only in the optimizer state. Measured on this lesson's model: the
  fresh-Adam epoch loss is 1.19x-1.37x the restored one over 9 dropout streams
  (tests/benchmark_streams.py), while dropout noise alone moves an epoch's loss by up to 12 %,
  which is why the two runs share one. Runs after the notebook, in the checker (the lesson's
  file_checks()).
- with the optional RNG extension, whether the student's own resumed run is bit-identical, tested
  in the kernel after the notebook (hidden.py). Its loss history and Adam's step count and
  moments are public tests (live_run.py).
"""

import torch

from ..codes import Found
from ..load import load
from . import ASSIGNMENT
from .filechecks import crash_checkpoint, data
from .messages import problem
from .model import MNISTModel, make_loader, train_one_epoch
from .recorded import loss_value

ADVANTAGE_THRESHOLD = 1.08  # below the smallest measured effect (1.19), above noise with a shared stream
SEED = 1234


def resumed_epoch_loss(ckpt, train_set, device, with_optimizer_state, batch_losses=None):
    model = MNISTModel().to(device)
    model.load_state_dict(ckpt["model_state_dict"])
    lr = ckpt["optimizer_state_dict"]["param_groups"][0]["lr"]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    if with_optimizer_state:
        optimizer.load_state_dict(ckpt["optimizer_state_dict"])
    torch.manual_seed(SEED)
    return train_one_epoch(model, optimizer, make_loader(train_set, SEED), device, batch_losses)


def resume_advantage(ckpt, name, train_set, device):
    """(problems, ratio, curves): fresh-Adam loss over restored-Adam loss for the first resumed
    epoch, and both runs' batch losses for the feedback's picture."""
    curves = {"restored": [], "fresh": []}
    restored = resumed_epoch_loss(ckpt, train_set, device, True, curves["restored"])
    fresh = resumed_epoch_loss(ckpt, train_set, device, False, curves["fresh"])
    ratio = fresh / restored
    if not ratio >= ADVANTAGE_THRESHOLD:  # written so that a NaN loss fails too
        return [problem("no_resume_advantage", name=name, ratio=ratio,
                        threshold=ADVANTAGE_THRESHOLD)], ratio, curves
    return [], ratio, curves


def check_crash_resumes(files):
    """The grader's crash check: the student's file check of the crash checkpoint
    (filechecks.check_crash), then the grader's resume run of it, whose numbers go to the
    feedback's picture."""
    ckpt, found = crash_checkpoint(files)
    if ckpt is None:
        return found
    problems, ratio, curves = resume_advantage(ckpt, ASSIGNMENT.files_of("crash")[0].path, data()[0], files.device)
    found.notes.append(f"resumed with its Adam state, the first epoch's loss is {ratio:.2f}x lower than with a fresh Adam")
    return Found(found.problems + problems, found.notes, {
        "epoch": ckpt["epoch"], "loss": loss_value(ckpt["loss"]), **{k: [round(x, 5) for x in v] for k, v in curves.items()}})


# --- the optional RNG extension, in the kernel after the notebook (0 points) ---------------------

def bit_identical_resume(history_after, train_set, rel=ASSIGNMENT.files_of("crash")[0].path):
    """Problems when a checkpoint carrying the RNG state (the optional extension) does not resume
    bit-identically: on the CPU, the first resumed epoch recomputed from the checkpoint on the
    notebook's own `train_set` (what its resume trained on; the kernel needs no second copy of
    the data) must give exactly the student's loss. On a GPU, dropout draws from the CUDA
    generator, which torch.get_rng_state() does not hold, so there the tolerance of `live_run.continuity`
    applies alone."""
    ckpt, refused = load(rel, limits=ASSIGNMENT.checkpoint_limits)
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
        expected = train_one_epoch(model, optimizer, make_loader(train_set, ckpt["epoch"] + 1))
    finally:
        torch.set_rng_state(kept)
    if expected != history_after[0]:
        return [problem("not_bit_identical", epoch=ckpt["epoch"] + 1, expected=expected, found=history_after[0])]
    return []
