"""The MNIST files on a machine that has none: downloaded from torchvision's mirrors when online
(a local server stands in for them), every missing file named when offline. Both copies of the
reader are held to it: the lesson's (the build, the grader) and the notebook's (the student)."""

import shutil
import struct

import pytest
import torch

from autograder.saving_and_loading import DATA_ENV, model
from test_model import notebook_namespace

FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(params=["lesson", "notebook"])
def mnist_split(request, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return model.mnist_split if request.param == "lesson" else notebook_namespace()["mnist_split"]


def test_offline_names_every_missing_file(mnist_split, tmp_path, monkeypatch):
    monkeypatch.setattr(model.MNIST, "mirrors", [])
    with pytest.raises(FileNotFoundError) as error:
        mnist_split("t10k", root=tmp_path / "nowhere", cache=tmp_path / "cache")
    assert all(f in str(error.value) for f in FILES) and "MNIST_DATA_ROOT" in str(error.value)


def test_online_downloads_once_into_the_cache(mnist_split, mnist_mirror, tmp_path, monkeypatch):
    url, requests = mnist_mirror
    monkeypatch.setattr(model.MNIST, "mirrors", [url + "gone/", url])  # the first mirror answers 404
    images, labels = mnist_split("t10k", root=tmp_path / "empty", cache=tmp_path / "cache")
    expected = model.mnist_split("t10k")
    assert torch.equal(images, expected[0]) and torch.equal(labels, expected[1])
    assert set(requests) == {f"/gone/{f}" for f in FILES} | {f"/{f}" for f in FILES}  # torchvision asks twice
    asked = len(requests)
    mnist_split("t10k", root=tmp_path / "empty", cache=tmp_path / "cache")
    assert len(requests) == asked  # the second call reads the cache


def test_a_split_unpacked_beside_the_files_is_never_read(tmp_path, monkeypatch):
    """The grader reads ./data of the graded notebook's folder, which the student's kernel could
    write: only the verified .gz files count, not a file unpacked beside them."""
    monkeypatch.chdir(tmp_path)
    genuine = model.mnist_split("t10k")
    raw = tmp_path / "data" / "MNIST" / "raw"
    for gz in model.mnist_files("t10k", cache=tmp_path / "elsewhere").values():
        raw.mkdir(parents=True, exist_ok=True)
        shutil.copy(gz, raw / gz.name)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, 10000) + bytes(10000))  # all zeros
    monkeypatch.delenv(DATA_ENV)  # ./data, as in a grading
    images, labels = model.mnist_split("t10k")
    assert torch.equal(labels, genuine[1]) and torch.equal(images, genuine[0])
