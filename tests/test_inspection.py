"""Inspect: keys, shapes, epoch, loss and Adam state of loaded checkpoints."""

import torch

from autograder.codes import Found
from autograder.saving_and_loading.inspection import inspect_checkpoint, inspect_state_dict
from autograder.saving_and_loading.model import MNISTModel
from crafted import trained_checkpoint


def codes(found):
    return [p.code for p in (found.problems if isinstance(found, Found) else found)]


def test_valid_checkpoint_and_state_dict():
    ckpt, _ = trained_checkpoint()
    assert inspect_checkpoint(ckpt, "c.pth", epoch=1) == Found()
    assert inspect_state_dict(ckpt["model_state_dict"], "m.pth") == []


def test_shape_mismatch_names_the_layer():
    [p] = inspect_state_dict(MNISTModel(hidden1=512).state_dict(), "m.pth")[:1]
    assert p.code == "shape_mismatch" and "fc1.weight: expected [256, 784], found [512, 784]" in p.message


def test_missing_and_unexpected_keys():
    sd = MNISTModel().state_dict()
    sd["extra.weight"] = sd.pop("fc3.weight")
    [p] = inspect_state_dict(sd, "m.pth")
    assert p.code == "state_dict_keys" and "fc3.weight" in p.message and "extra.weight" in p.message


def test_checkpoint_problems():
    ckpt, loss = trained_checkpoint()
    assert codes(inspect_checkpoint({k: v for k, v in ckpt.items() if k != "epoch"}, "c")) == ["missing_keys"]
    assert codes(inspect_checkpoint({k: v for k, v in ckpt.items() if k != "optimizer_state_dict"}, "c")) == ["no_optimizer_state"]
    assert codes(inspect_checkpoint({**ckpt, "loss": float("nan")}, "c")) == ["bad_loss"]
    assert codes(inspect_checkpoint({**ckpt, "epoch": 3}, "c", epoch=5)) == ["bad_epoch"]
    assert codes(inspect_checkpoint({**ckpt, "epoch": 5.0}, "c")) == ["bad_epoch"]
    assert codes(inspect_checkpoint([1, 2], "c")) == ["not_a_dict"]


def test_tensor_loss_with_grad_is_accepted_with_a_hint():
    ckpt, loss = trained_checkpoint()
    found = inspect_checkpoint({**ckpt, "loss": loss}, "c")
    assert found.ok and "loss.item()" in found.notes[0]


def test_fresh_optimizer_state_has_no_moments():
    model = MNISTModel()
    ckpt = {"epoch": 1, "model_state_dict": model.state_dict(), "loss": 0.5,
            "optimizer_state_dict": torch.optim.Adam(model.parameters()).state_dict()}
    assert codes(inspect_checkpoint(ckpt, "c")) == ["no_optimizer_state"]


def test_optimizer_of_another_model():
    ckpt, _ = trained_checkpoint()
    other, _ = trained_checkpoint()
    small = torch.nn.Linear(784, 10)
    opt = torch.optim.Adam(small.parameters())
    small(torch.randn(2, 784)).sum().backward()
    opt.step()
    assert codes(inspect_checkpoint({**ckpt, "optimizer_state_dict": opt.state_dict()}, "c")) == ["optimizer_state"]
