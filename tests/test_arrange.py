"""Every way a student uploads: laid out as the export cell lays it out, or a clear message."""

import zipfile

import pytest

from autograder.arrange import SubmissionError, arrange
from autograder.saving_and_loading import ASSIGNMENT

NOTEBOOK = ASSIGNMENT.notebook

FILES = [f.path for f in ASSIGNMENT.contract]


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def write(folder, files):
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


@pytest.fixture
def sub(tmp_path):
    (tmp_path / "submission").mkdir()
    return tmp_path / "submission"


def test_the_export_layout_stays_as_it_is(sub):
    write(sub, {NOTEBOOK: b"{}", **{f: f.encode() for f in FILES}, ".OTTER_LOG": b"log"})
    arranged = arrange(sub, ASSIGNMENT)
    assert tree(sub) == sorted([NOTEBOOK, *FILES]) and arranged.notes == []
    assert (sub / "checkpoints/crash.pth").read_bytes() == b"checkpoints/crash.pth"


def test_loose_files_go_back_into_checkpoints(sub):
    write(sub, {NOTEBOOK: b"{}", **{f.split("/")[1]: f.encode() for f in FILES}})
    arranged = arrange(sub, ASSIGNMENT)
    assert tree(sub) == sorted([NOTEBOOK, *FILES])
    assert arranged.found["checkpoints/best.pth"] == "best.pth"
    assert (sub / "checkpoints/best.pth").read_bytes() == b"checkpoints/best.pth"


def test_a_working_folder_one_level_down_with_scratch_files(sub):
    write(sub, {f"work/{NOTEBOOK}": b"{}", **{f"work/{f}": f.encode() for f in FILES}, "work/model.pth": b"m",
                f"work/.ipynb_checkpoints/{NOTEBOOK[:-6]}-checkpoint.ipynb": b"{}", "work/data/MNIST/raw/a": b"",
                "work/data/MNIST/raw/b": b"", "__MACOSX/._x": b""})
    arranged = arrange(sub, ASSIGNMENT)
    assert tree(sub) == sorted([NOTEBOOK, *FILES])
    assert arranged.notes == ["Not graded (not part of the submission): data/ (2 files), model.pth."]
    assert (sub.parent / "ignored/work/model.pth").exists()  # kept, not graded


def test_a_zip_handed_over_as_a_file_is_unpacked(sub, tmp_path):
    with zipfile.ZipFile(sub / "upload.zip", "w") as zf:
        zf.writestr(NOTEBOOK, "{}")
        for f in FILES[:2]:
            zf.writestr(f, f)
    arrange(sub, ASSIGNMENT)
    assert tree(sub) == sorted([NOTEBOOK, *FILES[:2]])


def test_a_zip_naming_paths_outside_itself_is_not_unpacked(sub):
    with zipfile.ZipFile(sub / "upload.zip", "w") as zf:
        zf.writestr("../escaped.ipynb", "{}")
    write(sub, {NOTEBOOK: b"{}"})
    arranged = arrange(sub, ASSIGNMENT)
    assert not (sub.parent / "escaped.ipynb").exists()
    assert arranged.notes[0] == "upload.zip was not unpacked: it names a path outside itself (../escaped.ipynb)"


def test_a_file_found_twice_is_taken_from_checkpoints_and_named(sub):
    write(sub, {NOTEBOOK: b"{}", "crash.pth": b"old", "checkpoints/crash.pth": b"new"})
    arranged = arrange(sub, ASSIGNMENT)
    assert (sub / "checkpoints/crash.pth").read_bytes() == b"new"
    assert "2 files are named crash.pth; graded checkpoints/crash.pth." in arranged.notes


@pytest.mark.parametrize("files,says", [({}, "No notebook in the submission"),
                                        ({"a.ipynb": b"{}", "b/b.ipynb": b"{}"}, "2 notebooks in the submission (a.ipynb, b/b.ipynb)")])
def test_no_notebook_or_two_is_a_clear_message(sub, files, says):
    write(sub, {**files, "crash.pth": b"x"})
    with pytest.raises(SubmissionError, match=r"^" + says.replace("(", r"\(").replace(")", r"\)")):
        arrange(sub, ASSIGNMENT)


def test_what_the_grader_provides_is_left_alone(sub):
    write(sub, {NOTEBOOK: b"{}", "tests/check1.py": b"", "data/x": b"", "best.pth": b"b"})
    arrange(sub, ASSIGNMENT, keep={"tests", "data"})
    assert tree(sub) == sorted([NOTEBOOK, "checkpoints/best.pth", "tests/check1.py", "data/x"])
