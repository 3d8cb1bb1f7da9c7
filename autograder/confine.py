"""The student's code runs confined: the notebook's kernel cannot write the grader's files, reach
the grader's processes, or outlive the run. Two ways, the strongest this process can give:
- `OwnUser` (the grader runs as root: Gradescope, `python -m autograder grade` or `nbgrader
  autograde` as root): the kernel runs as a uid of its own for this grading (unused by any account
  or process: every process of it is this grading's), with no privileges, no capabilities, no
  groups and at most the assignment's kernel_tasks processes and threads; it can write the submission folder
  (handed to it before the kernel starts, taken back after) and its own home;
- `Sandbox` (not root, where the kernel may make user namespaces: a TA's machine): the kernel
  runs as the grader's user in namespaces of its own, with no capabilities: no network, its own
  process ids (the grader's processes cannot be named; when the kernel ends, everything it started
  ends), the grader's home, /run and the temporary folders hidden, and every other folder
  read-only but the submission folder and its own home.
`start(submission)` returns one of them, or None (then `unconfined_warning()` says that the
student's code runs as the grader's own user). The plugin and nbgrader's BoundedExecute call
`.kernel_starting()` right before the kernel starts, `.kill()` when it died, and `.end()` after
it: every process of the kernel killed until none is left, the submission folder taken back (the
kernel's symlinks removed), before the grader's own interpreter runs and before results.json is
written.
Both put a `python3` kernel spec first on JUPYTER_PATH whose argv is this file run as a script
(stdlib only): the launcher. It copies the kernel's connection file into the home, hands over
otter's results pickle (otter creates it, 0600, before the kernel starts), sends the kernel's
stdout and stderr to a private log (fd-level writes included: never to the output a student may
see), and starts the kernel: as root, `setpriv` into the uid; where the uid cannot reach the
kernel's Python (this machine's Python under /root, 0700) and mount namespaces are allowed, in a
mount namespace of its own where the blocking folder is an empty tmpfs with only the Python put
back, read-only (Gradescope's containers allow no namespaces: the image's setup.sh opens /root for
traversal). In a sandbox, the kernel has no network, so it listens on Unix sockets in its home and
the launcher relays the grader's TCP connections to them.
"""

import abc
import atexit
import ctypes
import errno
import functools
import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

UID_BASE = 2_000_000_000  # + the grading process's pid: unique among concurrent gradings, no account's
PORTS_FROM = 10_000  # kernels' ports from here to the ephemeral range: above most services' own
PORTS_BLOCK = 10  # a process's own ports (steady_ports): two kernels' at once
SETPRIV = ("--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all")
KERNEL_ENV = ("PATH", "LANG", "LC_ALL", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
              "NBGRADER_EXECUTION")  # nbgrader says a notebook is being autograded (its documented variable)
CHANNELS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")  # a Jupyter kernel's sockets
# in a sandbox, beside the grader's home: hidden folders (an empty read-only tmpfs, the kernel's own
# paths bound back), and scratch folders (the same, writable: private to the sandbox, 64 MB each)
SANDBOX_HIDE, SANDBOX_SCRATCH = ("/run",), ("/tmp", "/var/tmp", "/dev/shm")


def start(submission, tasks):
    """The confinement this process can give the kernel that runs in `submission`, or None.
    `tasks`: the processes and threads the kernel's own user may have (as root)."""
    steady_ports()
    kind = _kind()
    if kind is OwnUser:
        return OwnUser(submission, tasks)
    return kind(submission) if kind else None


def _kind():
    if os.geteuid() == 0 and shutil.which("setpriv"):
        return OwnUser
    return Sandbox if Sandbox.works() else None


