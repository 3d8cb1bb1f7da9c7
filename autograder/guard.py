"""Bounds on the student's cells while the grader re-executes the notebook: this module runs in the
notebook's kernel, installed by the cell the otter plugin puts first (plugin.before_execution), or
nbgrader's BoundedExecute (which leaves the per-cell time limit to nbgrader's own interrupt).

otter 7 has no per-cell timeout, so a cell that loops, sleeps or floods its output would hold
the whole grading. Each of the student's cells gets:
- a time limit: SIGALRM raises CellTimeLimit in the cell (a BaseException, so a bare
  `except Exception` in student code does not swallow it); the cell fails, the next one runs;
- an output limit: what the cell prints past the limit is dropped, with one note;
- a data limit for the kernel process: an allocation past it fails with MemoryError in the cell
  instead of the machine killing the kernel.
What this cannot stop (a cell that ignores SIGALRM, os._exit, a kill from outside) is bounded
from outside the kernel: the plugin starts a Watchdog in otter's process, which ends the run at the
assignment's limit, and the harness writes the results from the plugin's own verdicts.
"""

import gc
import json
import resource
import signal
import sys
import threading
import time

import psutil


class CellTimeLimit(BaseException):
    """A cell ran past the grader's per-cell time limit."""


class _Cell:
    """Which of the student's cells is running: cells are told apart by their source, in order."""

    def __init__(self, cells, progress):
        self.cells, self.progress, self.next, self.current = cells, progress, 0, None
        self.printed, self.cut = 0, False

    def start(self, source):
        self.printed, self.cut = 0, False
        found = next((i for i in range(self.next, len(self.cells)) if self.cells[i][1] == source), None)
        self.current = None if found is None else self.cells[found][0]
        if found is not None:
            self.next = found + 1
            with open(self.progress, "w") as f:  # read by the plugin if this kernel never comes back
                json.dump({"cell": self.current, "started": time.time()}, f)
        return self.current is not None


class _CappedStream:
    """A stream that stops passing text on once the running cell has printed `limit` characters."""

    def __init__(self, stream, cell, limit):
        self._stream, self._cell, self._limit = stream, cell, limit

    def write(self, text):
        cell = self._cell
        cell.printed += len(text)
        if cell.printed <= self._limit:
            return self._stream.write(text)
        if not cell.cut:
            cell.cut = True
            self._stream.write(f"\n[output cut by the grader: this cell printed over {self._limit:,} characters]\n")
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def install(cells: list[tuple[int, str]], time_limit: int, output_limit: int, data_limit: int,
            progress: str) -> None:
    """Arm the bounds for the rest of this kernel's life.

    Args:
        cells: [(number, source)] of the student's code cells, in notebook order.
        time_limit: seconds each of those cells may run.
        output_limit: characters each of them may print.
        data_limit: bytes of data (RLIMIT_DATA) the kernel may map.
        progress: a file recording which cell started last.
    """
    shell = get_ipython()  # noqa: F821  (defined in the kernel)
    cell = _Cell([(n, s) for n, s in cells], progress)

    def on_alarm(signum, frame):
        raise CellTimeLimit(f"cell {cell.current} ran past the grader's limit of {time_limit} s and was stopped")

    def pre_run(info):
        if cell.start(info.raw_cell):
            signal.setitimer(signal.ITIMER_REAL, time_limit)

    def post_run(result):
        signal.setitimer(signal.ITIMER_REAL, 0)
        error = result.error_in_exec
        if isinstance(error, MemoryError) or "can't allocate memory" in str(error or ""):
            # the traceback keeps the failed cell's frames, and what they allocated, alive: held
            # by the error, by sys, and by IPython's traceback printer (kept for %debug); left
            # held, the next cells run at the data limit and the kernel can die in one of them
            error.__traceback__ = sys.last_traceback = sys.last_value = shell.InteractiveTB.tb = None
            gc.collect()

    signal.signal(signal.SIGALRM, on_alarm)
    shell.events.register("pre_run_cell", pre_run)
    shell.events.register("post_run_cell", post_run)
    sys.stdout = _CappedStream(sys.stdout, cell, output_limit)
    sys.stderr = _CappedStream(sys.stderr, cell, output_limit)
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard == resource.RLIM_INFINITY or hard > data_limit:
        resource.setrlimit(resource.RLIMIT_DATA, (data_limit, data_limit))


def install_cell(cells: list[tuple[int, str]], time_limit: int, output_limit: int, data_limit: int,
                 progress: str) -> str:
    """The source of the first cell a grader puts in the notebook: `install` with these arguments
    (see there), from the copy of this package beside the notebook."""
    return (f"from autograder import guard\nguard.install({cells!r}, {time_limit}, {output_limit}, {data_limit}, "
            f"{str(progress)!r})\ndel guard")


class Watchdog(threading.Thread):
    """Ends the re-execution at its time limit by killing everything this process started
    since (the kernel and its children): otter then stops, and the harness keeps the file points.
    One grading to a process (run_otter.py, `nbgrader autograde`): whatever else the process
    started meanwhile is killed too."""

    def __init__(self, limit):
        super().__init__(daemon=True)
        self.limit, self.fired, self._done = limit, False, threading.Event()
        self._before = {p.pid for p in psutil.Process().children(recursive=True)}

    def run(self):
        if self._done.wait(self.limit):
            return
        self.fired = True
        for p in psutil.Process().children(recursive=True):
            if p.pid not in self._before:
                p.kill()

    def stop(self):
        self._done.set()
