"""What a checkpoint records, read as plain values: its loss as a float, Adam's step counts. The
inspection, verification and resume stages all read them this way."""

import math

import torch


def loss_value(loss):
    """The recorded loss as a float, or None when it is not a finite scalar."""
    if isinstance(loss, torch.Tensor):
        loss = loss.item() if loss.numel() == 1 else None
    if isinstance(loss, (int, float)) and not isinstance(loss, bool) and math.isfinite(loss):
        return float(loss)
    return None


def adam_steps(opt_sd):
    """The distinct step counts in an Adam state_dict, sorted: one value when all parameters agree."""
    return sorted({int(s["step"]) for s in opt_sd["state"].values()})
