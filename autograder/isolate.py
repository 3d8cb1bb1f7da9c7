"""The grader's own interpreters: the file checks on the submitted originals and the test cases the
grader judges (kernel-free, or on observed variables: observe.py), both run after the notebook's
kernel has ended, in fresh interpreters.

Called by the graders (the otter plugin, the nbgrader preprocessors):
- `seal`, before any student code runs, moves the submitted checkpoints/ out of the re-run's way
  (the notebook writes the same names) into a private folder, and returns each contract file's
  SHA-256. The grader's process keeps the digests, where the notebook cannot reach them;
- `grade_files`, after the kernel, confirms the digests and runs the lesson's file checks on the
  originals (checker.py), then the test cases it judges on the re-run's files with those
  verdicts (integrity.py), in one interpreter: one torch import for both instead of one each
  before and after the kernel; it returns the verdicts and the trusted outcome of those cases.
  A file that changed while the notebook ran is not checked: its check's verdict is `changed`.
The checks share that interpreter while they succeed; a check that hangs or kills it gets a
`timeout` or `checker_crashed` verdict and the rest go on in a new one, the judged cases in
the last. `python -P`, with this package on PYTHONPATH, keeps the submission folder (and its copy
of the package, within the kernel's reach) off sys.path. Imports no torch: this runs inside
otter's (or nbgrader's) own process.
"""

import hashlib
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from . import integrity
from .assignment import Assignment
from .codes import Verdict, problem

PACKAGE = Path(__file__).resolve().parent
CHECKER = (sys.executable, "-P", "-m", "autograder", "check")


def seal(assignment, folder, private):
    """Move folder/checkpoints to private/checkpoints, before any student code runs.

    Returns:
        dict: {contract path: SHA-256 of the submitted file, or None when it was not submitted}.
    """
    if (folder / "checkpoints").is_dir():
        shutil.move(folder / "checkpoints", private / "checkpoints")
    return {f.path: _digest(private / f.path) for f in assignment.contract}


class Checked(NamedTuple):
    """What the grader's own interpreters found after the kernel."""

    verdicts: dict  # {check name: verdict dict}, for every file check
    trusted: dict  # {question: {case name: (passed, message)}} of every case the grader judges
    flags: list  # for a TA: each sealed file the notebook changed or removed while it ran


def grade_files(assignment, private, sealed, tests, submission, kernel_free_limit=None, probes=None):
    """After the kernel: the file checks on the originals `seal` moved to `private`, then the
    cases of `tests` ({question: otter test file source}) the grader judges, in `submission`, with
    the lesson's `probes` of this grading (observe.probed). The one call both graders make (the
    otter plugin, nbgrader's RecheckKernelFree).

    Returns:
        Checked: the verdicts of every file check of `assignment` (a check whose file changed gets
        `changed` instead of running), the trusted outcome of the cases it judges (failed, with
        the reason, when their interpreter did not finish), the flags for a TA. The time limits
        are the assignment's; `kernel_free_limit` replaces its kernel_free_time_limit_s.
    """
    changed = [f for f in assignment.contract if _digest(private / f.path) != sealed.get(f.path)]
    verdicts = {}
    for f in changed:
        verdicts.setdefault(f.check, Verdict(f.check)).problems.append(problem("changed", name=f.path))
    verdicts = {name: v.to_dict() for name, v in verdicts.items()}
    pending = [name for name in assignment.file_checks if name not in verdicts]
    verdicts, kernel_free = run_checks(pending, private, verdicts, tests, submission, assignment.check_time_limit_s,
                                       kernel_free_limit or assignment.kernel_free_time_limit_s,
                                       checker=(*CHECKER, "--assignment", assignment.name), probes=probes)
    return Checked(verdicts, integrity.trusted_outcome(tests or {}, *kernel_free, assignment.observed_variables),
                   [f"{f.path} was sealed before the notebook ran and changed while it ran" for f in changed])


def run_checks(names, submitted, verdicts=None, tests=None, cwd=None, time_limit=Assignment.check_time_limit_s,
               kernel_free_limit=Assignment.kernel_free_time_limit_s, checker=CHECKER, probes=None):
    """Run the checks `names` on submitted/checkpoints, then, when `tests` are given, their
    cases the grader judges in `cwd`; never raises for a check's failure.

    Returns:
        (verdicts, outcome): `verdicts` completed with one verdict dict per name, and
        ({question: {case: [passed, message]}}, None) from the judged cases, or (None, why)
        when their interpreter did not finish; (None, None) without `tests`.
    """
    verdicts, pending = dict(verdicts or {}), list(names)
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    while True:
        with tempfile.TemporaryFile("w+") as given, tempfile.TemporaryFile("w+") as stderr:
            json.dump({"verdicts": verdicts, "tests": tests, "probes": probes or {}}, given)
            given.seek(0)
            flags = ["--kernel-free"] if tests is not None else []
            proc = subprocess.Popen([*checker, *pending, "--submitted", str(submitted), *flags], stdin=given,
                                    stdout=subprocess.PIPE, stderr=stderr, cwd=cwd, env=env)
            found, outcome, timed_out = _collect(proc, pending, time_limit, kernel_free_limit)
            proc.kill()
            proc.wait()
            stderr.seek(0)
            last = (stderr.read().strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        verdicts.update(found)
        pending = [name for name in pending if name not in found]
        if pending:  # checks run in order: the first one without a verdict stopped the interpreter
            name = pending.pop(0)
            stopped = (problem("timeout", name=name, seconds=time_limit) if timed_out
                       else problem("checker_crashed", detail=last))
            verdicts[name] = Verdict(name, [stopped]).to_dict()
            continue
        if tests is None:
            return verdicts, (None, None)
        if outcome is None:
            return verdicts, (None, f"ran past {kernel_free_limit} s" if timed_out else last)
        return verdicts, (outcome, None)


def _collect(proc, pending, time_limit, kernel_free_limit):
    """Read one JSON line at a time until the process ends: a verdict for each of the checks
    `pending`, in order, then the judged cases' outcome.

    Returns:
        (verdicts found, the kernel-free outcome or None, whether a check or the kernel-free
        cases ran out of time).

    Reads the pipe unbuffered: a buffered reader can hold a complete line that select() then
    waits for in vain.
    """
    fd, buffered, found, outcome = proc.stdout.fileno(), b"", {}, None
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)

    def deadline():
        return time.monotonic() + (time_limit if len(found) < len(pending) else kernel_free_limit)

    until = deadline()
    while True:
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            message = _json_line(line)
            waiting = [name for name in pending if name not in found]
            if waiting and message.get("check") in waiting:
                found[message["check"]] = message
                until = deadline()
            elif not waiting and isinstance(message.get("kernel_free"), dict):
                outcome = message["kernel_free"]
        if not sel.select(timeout=max(0, until - time.monotonic())):
            return found, outcome, True
        chunk = os.read(fd, 65536)
        if not chunk:
            return found, outcome, False
        buffered += chunk


def _json_line(line):
    """The JSON object on `line`, or {} for anything else a library printed."""
    try:
        message = json.loads(line)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def _digest(path):
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:  # absent, or not a file
        return None
