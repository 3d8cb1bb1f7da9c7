"""The confined kernel (autograder/confine.py): what a notebook's code can and cannot do when the
grader runs it as a user of its own. The catalogue's attacks run the same through whole gradings;
these look at one kernel directly."""

import json
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import confine
from conftest import needs_root

PROBE = textwrap.dedent("""
    import json, os, signal, subprocess, sys
    seen = {"uid": os.getuid(), "euid": os.geteuid(), "groups": os.getgroups(), "cwd": os.getcwd()}
    try:
        open(GRADER_FILE, "a").close()
        seen["wrote_grader_file"] = True
    except OSError:
        seen["wrote_grader_file"] = False
    try:
        os.kill(GRADER_PID, 0)
        seen["signalled_grader"] = True
    except PermissionError:
        seen["signalled_grader"] = False
    with open(seen["cwd"] + "/written.txt", "w") as f:
        f.write("ok")
    os.symlink("/etc/passwd", "link-out")
    os.system("echo fd-level-output-marker")
    subprocess.Popen([sys.executable, "-c", "import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    time.sleep(600)"])
    seen["forked"] = 0
    try:  # a fork bomb, of sleepers
        for _ in range(TASKS + 10):
            if os.fork() == 0:
                signal.pause()
            seen["forked"] += 1
    except OSError:
        pass
    print(json.dumps(seen))
""")


@pytest.fixture
def open_tmp():
    """A temporary folder others may pass through, as Gradescope's /autograder (pytest's own
    temporary folders are 0700)."""
    folder = Path(tempfile.mkdtemp())
    os.chmod(folder, 0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_root
def test_the_kernel_runs_as_its_own_user_and_leaves_nothing(open_tmp, capfd):
    tmp_path = open_tmp
    folder = tmp_path / "submission"
    folder.mkdir()
    grader_file = tmp_path / "results.json"
    grader_file.write_text("{}")
    before = os.environ.get("JUPYTER_PATH"), tempfile.tempdir
    c = confine.Confinement(folder)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"GRADER_FILE, GRADER_PID, TASKS = {str(grader_file)!r}, {os.getpid()}, {confine.KERNEL_TASKS}\n{PROBE}")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    c.kernel_starting()
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
        assert confine.processes_of(c.uid)  # the detached sleeper outlived the kernel's cell
    finally:
        c.end()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    seen = json.loads(text.strip().splitlines()[-1])
    assert seen["uid"] == seen["euid"] == c.uid != 0 and seen["groups"] in ([], [c.uid])
    assert not seen["wrote_grader_file"] and not seen["signalled_grader"]
    assert 0 < seen["forked"] < confine.KERNEL_TASKS  # stopped at the limit, the kernel's threads counted
    assert not confine.processes_of(c.uid)  # end() left nothing of it running
    assert (folder / "written.txt").read_text() == "ok" and (folder / "written.txt").stat().st_uid == 0
    assert not (folder / "link-out").exists() and not (folder / "link-out").is_symlink()
    assert "fd-level-output-marker" not in capfd.readouterr().out  # the kernel's own stdout went to its log
    assert (os.environ.get("JUPYTER_PATH"), tempfile.tempdir) == before  # otter's process as it was


@needs_root
def test_temporary_folders_are_opened_for_passing_others_refused(open_tmp, monkeypatch):
    """otter run grades in a mkdtemp (0700): opened for traversal. A closed folder above the
    temporary root is not the grader's to open: refused, with the reason."""
    top = open_tmp / "closed" / "tmp"
    top.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(top))
    grading = Path(tempfile.mkdtemp())
    (grading / "submission").mkdir()
    os.chmod(open_tmp / "closed", 0o700)
    with pytest.raises(RuntimeError, match=r"not reachable by an unprivileged user \(.*closed is not open"):
        confine.Confinement(grading / "submission")
    assert grading.stat().st_mode & 0o777 == 0o701  # mkdtemp's 0700, now passable


def test_without_root_the_warning_says_who_runs_the_code(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert not confine.available()
    assert "runs as this user" in confine.unconfined_warning()
