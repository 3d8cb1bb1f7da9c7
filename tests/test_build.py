"""The build: reproducible, matches the committed release, and leaks nothing to students."""

import json
import re
import zipfile

import nbformat

from autograder import build

MASTER = build.SOURCE / f"{build.NAME}.ipynb"
NOTEBOOK = f"{build.NAME}.ipynb"


def test_committed_release_is_what_the_build_makes(built):
    fresh = sorted(p.name for p in built["release_dir"].iterdir())
    committed = sorted(p.name for p in build.RELEASE.iterdir())
    assert fresh == committed
    for name in fresh:
        assert (built["release_dir"] / name).read_bytes() == (build.RELEASE / name).read_bytes(), (
            f"release/{build.NAME}/{name} differs from a fresh build: run `python -m autograder build` and commit")


def test_build_is_reproducible(built, tmp_path):
    again = tmp_path / "release"
    build.main(build=tmp_path / "work", release_dir=again, zip_path=tmp_path / "ag.zip", samples_dir=None)
    assert (again / NOTEBOOK).read_bytes() == (built["release_dir"] / NOTEBOOK).read_bytes()


def solution_lines(master):
    """Every non-trivial line the master marks as solution, and every hidden test's body."""
    lines, in_solution, in_tests = set(), False, False
    for cell in master.cells:
        src = cell.source
        if cell.cell_type == "raw":
            in_solution = {"# BEGIN SOLUTION": True, "# END SOLUTION": False}.get(src.strip(), in_solution)
            in_tests = {"# BEGIN TESTS": True, "# END TESTS": False}.get(src.strip(), in_tests)
            continue
        if in_tests and re.search(r"hidden:\s*true", src):
            lines |= {l.strip() for l in src.splitlines()[4:] if len(l.strip()) > 12}
        if in_solution and cell.cell_type == "code":
            block = False
            for l in src.splitlines():
                block = block or "# BEGIN SOLUTION" in l
                if (block or l.rstrip().endswith("# SOLUTION")) and len(l.strip()) > 12 and "SOLUTION" not in l.strip()[:20]:
                    lines.add(l.strip().removesuffix("# SOLUTION").strip())
                block = block and "# END SOLUTION" not in l
    return lines


def test_release_has_no_solution_and_no_hidden_test(built):
    master = nbformat.read(MASTER, as_version=4)
    secret = solution_lines(master)
    assert len(secret) > 30, "the master's solutions were not found: has its format changed?"
    release = (built["release_dir"] / NOTEBOOK).read_text()
    # lines the lesson also shows outside solutions (prose examples, given code) are not secrets
    given = "\n".join(c.source for c in master.cells if c.cell_type == "markdown"
                      or (c.cell_type == "code" and "SOLUTION" not in c.source and "TEST CONFIG" not in c.source))
    leaked = sorted(l for l in secret if l not in given and json.dumps(l)[1:-1] in release)
    assert not leaked, f"solution or hidden-test lines in the release: {leaked[:5]}"
    for marker in ("BEGIN SOLUTION", "hidden: true", "from autograder", "ASSIGNMENT CONFIG"):
        assert marker not in release


def test_release_keeps_public_tests_in_the_notebook(built):
    nb = nbformat.read(built["release_dir"] / NOTEBOOK, as_version=4)
    tests = nb.metadata["otter"]["tests"]
    assert set(tests) == {"check1", "check2", "map_location", "ex1_save_load", "ex2_checkpointing",
                          "ex3_resume", "ex4_early_stopping"}
    assert not (built["release_dir"] / "tests").exists()


def test_autograder_zip_carries_data_and_package(built):
    with zipfile.ZipFile(built["zip_path"]) as zf:
        names = set(zf.namelist())
    assert {"files/data/MNIST/raw/t10k-images-idx3-ubyte.gz", "files/data/MNIST/raw/t10k-labels-idx1-ubyte.gz",
            "autograder/plugin.py", "files/autograder/checks.py", "environment.yml"} <= names
    with zipfile.ZipFile(built["zip_path"]) as zf:
        env = zf.read("environment.yml").decode()
    assert "torch==2.14.1+cpu" in env and "download.pytorch.org/whl/cpu" in env


def test_export_cell_lists_the_contract(built):
    from autograder.checks import CONTRACT

    release = (built["release_dir"] / NOTEBOOK).read_text()
    for f in CONTRACT:
        assert f in release, f"{f} is in the README contract but not in the export cell"
