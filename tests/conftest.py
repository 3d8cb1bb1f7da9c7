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
    return paths


@pytest.fixture(scope="session")
def graded(built):
    """{sample name: (scores, results.json)} for every sample submission."""
    return {z.stem: grade.grade_one(z, built["zip_path"]) for z in sorted(built["samples_dir"].glob("*.zip"))}
