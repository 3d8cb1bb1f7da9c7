"""The grader's own interpreters: the file checks on the submitted originals and the kernel-free
test cases, both run after the notebook's kernel has ended, in fresh interpreters.

Called by the graders (the otter plugin, the nbgrader preprocessors):
- `seal`, before any student code runs, moves the submitted checkpoints/ out of the re-run's way
  (the notebook writes the same names) into a private folder, and returns each contract file's
  SHA-256. The grader's process keeps the digests, where the notebook cannot reach them;
- `grade_files`, after the kernel, confirms the digests and runs the lesson's file checks on the
  originals (checker.py), then the kernel-free test cases on the re-run's files with those
  verdicts (integrity.py), in one interpreter: one torch import for both instead of one each
  before and after the kernel. A file that changed while the
  notebook ran is not checked: its check's verdict is `changed`.
The checks share that interpreter while they succeed; a check that hangs or kills it gets a
`timeout` or `checker_crashed` verdict and the rest go on in a new one, the kernel-free cases in
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

from .codes import Verdict, problem

TIME_LIMIT_S = 120  # per check; the slowest (crash: two resumed epochs) takes about 2 s on CPU
KERNEL_FREE_LIMIT_S = 180  # the kernel-free cases together: file loads and the re-run comparison, ~2 s here

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


class Graded(NamedTuple):
    verdicts: dict  # {check name: verdict dict}, for every file check
    kernel_free: tuple  # (outcome, why not): see run_checks
    changed: list  # the sealed files the notebook changed or removed while it ran


def grade_files(assignment, private, sealed, tests, submission, time_limit=TIME_LIMIT_S,
                kernel_free_limit=KERNEL_FREE_LIMIT_S):
    """After the kernel: the file checks on the originals `seal` moved to `private`, then the
    kernel-free cases of `tests` ({question: otter test file source}) in `submission`.

    Returns:
        Graded: the verdicts of every file check of `assignment` (a check whose file changed gets
        `changed` instead of running), the kernel-free outcome, the changed files.
    """
    changed = [f for f in assignment.contract if _digest(private / f.path) != sealed.get(f.path)]
    verdicts = {}
    for f in changed:
        verdicts.setdefault(f.check, Verdict(f.check)).problems.append(problem("changed", name=f.path))
    verdicts = {name: v.to_dict() for name, v in verdicts.items()}
    pending = [name for name in assignment.file_checks if name not in verdicts]
    verdicts, kernel_free = run_checks(pending, private, verdicts, tests, submission, time_limit, kernel_free_limit,
                                       checker=(*CHECKER, "--assignment", assignment.name))
    return Graded(verdicts, kernel_free, [f.path for f in changed])


def run_checks(names, submitted, verdicts=None, tests=None, cwd=None, time_limit=TIME_LIMIT_S,
               kernel_free_limit=KERNEL_FREE_LIMIT_S, checker=CHECKER):
    """Run the checks `names` on submitted/checkpoints, then, when `tests` are given, their
    kernel-free cases in `cwd`; never raises for a check's failure.

    Returns:
        (verdicts, outcome): `verdicts` completed with one verdict dict per name, and
        ({question: {case: [passed, message]}}, None) from the kernel-free cases, or (None, why)
        when their interpreter did not finish; (None, None) without `tests`.
    """
    verdicts, pending, outcome = dict(verdicts or {}), list(names), [None, None]
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    while True:
        with tempfile.TemporaryFile("w+") as given, tempfile.TemporaryFile("w+") as stderr:
            json.dump({"verdicts": verdicts, "tests": tests}, given)
            given.seek(0)
            flags = ["--kernel-free"] if tests is not None else []
            proc = subprocess.Popen([*checker, *pending, "--submitted", str(submitted), *flags], stdin=given,
                                    stdout=subprocess.PIPE, stderr=stderr, cwd=cwd, env=env)
            timed_out = not _collect(proc, verdicts, pending, outcome, time_limit, kernel_free_limit)
            proc.kill()
            proc.wait()
            stderr.seek(0)
            last = (stderr.read().strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        if pending:  # checks run in order: the first one without a verdict stopped the interpreter
            name = pending.pop(0)
            found = (problem("timeout", name=name, seconds=time_limit) if timed_out
                     else problem("checker_crashed", detail=last))
            verdicts[name] = Verdict(name, [found]).to_dict()
            continue
        if tests is not None and outcome[0] is None:
            outcome[1] = f"ran past {kernel_free_limit} s" if timed_out else last
        return verdicts, tuple(outcome)


def _collect(proc, verdicts, pending, outcome, time_limit, kernel_free_limit):
    """Read one JSON line at a time until the process ends: a verdict per check, then the
    kernel-free outcome. False if a check or the kernel-free cases ran out of time.

    Reads the pipe unbuffered: a buffered reader can hold a complete line that select() then
    waits for in vain.
    """
    fd, buffered = proc.stdout.fileno(), b""
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + (time_limit if pending else kernel_free_limit)
    while True:
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            if _record(line, verdicts, pending, outcome):
                deadline = time.monotonic() + (time_limit if pending else kernel_free_limit)
        if not sel.select(timeout=max(0, deadline - time.monotonic())):
            return False
        chunk = os.read(fd, 65536)
        if not chunk:
            return True
        buffered += chunk


def _record(line, verdicts, pending, outcome):
    """Keep a verdict line or the kernel-free outcome; ignore anything else a library printed."""
    try:
        found = json.loads(line)
    except ValueError:
        return False
    if not isinstance(found, dict):
        return False
    if found.get("check") in pending:
        verdicts[found["check"]] = found
        pending.remove(found["check"])
        return True
    if not pending and isinstance(found.get("kernel_free"), dict):
        outcome[0] = found["kernel_free"]
        return True
    return False


def _digest(path):
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:  # absent, or not a file
        return None
