"""Inspect: is a loaded object the state_dict or checkpoint this lesson asks for?

Shapes come from the lesson's MNISTModel built on the meta device (no memory, no data). Also the
TA's view of one file (`describe`, for `python -m autograder inspect`).
"""

import torch

from ..codes import Found
from ..load import load
from . import ASSIGNMENT
from .messages import problem
from .model import MNISTModel
from .recorded import adam_steps, loss_value

CHECKPOINT_KEYS = ("epoch", "model_state_dict", "optimizer_state_dict", "loss")
MAX_EPOCH = 1000


def reference_shapes():
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in MNISTModel().state_dict().items()}


def inspect_state_dict(sd, name):
    """Problems with a model state_dict: keys and shapes against the lesson's architecture."""
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        return [problem("not_a_dict", name=name, detail=type(sd).__name__)]
    expected = reference_shapes()
    missing, extra = sorted(set(expected) - set(sd)), sorted(set(sd) - set(expected))
    if missing or extra:
        detail = "; ".join(
            f"{label}: {', '.join(keys)}" for label, keys in (("missing", missing), ("unexpected", extra)) if keys
        )
        return [problem("state_dict_keys", name=name, detail=detail)]
    return [
        problem("shape_mismatch", name=name,
                detail=f"{k}: expected {list(expected[k])}, found {list(sd[k].shape)}")
        for k in expected
        if tuple(sd[k].shape) != expected[k]
    ]


def inspect_optimizer(opt_sd, model_sd, name):
    """Adam's state: one entry per parameter with step, exp_avg, exp_avg_sq and a non-zero step."""
    if not isinstance(opt_sd, dict) or "state" not in opt_sd or "param_groups" not in opt_sd:
        return [problem("optimizer_state", name=name, detail="not an optimizer.state_dict()")]
    state = opt_sd["state"]
    params = [k for k, v in model_sd.items() if v.is_floating_point() and "running" not in k]
    if not state or not all(isinstance(s, dict) and "exp_avg" in s for s in state.values()):
        return [problem("no_optimizer_state", name=name)]
    if len(state) != len(params):
        return [problem("optimizer_state", name=name,
                        detail=f"{len(state)} parameter states for {len(params)} parameters")]
    shapes = sorted(tuple(model_sd[k].shape) for k in params)
    found = sorted(tuple(s["exp_avg"].shape) for s in state.values())
    if found != shapes or any(s["exp_avg_sq"].shape != s["exp_avg"].shape for s in state.values()):
        return [problem("optimizer_state", name=name, detail="moment shapes do not match the model")]
    if any(float(s.get("step", 0)) <= 0 for s in state.values()):
        return [problem("optimizer_state", name=name, detail="step is 0: no training step was taken")]
    return []


def inspect_checkpoint(ckpt, name, epoch=None, extra_keys=(), steps_per_epoch=None):
    """What a checkpoint dict holds that it should not, or lacks; `epoch` is the epoch it must
    record, if known.

    With `steps_per_epoch`, Adam's step count must be epoch x steps_per_epoch: an optimizer
    state saved at another time (stale) still damps a restart, so only its step count gives it away.

    Returns:
        Found: problems, and notes (a tensor loss loads, with a hint).
    """
    if not isinstance(ckpt, dict):
        return Found([problem("not_a_dict", name=name, detail=type(ckpt).__name__)])
    missing = [k for k in CHECKPOINT_KEYS + tuple(extra_keys) if k not in ckpt]
    if missing:
        if "model_state_dict" in ckpt and "optimizer_state_dict" in missing:
            return Found([problem("no_optimizer_state", name=name)])
        return Found([problem("missing_keys", name=name, detail=", ".join(map(repr, missing)))])
    found = Found(inspect_state_dict(ckpt["model_state_dict"], name))
    e = ckpt["epoch"]
    if type(e) is not int or not 0 <= e <= MAX_EPOCH or (epoch is not None and e != epoch):
        found.problems.append(problem("bad_epoch", name=name, expected=epoch if epoch is not None
                                      else f"in 0..{MAX_EPOCH}", detail=repr(e)))
    for key in ("loss",) + tuple(k for k in extra_keys if "loss" in k):
        if loss_value(ckpt[key]) is None:
            found.problems.append(problem("bad_loss", name=name, detail=repr(ckpt[key])[:60]))
        elif isinstance(ckpt[key], torch.Tensor):
            found.notes.append(problem("tensor_loss", name=name).message)
    if found.ok:
        found.problems += inspect_optimizer(ckpt["optimizer_state_dict"], ckpt["model_state_dict"], name)
    if found.ok and steps_per_epoch:
        steps = adam_steps(ckpt["optimizer_state_dict"])
        if steps != [e * steps_per_epoch]:
            found.problems.append(problem("stale_optimizer_state", name=name, found=steps[0],
                                          expected=e * steps_per_epoch, epoch=e))
    return found


def kind_of(obj):
    if isinstance(obj, dict) and "model_state_dict" in obj:
        return "checkpoint"
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return "state_dict"
    return "unknown"


def describe(path, device="cpu"):
    """The TA's view of one file: {path, ok, kind, problems: [{code, message}], notes}."""
    obj, refused = load(path, device, limits=ASSIGNMENT.checkpoint_limits)
    kind = "unknown" if refused else kind_of(obj)
    if refused:
        found = Found([refused])
    elif kind == "checkpoint":
        found = inspect_checkpoint(obj, str(path), extra_keys=tuple(k for k in ("val_loss",) if k in obj))
    elif kind == "state_dict":
        found = Found(inspect_state_dict(obj, str(path)))
    else:
        found = Found([problem("not_a_dict", name=str(path), detail=type(obj).__name__)])
    return {"path": str(path), "ok": found.ok, "kind": kind, "notes": found.notes,
            "problems": [{"code": p.code, "message": p.message} for p in found.problems]}
