"""Shared fixtures: one fresh build (`python -m autograder all` in a copy of the repository:
release, zip, samples, nbgrader course), its graded sample submissions, and the catalogue of
realistic submissions graded in its export-zip form, made in the background (see Background)
while the other tests run."""

import csv
import ctypes
import http.server
import json
import multiprocessing
import os
import signal
import shutil
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import Future

import pytest

from autograder import build, grade
from autograder.assignment import get
from autograder.nbgrader_course import COURSE
from catalogue import make

WORKERS = os.cpu_count() or 1
# the catalogue's lane, which the suite's last tests wait for: one process more than the cores, so
# that a grading that sleeps to a limit or waits for its kernel leaves no core idle
CATALOGUE_WORKERS = WORKERS + 1
REPO = build.REPO
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # MNIST_DATA_ROOT kept
AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="needs root (Gradescope's /autograder in a private mount "
                                "namespace, or the kernel run as another user); CI runs as root")


class Background:
    """Session fixtures made in one process, forked when the first test starts, while the other
    tests run: gradings are process trees, and the cores a test leaves idle (waiting on a kernel, a
    timeout, a pool's last job) go to them. Forked then, it never sees what a test changes later in
    this process (the environment, the working folder, a monkeypatched module).

    A lane runs one job at a time: of its jobs whose needs are made, the one declared first. Its
    result comes back pickled as soon as it is made; one that fails, fails the tests
    that use it and no other. The process's output goes to background.log in pytest's base
    folder, and how long each job took to pytest's summary. Modules that use a `late` job's
    fixture run last, those that use another next."""

    def __init__(self):
        self.jobs = {}  # name -> (function, needs, lane, late), in declaration order
        self.futures = {}  # name -> Future, in pytest's process
        self.seconds = {}  # name -> how long it took to make, as they come back
        self.failures = {}  # name -> the traceback of a job that failed
        self.process = None

    def fixture(self, lane, needs=(), late=False):
        """Decorator: `function(tmp_path_factory, *needed results)`, made in the background, as a
        session fixture of the function's name."""
        def register(function):
            name = function.__name__
            self.jobs[name] = (function, tuple(needs), lane, late)

            def result(background_jobs):
                return self.result(name)
            result.__doc__ = function.__doc__
            return pytest.fixture(scope="session", name=name)(result)
        return register

    def rank(self, fixturenames):
        """0: no job's fixture; 1: a job's; 2: a late job's."""
        used = [self.jobs[n][3] for n in fixturenames if n in self.jobs]
        return 0 if not used else 1 + any(used)

    def start(self, items, tmp_path_factory):
        """Fork the process that makes the jobs the tests `items` use (a test skipped for certain,
        as needs_root skips, uses none), and what those jobs need."""
        items = [item for item in items if not any(m.name == "skip" or (m.name == "skipif" and m.args[:1] == (True,))
                                                   for m in item.iter_markers())]
        wanted, todo = set(), [n for item in items for n in getattr(item, "fixturenames", ()) if n in self.jobs]
        while todo:  # the jobs the selected tests use, and what those need
            name = todo.pop()
            if name not in wanted:
                wanted.add(name)
                todo += self.jobs[name][1]
        if not wanted:
            return
        self.futures = {name: Future() for name in wanted}
        context = multiprocessing.get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        log = tmp_path_factory.getbasetemp() / "background.log"
        jobs = {name: job for name, job in self.jobs.items() if name in wanted}
        self.process = context.Process(target=self._run, args=(jobs, tmp_path_factory, writer, log))
        self.process.start()
        writer.close()
        threading.Thread(target=self._receive, args=(reader, log), daemon=True).start()

    def result(self, name):
        return self.futures[name].result()

    def stop(self):
        """At the session's end: whatever still runs (tests stopped early) ends with pytest."""
        if self.process and self.process.is_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process:
            self.process.join()

    def _receive(self, reader, log):
        try:
            while not all(f.done() for f in self.futures.values()):
                name, ok, value, self.seconds[name] = reader.recv()
                if ok:
                    self.futures[name].set_result(value)
                else:
                    self.failures[name] = value
                    self.futures[name].set_exception(RuntimeError(f"background job {name} failed:\n{value}"))
        except EOFError:
            for name, future in self.futures.items():
                if not future.done():
                    future.set_exception(RuntimeError(f"the background process ended before {name} was made: "
                                                      f"see {log}"))

    @staticmethod
    def _run(jobs, tmp_path_factory, writer, log):
        os.setpgid(0, 0)  # its gradings' processes too: stop() ends them all
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: it ends with pytest's process
        with open(log, "a", buffering=1) as out:
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            sys.stdout = sys.stderr = out  # not pytest's capture, which this process never reads
            made, finished, sending, changed = {}, set(), threading.Lock(), threading.Condition()

            def send(name, ok, value, seconds):
                print(f"background job {name} {'made' if ok else 'failed'} in {seconds:.0f} s", flush=True)
                with sending:
                    try:
                        writer.send((name, ok, value, seconds))
                    except Exception:  # a result that does not pickle
                        writer.send((name, False, traceback.format_exc(), seconds))

            def lane(names):
                pending = list(names)
                while pending:
                    with changed:
                        changed.wait_for(lambda: any(finished.issuperset(jobs[n][1]) for n in pending))
                        name = next(n for n in pending if finished.issuperset(jobs[n][1]))
                        pending.remove(name)
                    function, needs, _, _ = jobs[name]
                    started = time.monotonic()
                    try:
                        missing = [need for need in needs if need not in made]
                        assert not missing, f"it needs {', '.join(missing)}, which failed"
                        made[name] = function(tmp_path_factory, *(made[need] for need in needs))
                        send(name, True, made[name], time.monotonic() - started)
                    except BaseException:
                        traceback.print_exc()
                        send(name, False, traceback.format_exc(), time.monotonic() - started)
                    finally:
                        with changed:
                            finished.add(name)
                            changed.notify_all()

            lanes = {}
            for name, (_, _, lane_name, _) in jobs.items():
                lanes.setdefault(lane_name, []).append(name)
            threads = [threading.Thread(target=lane, args=(names,)) for names in lanes.values()]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()


