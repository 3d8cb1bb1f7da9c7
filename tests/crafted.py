"""A catalogue of crafted checkpoint files, written on demand into a folder."""

import io
import os
import zipfile

import numpy as np
import torch

from autograder.saving_and_loading.build import write_gpu_checkpoint
from autograder.saving_and_loading.model import MNISTModel

CANARY = "payload-ran.txt"


class Payload:
    """Would create CANARY if unpickled by a full unpickler."""

    def __reduce__(self):
        return (os.system, (f"touch {CANARY}",))


class OpenPayload:
    """Would create CANARY with open() (pickled as io.open) if unpickled by a full unpickler."""

    def __reduce__(self):
        return (open, (CANARY, "w"))


def trained_checkpoint(steps=3, **extra):
    """A real checkpoint after a few Adam steps on random data."""
    torch.manual_seed(0)
    model = MNISTModel()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.randn(8, 784)), torch.randint(0, 10, (8,)))
        loss.backward()
        opt.step()
    ckpt = {"epoch": 1, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
            "loss": loss.item()}
    ckpt.update(extra)
    return ckpt, loss


def write_all(folder):
    """{name: path} for every crafted file."""
    ckpt, loss = trained_checkpoint()
    objects = {
        "state_dict": ckpt["model_state_dict"],
        "checkpoint": ckpt,
        "whole_model": MNISTModel(),
        "state_dict_method": MNISTModel().state_dict,
        "payload": {"x": Payload()},
        "payload_beside_a_model": {"model": torch.nn.Linear(2, 2), "x": Payload()},
        "payload_open": {**ckpt, "x": OpenPayload()},
        "numpy_loss": {**ckpt, "loss": np.float32(0.5)},
        "tensor_loss_with_grad": {**ckpt, "loss": loss},
        "nan_loss": {**ckpt, "loss": float("nan")},
        "missing_keys": {k: v for k, v in ckpt.items() if k != "epoch"},
        "weights_only_checkpoint": {k: v for k, v in ckpt.items() if k != "optimizer_state_dict"},
        "wrong_shapes": MNISTModel(hidden1=512).state_dict(),
        "unknown_class": {"x": zipfile.ZipInfo("a")},
    }
    paths = {}
    for name, obj in objects.items():
        paths[name] = folder / f"{name}.pth"
        torch.save(obj, paths[name])
    paths["empty"] = folder / "empty.pth"
    paths["empty"].write_bytes(b"")
    paths["random_bytes"] = folder / "random.pth"
    paths["random_bytes"].write_bytes(np.random.default_rng(0).bytes(5000))
    whole = paths["checkpoint"].read_bytes()
    paths["truncated"] = folder / "truncated.pth"
    paths["truncated"].write_bytes(whole[: len(whole) // 2])
    paths["legacy"] = folder / "legacy.pth"
    torch.save(ckpt["model_state_dict"], paths["legacy"], _use_new_zipfile_serialization=False)
    paths["gpu_tagged"] = folder / "gpu.pth"
    write_gpu_checkpoint(paths["gpu_tagged"])
    paths["flipped_byte"] = folder / "flipped.pth"
    paths["flipped_byte"].write_bytes(_flip_tensor_byte(whole))
    paths["compressed"] = folder / "compressed.pth"
    paths["compressed"].write_bytes(_recompress(whole))
    paths["oversize"] = folder / "oversize.pth"
    torch.save({"x": torch.zeros(14 * 2**20)}, paths["oversize"])  # 56 MB
    return paths


def _flip_tensor_byte(data):
    """The archive with one byte of tensor data flipped (its CRC left as it was)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = next(i for i in zf.infolist() if "/data/" in i.filename and i.file_size > 100)
    h = info.header_offset  # the local header's name and extra lengths can differ from the central one
    offset = h + 30 + int.from_bytes(data[h + 26 : h + 28], "little") + int.from_bytes(data[h + 28 : h + 30], "little")
    data = bytearray(data)
    data[offset + 50] ^= 0xFF
    return bytes(data)


def _recompress(data):
    """The same entries, DEFLATE-compressed (torch.load accepts this; torch.save never writes it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    return out.getvalue()
