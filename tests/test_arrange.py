"""Every way a student uploads: laid out as the export cell lays it out, or a clear message."""

import dataclasses
import stat
import struct
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


def everything(folder):
    """Every path under `folder`, links included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


NO_NOTEBOOK = (f"No notebook in the submission: upload {NOTEBOOK} with your checkpoint files (the zip the "
               "notebook's last cell writes has both).")


@pytest.mark.parametrize("name", ["../escaped.ipynb", "work/../../escaped.ipynb", "ABSOLUTE"])
def test_a_zip_naming_paths_outside_itself_is_not_unpacked(sub, tmp_path, name):
    name = str(tmp_path / "escaped.ipynb") if name == "ABSOLUTE" else name
    with zipfile.ZipFile(sub / "upload.zip", "w") as zf:
        zf.writestr(name, "{}")
        zf.writestr("checkpoints/crash.pth", "c")
    write(sub, {NOTEBOOK: b"{}"})
    arranged = arrange(sub, ASSIGNMENT)
    assert everything(tmp_path) == ["ignored", "ignored/upload.zip", "submission", f"submission/{NOTEBOOK}"]
    assert arranged.notes[0] == f"upload.zip was not unpacked: it names a path outside itself ({name})."


@pytest.mark.parametrize("limit,value,says", [
    ("upload_files_limit", 3, "it holds 4 files, more than the 3 allowed"),
    ("upload_unpacked_limit", 100_000, "it unpacks to 100,005 bytes, more than the 100,000 allowed")])
def test_a_zip_over_a_limit_is_not_unpacked_and_the_student_is_told(sub, limit, value, says):
    limited = dataclasses.replace(ASSIGNMENT, **{limit: value})
    with zipfile.ZipFile(sub / "upload.zip", "w", zipfile.ZIP_DEFLATED) as zf:  # zeros: 100 kB in a few hundred bytes
        zf.writestr(NOTEBOOK, "{}")
        for f in FILES[:2]:
            zf.writestr(f, "ab")
        zf.writestr("data.bin", bytes(100_000 - 1))
    with pytest.raises(SubmissionError) as e:
        arrange(sub, limited)
    assert str(e.value) == f"upload.zip was not unpacked: {says}. {NO_NOTEBOOK}"
    assert everything(sub) == ["upload.zip"]


def test_zips_within_the_limits_are_unpacked(sub):
    """The control for the limits above: the same zip, one under each limit."""
    limited = dataclasses.replace(ASSIGNMENT, upload_files_limit=4, upload_unpacked_limit=100_005)
    with zipfile.ZipFile(sub / "upload.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(NOTEBOOK, "{}")
        for f in FILES[:2]:
            zf.writestr(f, "ab")
        zf.writestr("data.bin", bytes(100_000 - 1))
    assert arrange(sub, limited).notes == ["Not graded (not part of the submission): data.bin."]
    assert tree(sub) == sorted([NOTEBOOK, *FILES[:2]])


def patched(data, offset_local, offset_central, fmt, change):
    """The one-member zip `data` with a field of its local header and its central directory entry
    changed by `change`."""
    data = bytearray(data)
    for at in (offset_local, data.index(b"PK\x01\x02") + offset_central):
        struct.pack_into(fmt, data, at, change(struct.unpack_from(fmt, data, at)[0]))
    return bytes(data)


def damaged(data):
    """The compressed data of the one member overwritten with noise."""
    data = bytearray(data)
    start = 30 + sum(struct.unpack_from("<HH", data, 26))
    data[start + 5:start + 40] = bytes(b ^ 0xFF for b in data[start + 5:start + 40])
    return bytes(data)


@pytest.mark.parametrize("spoil,says", [
    (lambda z: b"garbage", "it could not be read (File is not a zip file)"),
    (lambda z: z[:len(z) // 2], "it could not be read (File is not a zip file)"),
    (damaged, "it could not be read (Error -3 while decompressing data: invalid code lengths set)"),
    (lambda z: patched(z, 6, 8, "<H", lambda flags: flags | 1),  # the 'encrypted' flag
     f"it could not be read (File '{NOTEBOOK}' is encrypted, password required for extraction)"),
    (lambda z: patched(z, 22, 24, "<I", lambda size: 10),  # a header that understates the size
     f"{NOTEBOOK} in it is damaged")])
def test_a_bad_zip_is_named_as_the_reason_there_is_no_notebook(sub, spoil, says):
    with zipfile.ZipFile(sub / "upload.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(NOTEBOOK, bytes(range(256)) * 400)
    (sub / "upload.zip").write_bytes(spoil((sub / "upload.zip").read_bytes()))
    with pytest.raises(SubmissionError) as e:
        arrange(sub, ASSIGNMENT)
    assert str(e.value) == f"upload.zip was not unpacked: {says}. {NO_NOTEBOOK}"
    assert everything(sub) == ["upload.zip"]  # nothing half unpacked


def test_links_in_a_zip_are_not_unpacked(sub, tmp_path):
    (tmp_path / "secret").write_bytes(b"outside")
    link = zipfile.ZipInfo("checkpoints/crash.pth")
    link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16  # as `zip -y` stores a link
    with zipfile.ZipFile(sub / "upload.zip", "w") as zf:
        zf.writestr(NOTEBOOK, "{}")
        zf.writestr(link, str(tmp_path / "secret"))
        zf.writestr("checkpoints/best.pth", "b")
    arranged = arrange(sub, ASSIGNMENT)
    assert everything(sub) == sorted([NOTEBOOK, "checkpoints", "checkpoints/best.pth"])
    assert "checkpoints/crash.pth" not in arranged.found
    assert arranged.notes == ["Not unpacked from upload.zip, as links are not followed: checkpoints/crash.pth."]


def test_a_zip_never_writes_through_a_link_already_in_the_folder(sub, tmp_path):
    """The platform's own unzip may have made links; a zip inside the upload must not follow them."""
    (tmp_path / "outside").mkdir()
    (sub / "checkpoints").symlink_to(tmp_path / "outside")
    write(sub, {NOTEBOOK: b"{}"})
    with zipfile.ZipFile(sub / "inner.zip", "w") as zf:
        zf.writestr("checkpoints/crash.pth", "c")
        zf.writestr("best.pth", "b")
    arranged = arrange(sub, ASSIGNMENT)
    assert list((tmp_path / "outside").iterdir()) == []
    assert everything(sub) == sorted([NOTEBOOK, "checkpoints", "checkpoints/best.pth"])
    assert arranged.notes[0] == "Not unpacked from inner.zip, as links are not followed: checkpoints/crash.pth."


@pytest.mark.parametrize("renamed", [f"{NOTEBOOK[:-6]} (1).ipynb", f"my-work/Copy of {NOTEBOOK}"])
def test_a_renamed_notebook_is_graded_under_the_assignments_name(sub, renamed):
    folder = renamed.rpartition("/")[0]
    write(sub, {renamed: b'{"mine": 1}', **{f"{folder}/{f}".lstrip("/"): f.encode() for f in FILES}})
    arranged = arrange(sub, ASSIGNMENT)
    assert tree(sub) == sorted([NOTEBOOK, *FILES])
    assert (sub / NOTEBOOK).read_bytes() == b'{"mine": 1}'
    assert arranged.notebook == renamed and arranged.notes == []


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
