"""The confined kernel (autograder/confine.py): what a notebook's code can and cannot do when the
grader runs it as a user of its own. The catalogue's attacks run the same through whole gradings;
these look at one kernel directly."""

import json
import os
import shutil
import socket
import tempfile
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import confine
from autograder.assignment import Assignment
from conftest import needs_root

TASKS = Assignment.kernel_tasks
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
    print("SEEN", json.dumps(seen))
""")


def probe(confinement, folder, source, ran=lambda: True):
    """Run `source` in the confined kernel, in `folder`; `ran()` must hold before end(). What the
    cell printed after "SEEN ", as JSON (ipykernel forwards fd-level output too, in no fixed order)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    confinement.kernel_starting()
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
        assert ran()
    finally:
        confinement.end()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    [seen] = [line.removeprefix("SEEN ") for line in text.splitlines() if line.startswith("SEEN ")]
    return json.loads(seen)


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
    c = confine.start(folder, TASKS)
    assert isinstance(c, confine.OwnUser)
    seen = probe(c, folder, f"GRADER_FILE, GRADER_PID, TASKS = {str(grader_file)!r}, {os.getpid()}, "
                 f"{TASKS}\n{PROBE}",
                 ran=lambda: confine.processes_of(c.uid))  # the detached sleeper outlived the kernel's cell
    assert seen["uid"] == seen["euid"] == c.uid != 0 and seen["groups"] in ([], [c.uid])
    assert not seen["wrote_grader_file"] and not seen["signalled_grader"]
    assert 0 < seen["forked"] < TASKS  # stopped at the limit, the kernel's threads counted
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
        confine.start(grading / "submission", TASKS)
    assert grading.stat().st_mode & 0o777 == 0o701  # mkdtemp's 0700, now passable


SANDBOX_PROBE = textwrap.dedent("""
    import json, os, socket, subprocess
    seen = {"cwd": os.getcwd()}
    for name, path in (("read_home", HOME_SECRET), ("read_run", RUN_SECRET)):
        try:
            seen[name] = open(path).read()
        except OSError as e:
            seen[name] = type(e).__name__
    for name, path in (("wrote_outside", OUTSIDE), ("wrote_scratch", SCRATCH)):
        try:
            with open(path, "w") as f:
                f.write("forged")
            seen[name] = True
        except OSError:
            seen[name] = False
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=2).close()
        seen["connected"] = True
    except OSError:
        seen["connected"] = False
    try:
        os.kill(GRADER_PID, 0)
        seen["signalled_grader"] = True
    except OSError:
        seen["signalled_grader"] = False
    with open("written.txt", "w") as f:
        f.write("ok")
    os.system("echo fd-level-output-marker")
    subprocess.Popen(["sleep", TOKEN], start_new_session=True)
    print("SEEN", json.dumps(seen))
""")


@pytest.mark.skipif(not confine.Sandbox.works(), reason="this machine lets this user make no user namespaces")
def test_a_sandboxed_kernel_sees_no_home_no_network_and_writes_only_its_folders(tmp_path, monkeypatch, capfd):
    """Not root (and also as root, for CI): the kernel in namespaces of its own. The grader's home
    and /run are hidden, the temporary folders are its own, every other folder is read-only, it
    cannot connect to the grader's machine or name the grader's processes, and when it ends,
    what it started ends."""
    home, outside, folder = tmp_path / "ta-home", Path.cwd() / "tests" / f"forged-{os.getpid()}", tmp_path / "submission"
    for f in (home, folder):
        f.mkdir()
    (home / "secret.txt").write_text("the TA's")
    monkeypatch.setenv("HOME", str(home))
    scratch = tmp_path / "scratch.txt"
    run_secret = next((p for p in Path("/run").glob("*") if p.is_file() and os.access(p, os.R_OK)), None)
    listener = socket.create_server(("127.0.0.1", 0))
    token = f"{600 + os.getpid() % 1000}"
    c = confine.Sandbox(folder)
    with listener:
        seen = probe(c, folder,
                     f"HOME_SECRET, RUN_SECRET = {str(home / 'secret.txt')!r}, {str(run_secret or '/run/none')!r}\n"
                     f"OUTSIDE, SCRATCH, PORT = {str(outside)!r}, {str(scratch)!r}, {listener.getsockname()[1]}\n"
                     f"GRADER_PID, TOKEN = {os.getpid()}, {token!r}\n{SANDBOX_PROBE}")
    assert seen["cwd"] == str(folder) and (folder / "written.txt").read_text() == "ok"
    assert seen["read_home"] == "FileNotFoundError" and seen["read_run"] in ("FileNotFoundError", "PermissionError")
    assert not seen["wrote_outside"] and not outside.exists()
    assert seen["wrote_scratch"] and not scratch.exists(), "the temporary folders must be the sandbox's own"
    assert not seen["connected"] and not seen["signalled_grader"]
    assert "fd-level-output-marker" not in capfd.readouterr().out
    assert not [p for p in Path("/proc").glob("[0-9]*") if _cmdline(p) == ["sleep", token]], "a process outlived it"
    assert "JUPYTER_PATH" not in os.environ or str(c.specs) not in os.environ["JUPYTER_PATH"]


def _cmdline(process):
    try:
        return (process / "cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return None


def test_neither_root_nor_a_sandbox_the_warning_says_who_runs_the_code(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(confine.Sandbox, "_works", False)
    assert confine.start("/nonexistent", TASKS) is None
    assert confine.describe() == confine.unconfined_warning() and "runs as this user" in confine.describe()


def test_kernels_ports_are_below_the_ephemeral_range_in_a_block_of_the_process():
    """steady_ports: no connect() can take a port between its choice and the kernel's bind, two
    processes start apart, and one whose block meets another's skips the ports the other chose
    until they are returned (the stress run in steady_ports' docstring measures the rest)."""
    from jupyter_client.connect import LocalPortCache

    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    if low <= confine.PORTS_FROM:
        pytest.skip(f"this machine's ephemeral range starts at {low}: no room below it")
    confine.steady_ports()
    cache = LocalPortCache.instance()
    mine = [cache.find_available_port("127.0.0.1") for _ in range(3)]
    assert all(confine.PORTS_FROM <= p < low for p in mine) and len(set(mine)) == 3
    with socket.socket() as taken:  # a port some other process holds is skipped
        taken.bind(("127.0.0.1", max(mine) + 1))
        assert cache.find_available_port("127.0.0.1") == max(mine) + 2
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # a forked process (a pool's worker) draws from a block of its own
        os.write(writer, str(cache.find_available_port("127.0.0.1")).encode())
        os._exit(0)
    os.waitpid(child, 0)
    theirs = int(os.read(reader, 16))
    assert theirs not in range(min(mine), min(mine) + confine.PORTS_BLOCK)

    def drawn_by_a_process_of_the_same_block():
        reader, writer = os.pipe()
        parent, child = os.getpid(), os.fork()
        if child == 0:  # not this process's cache, and this process's pid (pids wrap)
            cache.currently_used_ports = set()
            os.getpid = lambda: parent
            os.write(writer, str(cache.find_available_port("127.0.0.1")).encode())
            os._exit(0)
        os.waitpid(child, 0)
        return int(os.read(reader, 16))

    assert drawn_by_a_process_of_the_same_block() not in mine  # claimed, though no kernel bound them
    cache.return_port(min(mine))
    assert drawn_by_a_process_of_the_same_block() == min(mine)  # returned: free again
    for port in mine[1:] + [max(mine) + 2]:
        cache.return_port(port)
