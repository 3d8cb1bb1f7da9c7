"""Load safely: every crafted file gets the right named reason, and nothing in a file runs."""

import pytest
import torch

from autograder import load
from crafted import CANARY, write_all

EXPECTED = {
    "state_dict": None,
    "checkpoint": None,
    "tensor_loss_with_grad": None,
    "nan_loss": None,  # loads; inspect refuses it
    "missing_keys": None,
    "weights_only_checkpoint": None,
    "wrong_shapes": None,
    "gpu_tagged": None,  # map_location makes it load anywhere
    "whole_model": "whole_model",
    "state_dict_method": "state_dict_method",
    "payload": "payload",
    "payload_beside_a_model": "payload",
    "payload_open": "payload",
    "numpy_loss": "numpy_scalar",
    "unknown_class": "unknown_global",
    "empty": "empty",
    "random_bytes": "not_torch_zip",
    "truncated": "not_torch_zip",
    "legacy": "legacy_format",
    "flipped_byte": "corrupt",
    "compressed": "compressed",
    "oversize": "too_large",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("crafted"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_refusal_reason(files, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    obj, refused = load.load(files[name])
    assert (refused.code if refused else None) == EXPECTED[name], refused
    assert (obj is None) == (refused is not None)
    assert not (tmp_path / CANARY).exists(), "the payload ran"


def test_payload_would_run_under_a_full_unpickler(files, tmp_path, monkeypatch):
    """The control for the test above: the crafted payload is real."""
    monkeypatch.chdir(tmp_path)
    torch.load(files["payload"], weights_only=False)
    assert (tmp_path / CANARY).exists()


def test_missing_file(tmp_path):
    assert load.load(tmp_path / "nope.pth")[1].code == "missing"


def test_flipped_byte_loads_silently_in_torch(files):
    """Why the CRC check exists: torch.load itself does not notice the damage."""
    torch.load(files["flipped_byte"], weights_only=True)


def test_gpu_tagged_needs_map_location(files):
    with pytest.raises(RuntimeError, match="CUDA"):
        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
        torch.load(files["gpu_tagged"], weights_only=True)
    sd, refused = load.load(files["gpu_tagged"], device="cpu")
    assert refused is None and sd["fc1.weight"].device.type == "cpu"


def test_saved_on_reads_the_location_tags(files):
    assert load.saved_on(files["gpu_tagged"]) == ["cuda"]
    assert load.saved_on(files["checkpoint"]) == ["cpu"]


def test_messages_teach_without_torch_noise(files):
    _, refused = load.load(files["whole_model"])
    assert "model.state_dict()" in refused.message and "\x1b[" not in refused.message
    assert "weights_only=False" not in refused.message
    assert "loss.item()" in load.load(files["numpy_loss"])[1].message