BACKGROUND = Background()


def pytest_collection_modifyitems(items):
    """Tests that need a build are marked `needs_build`: `pytest tests -m "not needs_build"` is the
    suite's fast part (a few minutes, any user). Whole modules are reordered, so that each module's
    own fixtures are made once: first those that wait for no background job, last those that wait
    for a late one (see Background)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if BACKGROUND.rank(names) or "graded" in names:  # a module's own `graded` grades too
            item.add_marker(pytest.mark.needs_build)
    rank = {}
    for item in items:
        rank[item.module] = max(rank.get(item.module, 0), BACKGROUND.rank(getattr(item, "fixturenames", ())))
    items.sort(key=lambda item: rank[item.module])


def pytest_terminal_summary(terminalreporter):
    """How long each background job took; the end of a failed one's traceback, last, where a CI
    log cut short in the middle still shows it."""
    if BACKGROUND.seconds:
        terminalreporter.write_line("background jobs: " + ", ".join(
            f"{name} {s:.0f} s" for name, s in BACKGROUND.seconds.items()))
    for name, text in BACKGROUND.failures.items():
        terminalreporter.write_line(f"background job {name} failed:\n" + "\n".join(text.splitlines()[-25:]))


@pytest.fixture(scope="session", autouse=True)
def background_jobs(request, tmp_path_factory):
    BACKGROUND.start(request.session.items, tmp_path_factory)
    yield BACKGROUND
    BACKGROUND.stop()


def autograder_cli(*args, cwd, env=USER_ENV):
    """`python -m autograder ...` run in `cwd` as a user runs it: without PYTHONPATH, so that in a
    copy of the repository it is the copy's package that runs."""
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True)


