"""The notebook and the lesson's model module define the same model, data split and data loading,
with the batch size the declaration states."""

import nbformat
import torch

from autograder import build
from autograder.assignment import get
from autograder.saving_and_loading import BATCH_SIZE
from autograder.saving_and_loading import model as reference


def notebook_namespace():
    """Run the release notebook's definition cells (imports, data, model, loaders) only."""
    a = get()
    nb = nbformat.read(build.release_of(a) / a.notebook, as_version=4)
    wanted = ("import copy", "def mnist_split", "class MNISTModel", "def make_loader")
    ns = {}
    exec("import os, sys, subprocess\nfrom pathlib import Path", ns)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(wanted) or "def mnist_split" in cell.source:
            exec(cell.source, ns)
    return ns


def test_notebook_and_reference_agree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = notebook_namespace()
    with torch.device("meta"):
        got = {k: v.shape for k, v in ns["MNISTModel"]().state_dict().items()}
    from autograder.saving_and_loading.inspection import reference_shapes

    assert got == {k: torch.Size(v) for k, v in reference_shapes().items()}
    train, val, test = reference.canonical_splits()
    for mine, theirs in zip((train, val, test), (ns["train_set"], ns["val_set"], ns["test_set"])):
        assert torch.equal(mine.tensors[0], theirs.tensors[0]) and torch.equal(mine.tensors[1], theirs.tensors[1])
    losses = []
    for model_class, train_one_epoch, make_loader, data in (
        (reference.MNISTModel, reference.train_one_epoch, reference.make_loader, val),
        (ns["MNISTModel"], ns["train_one_epoch"], ns["make_loader"], ns["val_set"]),
    ):
        torch.manual_seed(0)
        model = model_class()
        losses.append(train_one_epoch(model, torch.optim.Adam(model.parameters()), make_loader(data, 1)))
    assert losses[0] == losses[1]
    assert ns["make_loader"](ns["val_set"]).batch_size == BATCH_SIZE

