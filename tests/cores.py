"""The suite's heavy runs (a student's notebook run, a grading) take a core each, machine-wide.

The background lanes (conftest.Background) and the foreground tests grade at the same time. More
gradings at once than cores costs each far more CPU: the reference graded N at a time on a 2-core
AMD EPYC took 31.0 CPU-s a grading for N = 1, 31.1 for 2, 45.1 for 3, 44.1 for 4 (and 23 s of
wall time a grading with 3 at once against 16.4 with 2), so CI ran longer for the same work.
A run holds one of os.cpu_count() lock files (flock) in the folder $SUITE_CORES names: the
session sets it once, and every process of the session, forked or started, sees it. Unset (a
test run on its own, a benchmark), nothing waits.
"""

import contextlib
import fcntl
import functools
import os
import time
from pathlib import Path

ENV = "SUITE_CORES"
_held = set()  # the slot files this process holds
# a forked process (a worker of a process pool) must not keep a copy of its parent's locks: the
# slot would stay taken after the parent let it go
os.register_at_fork(after_in_child=lambda: [_held.pop().close() for _ in range(len(_held))])


@contextlib.contextmanager
def core():
    """Wait for a free core (a slot file no process has locked), hold it while the block runs."""
    folder = os.environ.get(ENV)
    if not folder:
        yield
        return
    while True:
        for i in range(os.cpu_count() or 1):
            slot = open(Path(folder, str(i)), "a")
            try:
                fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                slot.close()
                continue
            _held.add(slot)
            try:
                yield
            finally:
                _held.discard(slot)
                slot.close()
            return
        time.sleep(0.1)


def gated(function):
    """`function`, each call holding a core."""
    @functools.wraps(function)
    def run(*args, **kwargs):
        with core():
            return function(*args, **kwargs)
    return run
