"""Resume: does the checkpoint's optimizer state actually help training continue?

The student's crash checkpoint is resumed twice for one epoch on the grading data: once with its
Adam state, once with a fresh Adam. Both runs share the seed (dropout masks) and data order, so
they differ only in the optimizer state. Measured on this lesson's model (CPU, three seeds): the
fresh-Adam epoch loss is 1.18x-1.37x the restored one; dropout noise alone moves an epoch's loss
by up to 12 %, which is why the two runs must share one random stream.
"""

import torch

from .feedback import problem
from .reference import MNISTModel, make_loader, train_one_epoch

ADVANTAGE_THRESHOLD = 1.08  # below the smallest measured effect (1.18), above noise with a shared stream
SEED = 1234


def resumed_epoch_loss(ckpt, train_set, device, with_optimizer_state):
    model = MNISTModel().to(device)
    model.load_state_dict(ckpt["model_state_dict"])
    lr = ckpt["optimizer_state_dict"]["param_groups"][0]["lr"]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    if with_optimizer_state:
        optimizer.load_state_dict(ckpt["optimizer_state_dict"])
    torch.manual_seed(SEED)
    return train_one_epoch(model, optimizer, make_loader(train_set, SEED), device)


def resume_advantage(ckpt, name, train_set, device):
    """(problems, ratio): fresh-Adam loss over restored-Adam loss for the first resumed epoch."""
    restored = resumed_epoch_loss(ckpt, train_set, device, True)
    fresh = resumed_epoch_loss(ckpt, train_set, device, False)
    ratio = fresh / restored
    if ratio < ADVANTAGE_THRESHOLD:
        return [problem("no_resume_advantage", name=name, ratio=ratio,
                        threshold=ADVANTAGE_THRESHOLD)], ratio
    return [], ratio
