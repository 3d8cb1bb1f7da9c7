"""The student's code runs as nobody: the notebook's kernel is started as a user of its own, with
no privileges and no capabilities, that can write only the submission folder and its own home.

In the grader's process (otter's, as root: on Gradescope and in `python -m autograder grade` run
as root), the plugin calls:
- `Confinement(submission)` before the notebook runs: a uid for this grading (unused by
  any account or process: every process of it is this grading's), a home it owns, the submission
  folder handed to it, and a `python3` kernel spec on JUPYTER_PATH whose argv is this file, run
  as a script by root: the launcher;
- `.end()` after the kernel: every process of the uid is killed until none is left, and the
  submission folder is taken back (the kernel's symlinks removed, owner root), before the
  grader's own interpreter runs and before results.json is written.
The launcher (`python -I confine.py launch ...`, stdlib only, root) copies the kernel's connection
file into the home, hands over otter's results pickle (otter creates it, 0600, before the kernel
starts), sends the kernel's stdout and stderr to a private log (fd-level writes included: never
to the output a student may see), and execs `setpriv` into the kernel as the uid with no new
privileges, no capabilities, no groups and at most KERNEL_TASKS processes and threads. Where that uid cannot reach the kernel's Python (this
machine's Python under /root, 0700) and mount namespaces are allowed, it runs the kernel in one of
its own where the blocking folder is an empty tmpfs with only the Python put back, read-only
(Gradescope's containers allow no namespaces: the image's setup.sh opens /root for traversal).
Not root: `unconfined_warning()` says that the student's code runs as the grader's own user.
"""

import atexit
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UID_BASE = 2_000_000_000  # + the grading process's pid: unique among concurrent gradings, no account's
SETPRIV = ("--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all")
KERNEL_TASKS = 256  # processes and threads the kernel's user may have (RLIMIT_NPROC): a fork bomb stops there
KERNEL_ENV = ("PATH", "LANG", "LC_ALL", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
              "NBGRADER_EXECUTION")  # nbgrader says a notebook is being autograded (its documented variable)


def available():
    """Confinement needs root (to change uid) and setpriv (util-linux)."""
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


def unconfined_warning():
    return ("WARNING: not running as root, so the student's notebook runs as this user "
            f"({os.environ.get('USER') or os.getuid()}), with access to everything this user can read and write. "
            "Grade untrusted submissions as root (each kernel then runs as a user of its own) or on Gradescope.")


class Confinement:
    """One grading's unprivileged kernel user, its home, and its kernel spec."""

    def __init__(self, submission):
        self.submission = Path(submission)
        self.uid = _free_uid(UID_BASE + os.getpid())
        _open_temporary_parents(self.submission)
        blocked = _reachable(self.submission / "x", self.uid)
        if blocked:
            raise RuntimeError(f"the submission folder {self.submission} is not reachable by an unprivileged user "
                               f"({blocked} is not open to others): grade from a folder others may traverse")
        self.root = Path(tempfile.mkdtemp(prefix="kernel-"))
        atexit.register(shutil.rmtree, self.root, True)  # the handover folder outlives end(): see there
        os.chmod(self.root, 0o711)  # the kernel may pass through to its home, not list this folder
        self.home, self.handover = self.root / "home", self.root / "handover"  # otter's results pickle is made there
        self.log, self.specs = self.root / "kernel.log", self.root / "jupyter"
        for folder in (self.home / "tmp", self.handover, self.specs / "kernels" / "python3"):
            folder.mkdir(parents=True)
        os.chmod(self.handover, 0o711)
        for folder in (self.home, self.home / "tmp"):
            os.chown(folder, self.uid, self.uid)
            os.chmod(folder, 0o700)
        for p in [self.submission, *self.submission.rglob("*")]:
            os.lchown(p, self.uid, self.uid)
        spec = {"argv": [sys.executable, "-I", str(Path(__file__).resolve()), "launch", "--uid", str(self.uid),
                         "--home", str(self.home), "--handover", str(self.handover), "--log", str(self.log),
                         "-f", "{connection_file}"],
                "display_name": "Python 3 (confined)", "language": "python"}
        (self.specs / "kernels" / "python3" / "kernel.json").write_text(json.dumps(spec))
        self._saved, self.ended = (os.environ.get("JUPYTER_PATH"), tempfile.tempdir), False
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(self.specs), self._saved[0]]))

    def kernel_starting(self):
        """Right before otter creates its results pickle (tempfile.mkstemp) and starts the kernel:
        the pickle is made in the handover folder, whose files the launcher gives to the uid."""
        tempfile.tempdir = str(self.handover)

    def kill(self):
        """Kill every process of the uid, until none is left."""
        for _ in range(100):  # a process may fork while the others die
            alive = processes_of(self.uid)
            if not alive:
                break
            for pid in alive:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        else:
            raise RuntimeError(f"processes of the kernel's user {self.uid} survived 100 rounds of SIGKILL")

    def end(self):
        """After the kernel: kill(), then take the submission folder back. What the kernel printed
        (its log) and its home go; the handover folder stays for otter, which removes its pickle
        after the plugin has run."""
        self.kill()
        if self.ended:
            return
        self.ended = True
        for p in sorted(self.submission.rglob("*"), reverse=True):
            if p.is_symlink():  # the grader reads this folder as root after the kernel: no links out of it
                p.unlink()
            else:
                os.chown(p, 0, 0)
        os.chown(self.submission, 0, 0)
        jupyter_path, tempfile.tempdir = self._saved
        os.environ.pop("JUPYTER_PATH") if jupyter_path is None else os.environ.__setitem__("JUPYTER_PATH", jupyter_path)
        for p in (self.home, self.specs, self.log):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def processes_of(uid):
    """Pids whose real, effective or saved uid is `uid`."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                status = Path(entry.path, "status").read_text()
            except OSError:
                continue
            uids = next((line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")), [])
            if str(uid) in uids[:3]:
                found.append(int(entry.name))
    return found


def _open_temporary_parents(folder):
    """Let others traverse (never list) the temporary folders a grading runs in (`otter run`
    grades in a mkdtemp, 0700): root's folders above `folder` and below the temporary root."""
    top = Path(tempfile.gettempdir()).resolve()
    for parent in Path(folder).resolve().parents:
        if top not in parent.parents:
            break
        if parent.stat().st_uid == 0:
            os.chmod(parent, stat.S_IMODE(parent.stat().st_mode) | stat.S_IXOTH)


