"""The lesson's model and data: the MNIST MLP, the canonical data split and one epoch of training.

The student notebook defines the same model, split and loops in its own cells (students must see
them); tests/test_model.py checks that the notebook and this module agree, so the grader's
numbers are the student's numbers.
"""

import os
import shutil
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torchvision.datasets import MNIST
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import check_integrity, download_url, extract_archive

from . import BATCH_SIZE, DATA_ENV, SPLIT_SEED, SPLIT_SIZES


class MNISTModel(nn.Module):
    """784-256-128-10 MLP with batch norm and dropout: the model of the MNIST project."""

    def __init__(self, hidden1=256, hidden2=128, dropout=0.2):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden1)
        self.bn1 = nn.BatchNorm1d(hidden1)
        self.fc2 = nn.Linear(hidden1, hidden2)
        self.bn2 = nn.BatchNorm1d(hidden2)
        self.fc3 = nn.Linear(hidden2, 10)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = x.view(-1, 784)
        x = self.dropout(F.relu(self.bn1(self.fc1(x))))
        x = self.dropout(F.relu(self.bn2(self.fc2(x))))
        return self.fc3(x)


def gpu_example():
    """The state_dict gpu_checkpoint.pth holds, the lesson's map_location example: an untrained
    MNISTModel's from seed 0 (as the notebook makes it when the file is absent), so the grader
    knows it without reading a file the notebook could rewrite."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return MNISTModel().state_dict()


def data_root():
    """The folder that holds MNIST/raw/: $MNIST_DATA_ROOT, else ./data."""
    return Path(os.environ.get(DATA_ENV, "data"))


def mnist_files(split="t10k", root=None, cache="data"):
    """{file name: verified .gz} of one official MNIST split ("t10k" or "train"): each from `root`
    (which may be a read-only shared folder), else from `cache`, else downloaded into `cache` from
    torchvision's mirrors. Offline, the error names every missing file."""
    src, raw = Path(root or data_root()) / "MNIST" / "raw", Path(cache) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    files, missing = {}, []
    for filename, md5 in [r for r in MNIST.resources if r[0].startswith(split)]:
        found = [d / filename for d in (src, raw) if check_integrity(d / filename, md5)]
        for mirror in [] if found else MNIST.mirrors:
            try:
                download_url(mirror + filename, raw, filename=filename, md5=md5)
                found = [raw / filename]
                break
            except (OSError, RuntimeError):
                continue
        if found:
            files[filename] = found[0]
        else:
            missing.append(f"{filename} (md5 {md5})")
    if missing:
        raise FileNotFoundError(
            f"MNIST files missing and not downloadable (offline?): {', '.join(missing)}. Put them into "
            f"{src.resolve()}/, or set {DATA_ENV} to the folder that holds MNIST/raw/."
        )
    return files


def mnist_split(split="t10k", root=None, cache="data"):
    """One official MNIST split: (uint8 images N x 28 x 28, labels), from its files (mnist_files)
    copied into a private temporary folder, verified there and unpacked there. Nothing unpacked
    beside them is read: when the grader reads the split, ./data is the graded notebook's folder,
    which the student's kernel could write."""
    md5 = dict(MNIST.resources)
    with tempfile.TemporaryDirectory() as private:
        for name, gz in mnist_files(split, root, cache).items():
            copy = shutil.copy(gz, private)  # what is verified is what is read
            if not check_integrity(copy, md5[name]):
                raise FileNotFoundError(f"{gz} changed while it was read: it no longer matches md5 {md5[name]}.")
            extract_archive(copy, private)
        return (
            read_image_file(os.path.join(private, f"{split}-images-idx3-ubyte")),
            read_label_file(os.path.join(private, f"{split}-labels-idx1-ubyte")),
        )


def canonical_splits(root=None):
    """(train, val, test) TensorDatasets: the test split cut 8k / 1k / 1k with a fixed seed."""
    images, labels = mnist_split("t10k", root)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_train, n_val, _ = SPLIT_SIZES
    parts = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    # the notebook's ((images.float() / 255) - 0.1307) / 0.3081, element for element, but split
    # first and in place: no float copy of the whole set and no temporaries beside the three parts
    return tuple(TensorDataset(images[idx].float().div_(255).sub_(0.1307).div_(0.3081), labels[idx]) for idx in parts)


def make_loader(dataset, shuffle_seed=None):
    """Batches of 64; a shuffle seed fixes the data order so runs can be compared."""
    generator = None if shuffle_seed is None else torch.Generator().manual_seed(shuffle_seed)
    return DataLoader(dataset, BATCH_SIZE, shuffle=shuffle_seed is not None, generator=generator)


def train_one_epoch(model, optimizer, loader, device="cpu", batch_losses=None):
    """One pass over `loader` in train mode; returns the mean batch loss (and appends each batch's
    loss to `batch_losses`, when given, for the feedback's loss curve)."""
    model.train()
    total = 0.0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        batch_loss = loss.item()
        total += batch_loss
        if batch_losses is not None:
            batch_losses.append(batch_loss)
    return total / len(loader)


@torch.no_grad()
def evaluate(model, loader, device="cpu"):
    """Mean cross-entropy over every example of `loader`, in eval mode."""
    model.eval()
    total, n = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        total += F.cross_entropy(model(x), y, reduction="sum").item()
        n += len(y)
    return total / n