@functools.cache
def steady_ports():
    """Kernels started by this process from now on get ports below the machine's ephemeral range.

    jupyter_client picks a kernel's five ports by binding port 0 and closing it; the kernel binds
    them once it has imported ipykernel, seconds later under load. Meanwhile the ephemeral range
    churns (a client waiting for its kernel reconnects every 100 ms, each time from a new
    ephemeral port) and can take one: measured with 10 confined kernels started at a time, 4 of
    600 died before kernel_info, "Address already in use", which loses that grading. No connect()
    takes a port below the range, and the range is shared out: each process starts at a block of
    its own (by its pid: processes that grade at once have pids apart), never where another
    process's kernel manager draws next, as jupyter_client's random draws could. Its LocalPortCache,
    which this replaces, keeps the kernels of one process apart; a port some process bound is
    skipped (the probe). Blocks by pid still meet (pids wrap; one block in 2,276 here: CI lost a
    grading to two kernels given port 22195 before either had bound it), so a chosen port is also
    claimed machine-wide until jupyter_client returns it (claim_port), and other processes skip it."""
    from jupyter_client.connect import LocalPortCache

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if low <= PORTS_FROM:  # no room below the range: jupyter_client's own way
        return

    span = low - PORTS_FROM

    class BelowEphemeral(LocalPortCache):
        def find_available_port(self, ip):
            start = os.getpid() * PORTS_BLOCK % (span - span % PORTS_BLOCK)  # now: a forked process has its own
            for offset in range(span):
                port = PORTS_FROM + (start + offset) % span
                if port in self.currently_used_ports:
                    continue
                claim = claim_port(port)
                if claim is None:
                    continue
                with socket.socket() as probe:
                    try:
                        probe.bind((ip, port))
                    except OSError:
                        claim.close()
                        continue
                self.currently_used_ports.add(port)
                self.claims[port] = claim
                return port
            return super().find_available_port(ip)

        def return_port(self, port):
            super().return_port(port)
            if port in self.claims:
                self.claims.pop(port).close()

    ports = BelowEphemeral()
    ports.currently_used_ports = LocalPortCache.instance().currently_used_ports
    ports.claims = {}  # port -> its claim_port socket
    LocalPortCache._instance = ports


def claim_port(port):
    """A socket that holds `port` for this process's kernel until it is closed or the process
    ends, or None when another process holds it: an abstract Unix socket named for the port, which
    every user's processes see (no file to share, nothing left behind by a killed process)."""
    claim = socket.socket(socket.AF_UNIX)
    try:
        claim.bind(f"\0autograder kernel port {port}")
    except OSError:
        claim.close()
        return None
    return claim


def describe():
    """One line for a grader's user: how the student's code will run here."""
    kind = _kind()
    if kind is OwnUser:
        return "Each notebook's kernel runs as a user of its own, with no privileges (autograder/confine.py)."
    if kind is Sandbox:
        return ("Each notebook's kernel runs in a sandbox (autograder/confine.py): no network, your home hidden, "
                "nothing writable but its own folder.")
    return unconfined_warning()


def unconfined_warning():
    return ("WARNING: not running as root, and this machine allows no user namespaces (or has no `unshare` and "
            "`setpriv`), so the student's notebook runs as this user "
            f"({os.environ.get('USER') or os.getuid()}), with access to everything this user can read and write. "
            "Grade untrusted submissions as root (each kernel then runs as a user of its own), on a machine that "
            "allows user namespaces, or on Gradescope.")


class Confinement(abc.ABC):
    """What both ways share: a temporary root (the kernel's home, otter's handover folder, the
    kernel's log, the kernel spec), JUPYTER_PATH and tempfile pointed at them, and the end."""

    def __init__(self, submission, launcher_args):
        self.submission = Path(submission)
        self.root = Path(tempfile.mkdtemp(prefix="kernel-"))
        atexit.register(shutil.rmtree, self.root, True)  # the handover folder outlives end(): see there
        os.chmod(self.root, 0o711)  # the kernel may pass through to its home, not list this folder
        self.home, self.handover = self.root / "home", self.root / "handover"  # otter's results pickle is made there
        self.log, self.specs = self.root / "kernel.log", self.root / "jupyter"
        for folder in (self.home / "tmp", self.handover, self.specs / "kernels" / "python3"):
            folder.mkdir(parents=True)
        os.chmod(self.handover, 0o711)
        for folder in (self.home, self.home / "tmp"):
            os.chmod(folder, 0o700)
        spec = {"argv": [sys.executable, "-I", str(Path(__file__).resolve()), *launcher_args, "--home", str(self.home),
                         "--handover", str(self.handover), "--log", str(self.log), "-f", "{connection_file}"],
                "display_name": "Python 3 (confined)", "language": "python"}
        (self.specs / "kernels" / "python3" / "kernel.json").write_text(json.dumps(spec))
        self._saved, self.ended = (os.environ.get("JUPYTER_PATH"), tempfile.tempdir), False
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(self.specs), self._saved[0]]))

    def kernel_starting(self):
        """Right before otter creates its results pickle (tempfile.mkstemp) and starts the kernel:
        the pickle is made in the handover folder, whose files the launcher gives to the kernel."""
        tempfile.tempdir = str(self.handover)

    @abc.abstractmethod
    def kill(self):
        """Kill every process of the kernel, until none is left."""

    def end(self):
        """After the kernel: kill(), then take the submission folder back. What the kernel printed
        (its log) and its home go; the handover folder stays for otter, which removes its pickle
        after the plugin has run."""
        self.kill()
        if self.ended:
            return
        self.ended = True
        for p in sorted(self.submission.rglob("*"), reverse=True):
            if p.is_symlink():  # the grader reads this folder after the kernel: no links out of it
                p.unlink()
        self._take_back()
        jupyter_path, tempfile.tempdir = self._saved
        os.environ.pop("JUPYTER_PATH") if jupyter_path is None else os.environ.__setitem__("JUPYTER_PATH", jupyter_path)
        for p in (self.home, self.specs, self.log):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    def _take_back(self):
        pass


