"""Inspect: is a loaded object the state_dict or checkpoint this lesson asks for?

Shapes come from the reference MNISTModel built on the meta device (no memory, no data).
"""

import math

import torch

from .feedback import problem
from .reference import MNISTModel

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
    """(problems, notes) for a checkpoint dict; `epoch` is the epoch it must record, if known.

    With `steps_per_epoch`, Adam's step count must be epoch x steps_per_epoch: an optimizer
    state saved at another time (stale) still damps a restart, so only its step count gives it away.
    """
    if not isinstance(ckpt, dict):
        return [problem("not_a_dict", name=name, detail=type(ckpt).__name__)], []
    missing = [k for k in CHECKPOINT_KEYS + tuple(extra_keys) if k not in ckpt]
    if missing:
        if "model_state_dict" in ckpt and "optimizer_state_dict" in missing:
            return [problem("no_optimizer_state", name=name)], []
        return [problem("missing_keys", name=name, detail=", ".join(map(repr, missing)))], []
    problems, notes = inspect_state_dict(ckpt["model_state_dict"], name), []
    e = ckpt["epoch"]
    if type(e) is not int or not 0 <= e <= MAX_EPOCH or (epoch is not None and e != epoch):
        problems.append(problem("bad_epoch", name=name, expected=epoch if epoch is not None
                                else f"in 0..{MAX_EPOCH}", detail=repr(e)))
    for key in ("loss",) + tuple(k for k in extra_keys if "loss" in k):
        if loss_value(ckpt[key]) is None:
            problems.append(problem("bad_loss", name=name, detail=repr(ckpt[key])[:60]))
        elif isinstance(ckpt[key], torch.Tensor):
            notes.append(problem("tensor_loss", name=name).message)
    if not problems:
        problems += inspect_optimizer(ckpt["optimizer_state_dict"], ckpt["model_state_dict"], name)
    if not problems and steps_per_epoch:
        steps = adam_steps(ckpt["optimizer_state_dict"])
        if steps != [e * steps_per_epoch]:
            problems.append(problem("stale_optimizer_state", name=name, found=steps[0],
                                    expected=e * steps_per_epoch, epoch=e))
    return problems, notes


def kind_of(obj):
    if isinstance(obj, dict) and "model_state_dict" in obj:
        return "checkpoint"
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return "state_dict"
    return "unknown"


def describe(path, device="cpu"):
    """The TA's view of one file: {path, ok, kind, problems: [{code, message}], notes}."""
    from .load import load

    obj, refused = load(path, device)
    kind, notes = ("unknown", []) if refused else (kind_of(obj), [])
    if refused:
        problems = [refused]
    elif kind == "checkpoint":
        extra = tuple(k for k in ("val_loss",) if k in obj)
        problems, notes = inspect_checkpoint(obj, str(path), extra_keys=extra)
    elif kind == "state_dict":
        problems = inspect_state_dict(obj, str(path))
    else:
        problems = [problem("not_a_dict", name=str(path), detail=type(obj).__name__)]
    return {"path": str(path), "ok": not problems, "kind": kind, "notes": notes,
            "problems": [{"code": p.code, "message": p.message} for p in problems]}
