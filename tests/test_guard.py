"""The whole re-execution's time limit (run_time_limit_s): what a cell that defeats its own
per-cell limit meets. The watchdog ends everything the grading process started after it, and the
submission still gets the points its sealed files earned, with the limit named."""

import re
import subprocess
import sys
import time
import zipfile

import pytest

from autograder import grade
from autograder.guard import Watchdog
from autograder.saving_and_loading import ASSIGNMENT


def test_the_watchdog_kills_what_started_after_it_and_only_that():
    before = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dog = Watchdog(1)
        dog.start()
        after = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        assert after.wait(timeout=20) == -9 and dog.fired
        assert before.poll() is None  # started before the watchdog: not the notebook's
    finally:
        before.kill()


def test_a_stopped_watchdog_kills_nothing():
    dog = Watchdog(1)
    dog.start()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    dog.stop()
    time.sleep(1.5)
    assert child.wait(timeout=10) == 0 and not dog.fired


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
