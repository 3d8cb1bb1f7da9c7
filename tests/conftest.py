"""Shared fixtures: one fresh build (into a temp folder: release, zip, samples, nbgrader course),
its graded sample submissions, and the catalogue of realistic submissions graded in its export-zip
form."""

import http.server
import os
import shutil
import threading

import pytest

from autograder import build, grade
from autograder.assignment import get
from catalogue.make import make_and_grade

WORKERS = os.cpu_count() or 1
AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="needs root (Gradescope's /autograder in a private mount "
                                "namespace, or the kernel run as another user); CI runs as root")


def pytest_collection_modifyitems(items):
    """Tests that need a build are marked `needs_build`: `pytest tests -m "not needs_build"` is the
    suite's fast part (a few minutes, any user)."""
    for item in items:
        if {"built", "bulk", "graded", "catalogue"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.needs_build)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A complete build, release and samples included, that leaves the repository untouched."""
    root = tmp_path_factory.mktemp("build")
    paths = {"release_dir": root / "release", "zip_path": root / "dist" / "autograder.zip",
             "samples_dir": root / "samples", "course": root / "course"}
    build.main(build=root / "work", **paths)
    return {**paths, "solution": root / "work" / "dist" / "autograder" / get().notebook}


@pytest.fixture(scope="session")
def bulk(built, tmp_path_factory):
    """The sample submissions graded in bulk: (output folder, {name: Graded})."""
    out = tmp_path_factory.mktemp("grades")
    graded, _ = grade.grade_all([built["samples_dir"]], out, built["zip_path"])
    return out, {g.file.removesuffix(".zip"): g for g in graded}


@pytest.fixture(scope="session")
def graded(bulk):
    return bulk[1]


@pytest.fixture(scope="session")
def catalogue(built, tmp_path_factory):
    """(the submissions folder, {name: Graded}) of every catalogue entry, graded in its export-zip
    form; the other upload forms are written to the folder's forms/."""
    return make_and_grade(built, tmp_path_factory.mktemp("catalogue"), WORKERS)


@pytest.fixture
def mnist_mirror(tmp_path_factory):
    """torchvision's MNIST mirror stood in for by a local HTTP server (the internet is not needed):
    serves the verified t10k files of the data root; yields (its URL, the paths it was asked for)."""
    from autograder.saving_and_loading.model import mnist_files

    served = tmp_path_factory.mktemp("mirror")
    for gz in mnist_files("t10k").values():
        shutil.copy(gz, served / gz.name)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, fmt, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}/", requests
        server.shutdown()
