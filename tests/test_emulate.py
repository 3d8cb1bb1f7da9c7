"""emulate.py's own rules, without a grading: the shared mount point /autograder."""

import os

from autograder import emulate


def test_the_mount_point_outlives_every_run_on_the_machine(tmp_path, monkeypatch):
    """A run that ends while another process's run goes on leaves the folder (removing it would
    unmount the other run's /autograder); the last run removes the folder an emulation made, and
    never one that was there before."""
    monkeypatch.setattr(emulate, "MOUNT_POINT", tmp_path / "autograder")
    entered, leave = os.pipe(), os.pipe()
    with emulate.mount_point():
        child = os.fork()
        if child == 0:  # another process's run, which starts after this one and ends last
            try:
                with emulate.mount_point():
                    os.write(entered[1], b"x")
                    os.read(leave[0], 1)
            finally:
                os._exit(0)
        os.read(entered[0], 1)
    assert emulate.MOUNT_POINT.is_dir(), "removed under the other process's run"
    os.write(leave[1], b"x")
    os.waitpid(child, 0)
    assert not emulate.MOUNT_POINT.exists()

    emulate.MOUNT_POINT.mkdir()  # someone's own folder
    with emulate.mount_point():
        pass
    assert emulate.MOUNT_POINT.is_dir()
