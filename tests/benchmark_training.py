"""Benchmark: the lesson's training loop against this machine's limit and the usual MNIST pipeline.

    MNIST_DATA_ROOT=... .venv/bin/python tests/benchmark_training.py

Side by side in one run, on one thread (the notebook sets torch.set_num_threads(1)):
- the sgemm roofline: the best rate of torch.mm on square matrices, divided by the FLOPs of one
  sample's forward and backward pass (counted by torch.utils.flop_counter), in samples/s;
- the matrix products alone: the same products at the lesson's batch of 64, back to back;
- the lesson's epoch (model.make_loader over the TensorDataset, model.train_one_epoch), and where it
  goes: the loader (the epoch again over batches collated beforehand), Adam's step (that again
  without optimizer.step), the rest (forward and backward, batch norm, dropout's masks);
- the conventional pipeline: torchvision's MNIST dataset (a PIL image per sample, ToTensor,
  Normalize) over the same number of images (8,000), DataLoader with batch 64, the same model and step.
Each epoch figure is the median of three epochs. Targets (issue 13): the lesson's epoch at >= 10x
the conventional pipeline and >= 30 % of the roofline, or the measured reason why not.
"""

import statistics
import sys
import tempfile
import timeit
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms
from torchvision.datasets import MNIST
from torchvision.datasets.utils import extract_archive

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder.saving_and_loading import BATCH_SIZE, LR  # noqa: E402
from autograder.saving_and_loading.model import MNISTModel, canonical_splits, make_loader, mnist_files, train_one_epoch  # noqa: E402

REPEATS = 3


def median_seconds(fn, repeats=REPEATS):
    return statistics.median(timeit.repeat(fn, number=1, repeat=repeats))


def sgemm_gflops():
    """The best single-thread sgemm rate over a few square sizes (GFLOP/s)."""
    best = 0.0
    for n in (256, 512, 1024):
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        best = max(best, 2 * n**3 * 10 / median_seconds(lambda: [a @ b for _ in range(10)]) / 1e9)
    return best


def flops_per_sample(model):
    """Forward and backward FLOPs of one training sample, as torch's flop counter counts them."""
    x, y = torch.randn(BATCH_SIZE, 784), torch.randint(0, 10, (BATCH_SIZE,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad()
    return counter.get_total_flops() / BATCH_SIZE


def products_alone_seconds(model, steps):
    """One epoch's matrix products at batch 64, without the rest: each Linear's forward product,
    its weight gradient and (beyond the first layer) its input gradient."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    operands = []
    for i, layer in enumerate(layers):
        x, w = torch.randn(BATCH_SIZE, layer.in_features), layer.weight.detach()
        g = torch.randn(BATCH_SIZE, layer.out_features)
        operands += [(x, w.t()), (g.t(), x)] + ([(g, w)] if i else [])

    def epoch():
        for _ in range(steps):
            for a, b in operands:
                a @ b
    return median_seconds(epoch)


def step(model, optimizer, x, y, update=True):
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    if update:
        optimizer.step()


def conventional_loader(indices, cache):
    """torchvision's dataset as MNIST tutorials use it: PIL image -> ToTensor -> Normalize."""
    raw = Path(cache, "MNIST", "raw")  # made by mnist_files
    for gz in mnist_files("t10k", cache=cache).values():  # the verified test files, unpacked where MNIST reads them
        extract_archive(str(gz), str(raw))
    # MNIST() checks that both splits are there, but train=False reads only the test split, the one
    # this machine has: empty stand-ins for the training files pass the check
    for filename, _ in MNIST.resources:
        (raw / filename[:-3]).touch(exist_ok=True)
    dataset = MNIST(cache, train=False, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]))
    return DataLoader(Subset(dataset, indices), BATCH_SIZE, shuffle=True,
                      generator=torch.Generator().manual_seed(1))


def run():
    """The figures, as a dict of numbers (samples/s, seconds per epoch, ratios)."""
    torch.set_num_threads(1)
    train_set, _, _ = canonical_splits()
    n, steps = len(train_set), len(make_loader(train_set, 1))
    torch.manual_seed(0)
    model = MNISTModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    per_sample = flops_per_sample(model)
    gflops = sgemm_gflops()

    epoch = median_seconds(lambda: train_one_epoch(model, optimizer, make_loader(train_set, 1)))
    batches = list(make_loader(train_set, 1))
    model.train()
    no_loader = median_seconds(lambda: [step(model, optimizer, x, y) for x, y in batches])
    no_adam = median_seconds(lambda: [step(model, optimizer, x, y, update=False) for x, y in batches])
    products = products_alone_seconds(model, steps)

    with tempfile.TemporaryDirectory() as cache:
        loader = conventional_loader(range(n), cache)  # as many images; which ones does not change the speed
        conventional = median_seconds(lambda: train_one_epoch(model, optimizer, loader))

    roofline = gflops * 1e9 / per_sample
    return {
        "threads": torch.get_num_threads(),
        "samples_per_epoch": n,
        "flops_per_sample": per_sample,
        "sgemm_gflops": gflops,
        "roofline_samples_s": roofline,
        "products_alone_samples_s": n / products,
        "lesson_samples_s": n / epoch,
        "lesson_epoch_s": epoch,
        "lesson_split_s": {"loader": epoch - no_loader, "adam_step": no_loader - no_adam,
                           "matrix_products": products, "rest_of_forward_backward": no_adam - products},
        "conventional_samples_s": n / conventional,
        "conventional_epoch_s": conventional,
        "lesson_over_conventional": conventional / epoch,
        "lesson_share_of_roofline": n / epoch / roofline,
        "lesson_share_of_products": products / epoch,
    }


def rows(f):
    """(measure, value) lines for the report."""
    split = ", ".join(f"{k.replace('_', ' ')} {1000 * v:.0f} ms" for k, v in f["lesson_split_s"].items())
    return [
        ("FLOPs of one sample, forward + backward", f"{f['flops_per_sample'] / 1e6:.2f} MFLOP"),
        ("sgemm roofline, one thread", f"{f['sgemm_gflops']:.0f} GFLOP/s = {f['roofline_samples_s']:,.0f} samples/s"),
        ("the matrix products alone, batch 64", f"{f['products_alone_samples_s']:,.0f} samples/s"),
        ("the lesson's epoch (TensorDataset, DataLoader, Adam)",
         f"{f['lesson_samples_s']:,.0f} samples/s ({f['lesson_epoch_s']:.3f} s for {f['samples_per_epoch']:,}): "
         f"{f['lesson_share_of_roofline']:.0%} of the roofline (target 30 %), "
         f"{f['lesson_share_of_products']:.0%} of the products' rate at batch 64"),
        ("  where that epoch goes", split),
        ("conventional pipeline (PIL, ToTensor, Normalize, DataLoader)",
         f"{f['conventional_samples_s']:,.0f} samples/s ({f['conventional_epoch_s']:.3f} s)"),
        ("lesson / conventional", f"{f['lesson_over_conventional']:.1f}x (target 10x)"),
    ]


if __name__ == "__main__":
    for measure, value in rows(run()):
        print(f"{measure:62s} {value}")