def _free_uid(uid):
    import pwd

    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if not processes_of(uid):
                return uid
        uid += 1


# ---- the launcher: run by root as `python -I confine.py launch ...` (stdlib only) ----

def _reachable(path, uid):
    """Whether `uid` (no groups) can traverse every folder above `path`; the first that blocks it."""
    for parent in reversed(Path(path).parents):
        st = parent.stat()
        if not (st.st_mode & stat.S_IXOTH or (st.st_uid == uid and st.st_mode & stat.S_IXUSR)):
            return parent
    return None


def launch(uid, home, handover, log, connection_file, kernel_args):
    home = Path(home)
    connection = home / "connection.json"
    shutil.copy(connection_file, connection)
    os.chown(connection, uid, uid)
    os.chmod(connection, 0o600)
    for f in Path(handover).iterdir():  # otter's results pickle: the kernel's last cell writes it
        os.chown(f, uid, uid)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (KERNEL_TASKS, KERNEL_TASKS))  # counted for the uid, not root
    env = {k: os.environ[k] for k in KERNEL_ENV if k in os.environ}
    env.update(HOME=str(home), USER="student", LOGNAME="student", TMPDIR=str(home / "tmp"),
               MPLCONFIGDIR=str(home / ".matplotlib"), IPYTHONDIR=str(home / ".ipython"))
    python = Path(sys.executable)
    kernel = ["setpriv", f"--reuid={uid}", f"--regid={uid}", *SETPRIV, "--", str(python), "-m",
              "ipykernel_launcher", "-f", str(connection), *kernel_args]
    hidden = {}  # a folder the uid cannot pass -> the interpreter's folders under it, to put back
    for needed in {python.resolve().parent, Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}:
        blocked = _reachable(needed / "x", uid)
        if blocked:
            hidden.setdefault(str(blocked), []).append(str(needed))
    if hidden:
        kernel = ["unshare", "--mount", "--propagation", "private", sys.executable, "-I", __file__, "mounts",
                  json.dumps(hidden), *kernel]
    os.execvpe(kernel[0], kernel, env)


def mounts(hidden, command):
    """In the kernel's own mount namespace: each folder of `hidden` ({folder: [paths under it]})
    becomes an empty tmpfs that everyone can traverse, with only its paths bound back, read-only."""
    stage = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path("/tmp")
    for blocked, keep in hidden.items():
        staging = []
        for path in sorted(set(keep)):
            held = Path(subprocess.run(["mktemp", "-d", "-p", str(stage)], capture_output=True, text=True,
                                       check=True).stdout.strip())
            subprocess.run(["mount", "--bind", path, str(held)], check=True)
            staging.append((path, held))
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755,size=1m", "tmpfs", blocked], check=True)
        for path, held in staging:
            Path(path).mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--move", str(held), path], check=True)
            subprocess.run(["mount", "-o", "remount,bind,ro", path], check=True)
            held.rmdir()
    os.execvp(command[0], command)


def _main(argv):
    if argv[0] == "launch":  # launch --uid U --home H --handover D --log L -f CONNECTION [kernel args (nbclient's)]
        f = argv.index("-f")
        options = dict(zip(argv[1:f:2], argv[2:f:2]))
        launch(int(options["--uid"]), options["--home"], options["--handover"], options["--log"], argv[f + 1],
               argv[f + 2:])
    elif argv[0] == "mounts":
        mounts(json.loads(argv[1]), argv[2:])
    else:
        raise SystemExit(f"confine.py: unknown command {argv[0]!r}")


if __name__ == "__main__":
    _main(sys.argv[1:])
