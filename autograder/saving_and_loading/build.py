"""What only this lesson's autograder and release get besides the master: the two MNIST
test-split files (1.6 MB, so grading never touches the network) and gpu_checkpoint.pth, the
lesson's map_location example."""

import shutil
import zipfile
from pathlib import Path

import torch

from .model import gpu_example, mnist_files

GPU_CHECKPOINT = "gpu_checkpoint.pth"


def save_as_on_gpu(obj, f):
    """torch.save(obj, f) with every storage tagged cuda:0, as a GPU run saves it, on any machine."""
    real_tag = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(obj, f)
    finally:
        torch.serialization.location_tag = real_tag


def write_gpu_checkpoint(path):
    """The lesson's map_location example, saved as on a GPU."""
    save_as_on_gpu(gpu_example(), path)


def same_state_dict(a, b):
    """Equal tensors and device tags: torch.save output differs byte-wise between runs."""
    if not (Path(a).exists() and Path(b).exists()):
        return False
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        tags = lambda z: z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
        if tags(za) != tags(zb):
            return False
    x, y = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def stage(staged, build_dir, committed):
    """Put data/ (the master's autograder_files) beside the staged master, and return the files the
    release and the autograder zip's files/ get: gpu_checkpoint.pth."""
    raw = staged / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in mnist_files("t10k").values():  # verified (md5) in the data root or downloaded into ./data
        shutil.copy(gz, raw / gz.name)
    # Keep the committed file when equal: torch.save embeds a random id, and the release is
    # compared with a fresh build byte for byte.
    write_gpu_checkpoint(build_dir / "fresh.pth")
    keep = committed / GPU_CHECKPOINT
    shutil.copy(keep if same_state_dict(keep, build_dir / "fresh.pth") else build_dir / "fresh.pth",
                build_dir / GPU_CHECKPOINT)
    return [build_dir / GPU_CHECKPOINT]
