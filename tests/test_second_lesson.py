"""A second, deliberately small lesson (tests/second_lesson/: one exercise, one checkpoint file,
one file check) built, graded and inspected with the core and the lesson interface only: the
proof that a lesson is a declaration, its rules and its wording."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import build, grade
from autograder.assignment import get
from autograder.lesson import Lesson

REPO = Path(__file__).resolve().parent.parent
HERE = REPO / "tests" / "second_lesson"
SAVE = 'torch.save(line.state_dict(), "checkpoints/line.pth")\n'


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The second lesson, built into a temporary folder from its master, with its samples."""
    sys.path.insert(0, str(HERE))
    try:
        a, out = get("tiny-save"), tmp_path_factory.mktemp("tiny")
        build.main(a, source=HERE / "source" / a.name, build=out / "build", release_dir=out / "release",
                   zip_path=out / "autograder.zip", samples_dir=out / "samples", course=out / "course")
        yield a, out
    finally:
        sys.path.remove(str(HERE))


def test_the_lesson_is_a_declaration_its_rules_and_its_wording(tiny):
    a, _ = tiny
    assert isinstance(a.lesson, Lesson) and a.lesson_dir == HERE / "tiny_save"
    assert sorted(p.name for p in a.lesson_dir.glob("*.py")) == ["__init__.py", "checks.py"]
    imported = "".join(p.read_text() for p in a.lesson_dir.glob("*.py"))
    assert "saving_and_loading" not in imported, "the second lesson borrows from the first"


def test_it_builds_a_release_a_zip_and_a_course_that_carry_its_lesson(tiny):
    a, out = tiny
    release = nbformat.read(out / "release" / a.notebook, as_version=4)
    shipped = release.metadata["autograder"]["files"]
    assert {"autograder/tiny_save/checks.py", "autograder/selfcheck.py", "autograder/files.py"} <= set(shipped)
    assert "autograder/reproduction.py" not in shipped  # the hidden file test stays with the grader
    code = "".join(c.source for c in release.cells if c.cell_type == "code")
    assert "SGD" not in code and "require_files" not in code, "the release leaks the solution or a hidden test"
    assert 'export(\'tiny-save\'' in code  # the build wrote the export cell from the contract
    with zipfile.ZipFile(out / "autograder.zip") as z:
        assert {"autograder/tiny_save/__init__.py", "autograder/tiny_save/checks.py", "autograder/plugin.py"} <= set(z.namelist())
    assert (out / "course" / "source" / a.name / "autograder" / "tiny_save" / "checks.py").is_file()


@pytest.fixture(scope="module")
def graded(tiny):
    """{submission: Graded}: the reference, the untouched release, and the solution that saves the
    line before training it, each graded as Gradescope runs the zip."""
    a, out = tiny
    before = out / "before"
    solution = out / "build" / "dist" / "autograder" / a.notebook

    def save_first(nb):
        [cell] = [c for c in nb.cells if SAVE in c.source]
        built = "line = nn.Linear(1, 1)\n"
        cell.source = cell.source.replace(SAVE, "").replace(built, built + SAVE)

    (before / "save-first.zip").parent.mkdir(exist_ok=True)
    build.submit(solution, out / "save-first-run", edit=save_first).rename(before / "save-first.zip")
    subs = [out / "samples" / "reference.zip", out / "samples" / "untouched-release.zip", before / "save-first.zip"]
    graded, _ = grade.grade_all(subs, out / "grades", out / "autograder.zip", workers=2)
    return {Path(g.file).name: g for g in graded}


def test_the_reference_gets_every_point(graded):
    g = graded["reference.zip"]
    assert g.status == "Completed" and g.scores == {"ex1_save_line": (2, 2)}, (g.status, g.results)


@pytest.mark.parametrize("name, code", [("untouched-release.zip", "missing"), ("save-first.zip", "not_fitted")])
def test_a_mistake_loses_its_points_and_names_its_code(graded, name, code):
    g = graded[name]
    assert g.status == "Completed" and g.scores == {"ex1_save_line": (0, 2)}, (g.status, g.scores)
    assert f"[{code}]" in grade.feedback(g)


def test_the_ta_inspects_its_file_from_the_command_line(tiny, tmp_path):
    a, out = tiny
    with zipfile.ZipFile(out / "samples" / "reference.zip") as z:
        z.extractall(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
    run = subprocess.run([sys.executable, "-m", "autograder", "inspect", "--assignment", a.name,
                          str(tmp_path / "checkpoints" / "line.pth"), str(tmp_path / a.notebook)],
                         capture_output=True, text=True, env=env, cwd=REPO)
    assert run.returncode == 1, run.stderr  # the notebook is not a checkpoint
    good, bad = run.stdout.splitlines()
    assert '"ok": true' in good and '"not_torch_zip"' in bad, run.stdout
