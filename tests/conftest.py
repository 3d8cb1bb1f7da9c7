"""Shared fixtures: one fresh build (into a temp folder) and its graded sample submissions."""

import pytest

from autograder import build, grade


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A complete build, release and samples included, that leaves the repository untouched."""
    root = tmp_path_factory.mktemp("build")
    paths = {"release_dir": root / "release", "zip_path": root / "dist" / "autograder.zip",
             "samples_dir": root / "samples"}
    build.main(build=root / "work", **paths)
    return {**paths, "solution": root / "work" / "dist" / "autograder" / f"{build.NAME}.ipynb"}


@pytest.fixture(scope="session")
def bulk(built, tmp_path_factory):
    """The sample submissions graded in bulk: (output folder, {name: Graded})."""
    out = tmp_path_factory.mktemp("grades")
    graded, _ = grade.grade_all([built["samples_dir"]], out, built["zip_path"])
    return out, {g.file.removesuffix(".zip"): g for g in graded}


@pytest.fixture(scope="session")
def graded(bulk):
    return bulk[1]
