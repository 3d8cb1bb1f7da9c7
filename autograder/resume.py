"""Resume: does the checkpoint's optimizer state actually help training continue?

The student's crash checkpoint is resumed twice for one epoch on the grading data: once with its
Adam state, once with a fresh Adam. Both runs share the seed (dropout masks) and data order, so
they differ only in the optimizer state. Measured on this lesson's model: the fresh-Adam epoch
loss is 1.19x-1.37x the restored one over 9 dropout streams (tests/benchmark_streams.py), while
dropout noise alone moves an epoch's loss by up to 12 %, which is why the two runs share one.
"""

import torch

from .feedback import problem
from .reference import MNISTModel, make_loader, train_one_epoch

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
