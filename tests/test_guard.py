"""The whole re-execution's time limit (run_time_limit_s): what a cell that defeats its own
per-cell limit meets. The watchdog ends everything the grading process started after it, and the
submission still gets the points its sealed files earned, with the limit named. And the data
limit costs the cell that reaches it only."""

import json
import re
import subprocess
import sys
import zipfile

import pytest

from autograder import grade
from autograder.saving_and_loading import ASSIGNMENT


HOG_THEN_ALLOCATE = '''
import os, sys
from IPython.core.interactiveshell import InteractiveShell
from autograder.guard import install_cell
shell = InteractiveShell.instance()
shell.run_cell(install_cell([], 60, 10_000, 1_000_000_000, os.devnull))  # as the kernel's first cell
hog = "def hog():\\n    held = []\\n    while True:\\n        held.append(bytearray(2**27))\\nhog()"
failed = shell.run_cell(hog).error_in_exec
after = shell.run_cell("room = bytearray(2**29)")  # half the limit: free once the hog's frames are gone
print("errors:", type(failed).__name__, type(after.error_in_exec).__name__, file=sys.__stderr__)
'''


def test_a_cell_that_reaches_the_data_limit_leaves_the_next_cells_room():
    """What the failed cell allocated is freed: its frames are held by the error, sys and
    IPython's traceback printer until the guard lets them go."""
    run = subprocess.run([sys.executable, "-c", HOG_THEN_ALLOCATE], capture_output=True, text=True, timeout=120)
    assert "errors: MemoryError NoneType" in run.stderr, run.stdout[-2000:] + run.stderr[-2000:]


WATCHDOG = '''
import json, subprocess, sys, time
from autograder.guard import Watchdog
stubborn = [sys.executable, "-c", "import signal, sys, time\\n"
            "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM): signal.signal(s, signal.SIG_IGN)\\n"
            "time.sleep(float(sys.argv[1]))"]
before = subprocess.Popen([*stubborn, "60"])
dog = Watchdog(2)
dog.start()
if sys.argv[1] == "stopped":
    dog.stop()
after = subprocess.Popen([*stubborn, "3" if sys.argv[1] == "stopped" else "60"])
try:
    ended = after.wait(timeout=20)
except subprocess.TimeoutExpired:
    ended = "still running"
    after.kill()
dog.join(5)
print(json.dumps({"after": ended, "before": before.poll(), "fired": dog.fired, "alive": dog.is_alive()}))
before.kill()
'''


@pytest.mark.parametrize("case, expected", [
    ("running", {"after": -9, "before": None, "fired": True, "alive": False}),  # before: not the notebook's
    ("stopped", {"after": 0, "before": None, "fired": False, "alive": False})])
def test_the_watchdog_kills_what_its_process_started_after_it_and_only_that(case, expected):
    """In a process of its own, as in a grading: the watchdog kills every child its process
    started after it, which in pytest's process would include the background lanes' gradings."""
    run = subprocess.run([sys.executable, "-c", WATCHDOG, case], capture_output=True, text=True, timeout=60)
    assert run.stdout and json.loads(run.stdout) == expected, run.stderr[-2000:]


LIMIT_S = 12  # the reference notebook's graded run takes about 20 s of kernel time here


@pytest.fixture(scope="module")
def past_the_run_limit(built, tmp_path_factory):
    """The reference graded by a zip whose run_time_limit_s is LIMIT_S: the kernel is still
    training when the watchdog ends it."""
    tmp = tmp_path_factory.mktemp("run-limit")
    declaration = f"autograder/{ASSIGNMENT.package}/__init__.py"
    with zipfile.ZipFile(built["zip_path"]) as src, zipfile.ZipFile(tmp / "ag.zip", "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename in (declaration, f"files/{declaration}"):
                text = data.decode()
                assert text.count("data_env=DATA_ENV,") == 1
                data = text.replace("data_env=DATA_ENV,", f"data_env=DATA_ENV, run_time_limit_s={LIMIT_S},").encode()
            dst.writestr(item, data)
    return grade.grade_one(built["samples_dir"] / "reference.zip", tmp / "ag.zip")


def test_past_the_run_limit_results_name_the_limit_and_the_cell(past_the_run_limit):
    g = past_the_run_limit
    assert re.search(rf"The notebook ran past the grader's limit of {LIMIT_S} s and was stopped, in cell \d+ \(`",
                     g.results["output"]), g.results["output"][:500]
    # every question is scored (how far the re-run got, and so which files it reproduced, depends
    # on the machine's speed), the grader's own checks ran: the resume picture is there
    assert {q: m for q, (_, m) in g.scores.items()} == ASSIGNMENT.questions and g.total < 16
    assert g.status == "Completed" and not g.flagged and '<img alt="loss curves' in g.results["output"]