class OwnUser(Confinement):
    """As root: the kernel runs as a uid of its own (see the module's docstring)."""

    def __init__(self, submission, tasks):
        uid = _free_uid(UID_BASE + os.getpid())
        _open_temporary_parents(submission)
        blocked = _reachable(Path(submission) / "x", uid)
        if blocked:
            raise RuntimeError(f"the submission folder {submission} is not reachable by an unprivileged user "
                               f"({blocked} is not open to others): grade from a folder others may traverse")
        super().__init__(submission, ["launch", "--uid", str(uid), "--tasks", str(tasks)])
        self.uid = uid
        for folder in (self.home, self.home / "tmp"):
            os.chown(folder, uid, uid)
        for p in [self.submission, *self.submission.rglob("*")]:
            os.lchown(p, uid, uid)

    def kill(self):
        for _ in range(100):  # a process may fork while the others die
            alive = processes_of(self.uid)
            if not alive:
                return
            for pid in alive:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        raise RuntimeError(f"processes of the kernel's user {self.uid} survived 100 rounds of SIGKILL")

    def _take_back(self):
        for p in [*self.submission.rglob("*"), self.submission]:
            os.chown(p, 0, 0)


class Sandbox(Confinement):
    """Not root: the kernel runs in namespaces of its own (see the module's docstring)."""

    _works = None

    def __init__(self, submission):
        super().__init__(submission, ["sandbox", "--write", str(Path(submission).resolve())])
        self.pid_file = self.root / "launcher.pid"

    @classmethod
    def works(cls):
        """Whether this machine lets this user make the sandbox (tried once: Ubuntu's AppArmor,
        for one, may forbid user namespaces or the mounts in them)."""
        if cls._works is None:
            probe = _sandboxed_command(_sandbox_spec(write=[]), [sys.executable, "-c", ""])
            try:
                cls._works = subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                cls._works = False
        return cls._works

    def kill(self):
        """The launcher's process group: the launcher, `unshare`, and the kernel, the first process
        of its own pid namespace, whose end kills the namespace's every process (one the kernel
        started in a session of its own too). Killing is asynchronous: wait until the group has
        ended, as its first process ends only once the namespace is empty."""
        try:
            pid = int(self.pid_file.read_text())
            os.killpg(pid, signal.SIGKILL)
        except (OSError, ValueError):  # never started, or already gone
            return
        deadline = time.monotonic() + 10
        while _group_runs(pid) and time.monotonic() < deadline:
            time.sleep(0.01)