def copy_repository(copy):
    """The repository's files as git would commit them (tracked, or new and not ignored), in `copy`."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, listed):
        if (REPO / rel).is_file():  # a tracked file deleted in the checkout is not part of it
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, copy / rel)


@BACKGROUND.fixture(lane="catalogue")
def built(tmp_path_factory):
    """The suite's one build: `python -m autograder all` in a copy of the repository (copy_repository),
    which builds (release, zip, samples, nbgrader course) and grades the samples, the repository
    untouched; `grade` ran in the copy first, before any build. Tests that grade in the copy give
    `grade` an --out of their own: the default folder holds the samples' grades (`bulk`)."""
    copy = tmp_path_factory.mktemp("repo")
    copy_repository(copy)
    before_build = autograder_cli("grade", "anything.zip", cwd=copy)
    ran_all = autograder_cli("all", cwd=copy)
    if ran_all.returncode:
        raise RuntimeError(f"`python -m autograder all` exited {ran_all.returncode}:\n{ran_all.stderr[-3000:]}")
    a = get()

    def inside(path):  # where the copy's build put what the checkout's puts at `path`
        return copy / path.relative_to(REPO)

    return {"copy": copy, "before_build": before_build, "all": ran_all, "release_dir": inside(build.release_of(a)),
            "zip_path": inside(a.zip), "samples_dir": inside(a.samples), "course": inside(COURSE),
            "grades": inside(a.grades), "solution": copy / "build" / a.name / "dist" / "autograder" / a.notebook}


@BACKGROUND.fixture(lane="catalogue", needs=("built",))
def made(tmp_path_factory, built):
    """(the folder, {name: why it could not be made}) of every catalogue entry in its export-zip
    form, its other upload forms in the folder's forms/."""
    return make.make(built, tmp_path_factory.mktemp("catalogue") / "submissions", CATALOGUE_WORKERS)


@BACKGROUND.fixture(lane="catalogue", needs=("built", "made"), late=True)
def catalogue(tmp_path_factory, built, made):
    """(the submissions folder, {name: Graded}) of every catalogue entry, graded in its export-zip
    form, their grades (grade_all's output) in the grades/ folder beside the submissions."""
    return make.grade_made(built, made, made[0].parent / "grades", CATALOGUE_WORKERS)


@pytest.fixture(scope="session")
def bulk(built):
    """The sample submissions graded in bulk by `all`: (its output folder, {name: Graded}), each
    Graded read back from the folder as grade_all returned it (its status from the CSV, its scores
    from its results.json)."""
    out = built["grades"]
    rows = [r for r in csv.DictReader(open(out / "final_grades.csv"))
            if r[grade.SCORES_DICT_FILE_KEY] != grade.POINTS_POSSIBLE_LABEL]
    names = [r[grade.SCORES_DICT_FILE_KEY] for r in rows]
    graded = {}
    for name, r in zip(names, rows):
        results = json.loads((out / "results" / grade.feedback_page(name, names)).with_suffix(".json").read_text())
        graded[name.removesuffix(".zip")] = grade.Graded(name, grade.scores_of(results), results,
                                                         r[grade.SCORES_DICT_GRADING_STATUS_KEY])
    return out, graded


@pytest.fixture(scope="session")
def graded(bulk):
    return bulk[1]


@pytest.fixture
def mnist_mirror(tmp_path_factory):
    """torchvision's MNIST mirror stood in for by a local HTTP server (the internet is not needed):
    serves the verified t10k files of the data root; yields (its URL, the paths it was asked for)."""
    from autograder.saving_and_loading.model import mnist_files

    served = tmp_path_factory.mktemp("mirror")
    for gz in mnist_files("t10k").values():
        shutil.copy(gz, served / gz.name)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, fmt, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}/", requests
        server.shutdown()
