"""Run the file checks in fresh interpreters, with a time limit per check.

Called by the graders (the otter plugin, the nbgrader preprocessor) before the notebook runs,
through `check_submission`, so no student code has executed yet and
only one process holds torch at a time. The checks share one interpreter while they succeed (one
torch import, not five); when a check hangs or kills its interpreter, it gets a `timeout` or
`checker_crashed` verdict and the remaining checks continue in a new one. Imports no torch:
this runs inside otter's (or nbgrader's) own process.
"""

import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time

from .codes import Verdict, problem

TIME_LIMIT_S = 120  # per check; the slowest (crash: two resumed epochs) takes about 2 s on CPU


CHECKER = (sys.executable, "-m", "autograder", "check")


def check_submission(assignment, folder, submitted):
    """Move folder/checkpoints to submitted/checkpoints, out of the way of the notebook's re-run
    (which writes the same names), grade them there and write submitted/verdicts.json.

    Returns:
        dict: {check name: verdict dict} for every file check of `assignment`.
    """
    submitted.mkdir(parents=True, exist_ok=True)
    if (folder / "checkpoints").is_dir():
        shutil.move(folder / "checkpoints", submitted / "checkpoints")
    verdicts = run_checks(assignment.file_checks, submitted, checker=(*CHECKER, "--assignment", assignment.name))
    (submitted / "verdicts.json").write_text(json.dumps(verdicts, indent=1))
    return verdicts


def run_checks(names, submitted, time_limit=TIME_LIMIT_S, checker=CHECKER):
    """{name: verdict dict} for every check in `names`; never raises for a check's failure."""
    verdicts, pending = {}, list(names)
    while pending:
        with tempfile.TemporaryFile("w+") as stderr:
            proc = subprocess.Popen([*checker, *pending, "--submitted", str(submitted)],
                                    stdout=subprocess.PIPE, stderr=stderr)
            timed_out = not _collect(proc, verdicts, pending, time_limit)
            proc.kill()
            proc.wait()
            stderr.seek(0)
            last = (stderr.read().strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        if pending:  # checks run in order: the first one without a verdict stopped the interpreter
            name = pending.pop(0)
            found = (problem("timeout", name=name, seconds=time_limit) if timed_out
                     else problem("checker_crashed", detail=last))
            verdicts[name] = Verdict(name, [found]).to_dict()
    return verdicts


def _collect(proc, verdicts, pending, time_limit):
    """Read one JSON verdict per line until the process ends; False if a check ran out of time.

    Reads the pipe unbuffered: a buffered reader can hold a complete line that select() then
    waits for in vain.
    """
    fd, buffered = proc.stdout.fileno(), b""
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + time_limit
    while True:
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            if _record(line, verdicts, pending):
                deadline = time.monotonic() + time_limit
        if not sel.select(timeout=max(0, deadline - time.monotonic())):
            return False
        chunk = os.read(fd, 65536)
        if not chunk:
            return True
        buffered += chunk


def _record(line, verdicts, pending):
    """Keep a verdict line; ignore anything else a library printed."""
    try:
        verdict = json.loads(line)
    except ValueError:
        return False
    if not isinstance(verdict, dict) or verdict.get("check") not in pending:
        return False
    verdicts[verdict["check"]] = verdict
    pending.remove(verdict["check"])
    return True
