"""The suite's own throttle (cores.py): a held core is no one else's, a forked child keeps none."""

import os
import signal
import subprocess
import sys

import cores

TRY_SLOT = ("import fcntl, sys\ntry:\n    fcntl.flock(open(sys.argv[1], 'a'), fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
            "except BlockingIOError:\n    sys.exit(1)")


def free(slot):
    """Whether another process could take `slot` now."""
    return subprocess.run([sys.executable, "-c", TRY_SLOT, str(slot)]).returncode == 0


def test_a_held_core_is_no_one_elses_and_a_forked_child_keeps_none(tmp_path, monkeypatch):
    monkeypatch.setenv(cores.ENV, str(tmp_path))
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    with cores.core():
        assert not free(tmp_path / "0")
        child = os.fork()
        if child == 0:  # a process pool's worker, forked while the slot is held
            signal.pause()
    try:
        assert free(tmp_path / "0")  # let go, though the child still runs
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