def _proc(name):
    """(pid, the text of /proc/<pid>/<name>) of every process whose file could be read."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                yield int(entry.name), Path(entry.path, name).read_text()
            except OSError:  # ended meanwhile
                continue


def _group_runs(pgid):
    """Whether a process of the group `pgid` has not yet exited (a zombie has)."""
    for _, stat in _proc("stat"):
        state, _, group = stat.rsplit(")", 1)[1].split()[:3]  # after the command, which may hold anything
        if int(group) == pgid and state not in "ZX":
            return True
    return False


def processes_of(uid):
    """Pids whose real, effective or saved uid is `uid`."""
    found = []
    for pid, status in _proc("status"):
        uids = next((line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")), [])
        if str(uid) in uids[:3]:
            found.append(pid)
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


# ---- the launcher: run as `python -I confine.py launch|sandbox ...` (stdlib only) ----

def _reachable(path, uid):
    """Whether `uid` (no groups) can traverse every folder above `path`; the first that blocks it."""
    for parent in reversed(Path(path).parents):
        st = parent.stat()
        if not (st.st_mode & stat.S_IXOTH or (st.st_uid == uid and st.st_mode & stat.S_IXUSR)):
            return parent
    return None


def _launcher_start(home, log, info, connection):
    """What both launchers do first: the kernel's connection file (`info`) in its home, the
    kernel's output to the private log; the kernel's environment and command."""
    Path(connection).write_text(json.dumps(info))
    os.chmod(connection, 0o600)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    env = {k: os.environ[k] for k in KERNEL_ENV if k in os.environ}
    env.update(HOME=str(home), USER="student", LOGNAME="student", TMPDIR=str(Path(home, "tmp")),
               MPLCONFIGDIR=str(Path(home, ".matplotlib")), IPYTHONDIR=str(Path(home, ".ipython")))
    return env, [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection)]


def _python_paths():
    """The folders the kernel's Python needs."""
    return sorted({str(Path(sys.executable).resolve().parent), str(Path(sys.base_prefix).resolve()),
                   str(Path(sys.prefix).resolve())})


def launch(uid, tasks, home, handover, log, connection_file, kernel_args):
    """As root: the kernel as `uid` (OwnUser), which may have `tasks` processes and threads."""
    connection = Path(home, "connection.json")
    env, kernel = _launcher_start(home, log, json.loads(Path(connection_file).read_text()), connection)
    for f in [connection, *Path(handover).iterdir()]:  # otter's results pickle: the kernel's last cell writes it
        os.chown(f, uid, uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))  # counted for the uid, not root
    kernel = ["setpriv", f"--reuid={uid}", f"--regid={uid}", *SETPRIV, "--", *kernel, *kernel_args]
    hidden = {_reachable(Path(p, "x"), uid) for p in _python_paths()} - {None}  # folders the uid cannot pass
    if hidden:  # each an empty tmpfs with the Python bound back: the uid passes, sees nothing else there
        kernel = ["unshare", "--mount", "--propagation", "private", sys.executable, "-I", __file__, "mounts",
                  json.dumps({"hide": sorted(map(str, hidden)), "read": _python_paths()}), *kernel]
    os.execvpe(kernel[0], kernel, env)


def sandbox(write, home, handover, log, connection_file, kernel_args):
    """Not root: the kernel in namespaces of its own (Sandbox). It has no network: it listens on
    Unix sockets in its home, and this process, outside, relays the grader's TCP connections to
    them until the kernel ends."""
    outer = json.loads(Path(connection_file).read_text())
    inner = {**outer, "transport": "ipc", "ip": str(Path(home, "kernel"))}  # sockets at <ip>-<port>
    env, kernel = _launcher_start(home, log, inner, Path(home, "connection.json"))
    Path(home).parent.joinpath("launcher.pid").write_text(str(os.getpid()))
    signal.signal(signal.SIGINT, lambda *_: None)  # jupyter_client interrupts the process group: for the kernel
    for channel in CHANNELS:
        _relay((outer["ip"], outer[channel]), f"{inner['ip']}-{outer[channel]}")
    spec = _sandbox_spec(write=[write, str(home), str(handover)])
    child = subprocess.Popen(_sandboxed_command(spec, [*kernel, *kernel_args]), env=env)
    sys.exit(child.wait())


def _sandbox_spec(write):
    """`mounts`' spec for a sandbox (the grader's process probes it, the launcher uses it): the
    grader's home and SANDBOX_HIDE hidden, SANDBOX_SCRATCH private, the Python readable, `write`
    writable, every other mount read-only."""
    return {"hide": [str(Path.home().resolve()), *SANDBOX_HIDE], "scratch": SANDBOX_SCRATCH,
            "read": _python_paths(), "write": write, "read_only": True}


def _sandboxed_command(spec, command):
    """`command` in new user, mount, network and pid namespaces, arranged by `mounts(spec)`, with
    no capabilities left; when its first process ends, every process of the namespace ends."""
    return ["unshare", "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork", "--kill-child",
            "--mount-proc", sys.executable, "-I", __file__, "mounts", json.dumps(spec),
            "setpriv", "--no-new-privs", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--",
            *command]


