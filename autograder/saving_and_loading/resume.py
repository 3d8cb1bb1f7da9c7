"""Resume: does training continue from the crash checkpoint as if it never stopped?

Two sides of Exercise 3:
- the grader resumes the student's crash checkpoint twice for one epoch on the grading data: once
  with its Adam state, once with a fresh Adam. Both runs share the seed (dropout masks) and data
  order, so they differ only in the optimizer state. Measured on this lesson's model: the
  fresh-Adam epoch loss is 1.19x-1.37x the restored one over 9 dropout streams
  (tests/benchmark_streams.py), while dropout noise alone moves an epoch's loss by up to 12 %,
  which is why the two runs share one. Runs before the notebook (checks.py).
- the student's own resumed run, tested in the kernel after the notebook (hidden.py): its loss
  history around the crash, its resumed Adam's step count, and, with the optional RNG extension,
  whether the resume is bit-identical.
"""

import torch

from ..codes import Found
from ..load import load
from . import STEPS_PER_EPOCH
from .filechecks import crash_checkpoint, data, files_of
from .messages import problem
from .model import MNISTModel, make_loader, train_one_epoch
from .recorded import adam_steps, loss_value

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


def check_crash(files):
    """The crash checkpoint's file check, then the grader's resume run of it (the student's
    self-check stops at the file); its numbers go to the feedback's picture."""
    ckpt, found = crash_checkpoint(files)
    if ckpt is None:
        return found
    problems, ratio, curves = resume_advantage(ckpt, files_of("crash")[0].path, data()[0], files.device)
    files.plot = {"epoch": ckpt["epoch"], "loss": loss_value(ckpt["loss"]),
                  **{k: [round(x, 5) for x in v] for k, v in curves.items()}}
    found.notes.append(f"resumed with its Adam state, the first epoch's loss is {ratio:.2f}x lower than with a fresh Adam")
    return Found(found.problems + problems, found.notes)


# --- the student's resumed run, in the kernel after the notebook ---------------------------------

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


def bit_identical_resume(history_after, train_set, rel=files_of("crash")[0].path):
    """Problems when a checkpoint carrying the RNG state (the optional extension) does not resume
    bit-identically: on the CPU, the first resumed epoch recomputed from the checkpoint on the
    notebook's own `train_set` (what its resume trained on; the kernel needs no second copy of
    the data) must give exactly the student's loss. On a GPU, dropout draws from the CUDA
    generator, which torch.get_rng_state() does not hold, so there the tolerance of `continuity`
    applies alone."""
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
        expected = train_one_epoch(model, optimizer, make_loader(train_set, ckpt["epoch"] + 1))
    finally:
        torch.set_rng_state(kept)
    if expected != history_after[0]:
        return [problem("not_bit_identical", epoch=ckpt["epoch"] + 1, expected=expected, found=history_after[0])]
    return []
