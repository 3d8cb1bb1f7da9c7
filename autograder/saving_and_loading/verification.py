"""Verify: the numbers a checkpoint records must be the numbers its own weights produce.

A hand-made or edited checkpoint (a made-up 'val_loss', weights from elsewhere) fails here.
"""

from .messages import problem
from .model import MNISTModel, evaluate, make_loader
from .recorded import loss_value

# Validation loss is recorded in eval mode, so it can be recomputed: only float summation order
# (CPU vs GPU, mean of batch means vs mean over examples, measured < 1 %) separates the two.
VAL_LOSS_TOLERANCE = 0.05
# The training 'loss' is recorded in train mode while the weights move (a mean or the last
# batch), so it is only bounded: measured on two seeded runs, the final weights' eval-mode loss on
# the training set is 0.16x-0.36x the epoch's mean and 0.6x-1.6x its smallest batch loss. A
# recorded loss under half the eval-mode loss, or far above it, is not from these weights.
TRAIN_LOSS_FLOOR = 0.5
TRAIN_LOSS_CEILING = 10  # times (eval-mode loss + 0.05)


def model_from(state_dict, device):
    model = MNISTModel().to(device)
    model.load_state_dict(state_dict)
    return model


def verify_val_loss(ckpt, name, val_set, device, key="val_loss"):
    recorded = loss_value(ckpt[key])
    recomputed = evaluate(model_from(ckpt["model_state_dict"], device), make_loader(val_set), device)
    if abs(recorded - recomputed) > VAL_LOSS_TOLERANCE * recomputed:
        return [problem("loss_mismatch", name=name, key=f"'{key}'", recorded=recorded,
                        recomputed=recomputed)]
    return []


def verify_train_loss(ckpt, name, train_set, device):
    recorded = loss_value(ckpt["loss"])
    recomputed = evaluate(model_from(ckpt["model_state_dict"], device), make_loader(train_set), device)
    if not TRAIN_LOSS_FLOOR * recomputed <= recorded <= TRAIN_LOSS_CEILING * (recomputed + 0.05):
        return [problem("loss_mismatch", name=name, key="'loss'", recorded=recorded,
                        recomputed=recomputed)]
    return []


def fingerprint(obj, saved_on=None):
    """What a re-run must reproduce (the core's reproduction.py compares two): the keys, and the
    epoch and losses it records; and the device types it was saved from, which decide how much
    of it a re-run can reproduce. On another kind of device (a Colab GPU, graded on a CPU) the
    run draws another dropout stream (the GPU has its own generator): tests/benchmark_streams.py
    measured training losses moving up to 25 %, validation losses 12.5 %, and the best epoch
    changing in 2 of 8 streams, so only the keys are compared then."""
    if not isinstance(obj, dict):
        return {"type": type(obj).__name__}
    fp = {"keys": sorted(map(str, obj))}
    fp.update({k: obj[k] for k in ("epoch",) if type(obj.get(k)) is int})
    fp.update({k: loss_value(obj[k]) for k in ("loss", "val_loss") if k in obj})
    if saved_on is not None:
        fp["saved_on"] = saved_on
    return fp