def _relay(address, path):
    """Accept TCP connections at `address`; join each to a new connection to the Unix socket
    `path` (the kernel binds it once it has started: wait for it)."""
    listener = socket.create_server(address)

    def join(outer):
        inner = socket.socket(socket.AF_UNIX)
        for _ in range(1200):
            try:
                inner.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        else:
            outer.close()
            return
        for a, b in ((outer, inner), (inner, outer)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def serve():
        while True:
            threading.Thread(target=join, args=(listener.accept()[0],), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()


def _pump(source, target):
    try:
        while data := source.recv(1 << 16):
            target.sendall(data)
    except OSError:
        pass
    for s in (source, target):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# mount(2)'s flags, and the per-mount options of /proc/self/mountinfo that a remount must repeat
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
KEPT_OPTIONS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": 8, "noatime": 1024, "nodiratime": 2048,
                "relatime": 1 << 21}
VIRTUAL = {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs", "tracefs", "securityfs", "pstore",
           "bpf", "hugetlbfs", "fusectl", "configfs", "binfmt_misc", "autofs", "nsfs", "efivarfs", "rpc_pipefs"}


def mounts(spec, command):
    """In the kernel's own mount namespace, then exec `command`. spec: "hide" and "scratch", folders
    that become an empty tmpfs each (read-only, writable); "read" and "write", paths bound back
    where they were (under a hidden folder or not), writable for "write"; "read_only": every other
    mount made read-only first."""
    libc = ctypes.CDLL(None, use_errno=True)

    def mount(source, target, fstype, flags, data=None):
        if libc.mount(*(x.encode() if x else None for x in (source, target, fstype)), flags,
                      data.encode() if data else None):
            error = ctypes.get_errno()
            raise OSError(error, f"mount {source or ''} on {target}: {os.strerror(error)}")

    def kept(target):
        """The options of the mount now at `target`: a remount must repeat those the kernel locked."""
        found = [fields for fields in _mountinfo() if fields[0] == target]
        return sum(KEPT_OPTIONS.get(o, 0) for o in found[-1][1]) if found else 0

    paths = {p: os.open(p, os.O_PATH) for p in [*spec.get("read", ()), *spec.get("write", ())] if os.path.exists(p)}
    if spec.get("read_only"):
        for target, _, fstype in _mountinfo():
            if fstype not in VIRTUAL:
                try:
                    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept(target))
                except OSError as e:
                    if e.errno not in (errno.EINVAL, errno.ENOENT):  # covered by a later mount (/proc's own)
                        raise
    hidden = []
    for folder, writable in [*((f, True) for f in spec.get("scratch", ())), *((f, False) for f in spec["hide"])]:
        if os.path.isdir(folder):  # (one under a scratch folder is gone already)
            mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=64m")
            hidden += [] if writable else [folder]
    for path in sorted(paths, key=len):  # through the descriptors opened before the folders were hidden
        os.makedirs(path, exist_ok=True)
        mount(f"/proc/self/fd/{paths[path]}", path, None, MS_BIND | MS_REC)
        writable = path in spec.get("write", ())
        mount(None, path, None, MS_REMOUNT | MS_BIND | (0 if writable else MS_RDONLY) | kept(path))
        os.close(paths[path])
    for folder in hidden:
        mount(None, folder, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=755,size=64m")
    os.chdir(os.getcwd())  # the working folder by its path again: through the mounts above, not under them
    os.execvp(command[0], command)


def _mountinfo():
    """(mount point, per-mount options, file system type) of each mount, parents first."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, rest = line.partition(" - ")
        fields = fields.split()
        target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])  # octal: \\040 is a space
        found.append((target, fields[5].split(","), rest.split()[0]))
    return found


def _main(argv):
    command = argv[0]
    if command in ("launch", "sandbox"):  # launch --uid U --tasks T | sandbox --write W; then --home H
        f = argv.index("-f")  # --handover D --log L -f CONNECTION [kernel args (nbclient's)]
        o = dict(zip(argv[1:f:2], argv[2:f:2]))
        common = (o["--home"], o["--handover"], o["--log"], argv[f + 1], argv[f + 2:])
        launch(int(o["--uid"]), int(o["--tasks"]), *common) if command == "launch" else sandbox(o["--write"], *common)
    elif command == "mounts":
        mounts(json.loads(argv[1]), argv[2:])
    else:
        raise SystemExit(f"confine.py: unknown command {command!r}")


if __name__ == "__main__":
    _main(sys.argv[1:])
