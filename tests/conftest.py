"""Shared fixtures: one fresh build (into a temp folder: release, zip, samples, nbgrader course),
its graded sample submissions, and the catalogue of realistic submissions graded in its export-zip
form."""

import os

import pytest

from autograder import build, grade
from autograder.assignment import get
from catalogue.make import make_all

WORKERS = os.cpu_count() or 1


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
    folder = tmp_path_factory.mktemp("catalogue")
    make_all(built["solution"], folder / "submissions", workers=WORKERS)
    graded, _ = grade.grade_all([folder / "submissions"], folder / "grades", built["zip_path"], workers=WORKERS)
    return folder / "submissions", {g.file.removesuffix(".zip"): g for g in graded}
