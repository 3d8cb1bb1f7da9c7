"""Check my checkpoints: what the grader will say about the files this notebook wrote, before you
export them.

These are the grader's own file checks (filechecks.py), with its rules, codes and messages, run
on the files in this folder. Three things stay with the grader: it resumes your crash checkpoint
for one epoch with and without its Adam state, it runs your EarlyStopping through scripted loss
sequences, and it re-runs your notebook and compares the files that run writes with yours.
"""

import json
import os
import sys
from pathlib import Path

from ..assignment import VERDICTS_ENV
from ..codes import Verdict
from ..load import device
from . import ASSIGNMENT
from .filechecks import CHECKS, Files

FILE_CHECKS = ASSIGNMENT.file_checks


def verdicts(names: tuple[str, ...] = FILE_CHECKS, folder: str | Path = ".") -> list[Verdict]:
    """[Verdict] of the named file checks on the files under `folder`.

    Args:
        names: file checks to run (saved_model, periodic, best, crash, early_stopping).
        folder: the folder that holds checkpoints/.

    Returns:
        One Verdict per check, with the grader's problems (code and message) and hints.
    """
    files = Files(folder, device())
    return [Verdict.of(name, CHECKS[name](files)) for name in names]


def report(folder: str | Path = ".") -> bool:
    """Print what the grader will say about each checkpoint file this notebook wrote.

    Args:
        folder: the folder that holds checkpoints/.

    Returns:
        True when every file passes the checks a student can run.
    """
    found = verdicts(FILE_CHECKS, folder)
    for verdict in found:
        paths = ", ".join(f.path for f in ASSIGNMENT.contract if f.check == verdict.check)
        print(f"{paths}:\n{verdict.render()}")
    return all(v.ok for v in found)


def require(*names: str, folder: str | Path = ".") -> None:
    """A public test: the named file checks pass on the files under `folder`.

    Args:
        *names: file checks (see `verdicts`).
        folder: the folder that holds checkpoints/.

    Raises:
        AssertionError: with the grader's message and code for every problem found.
    """
    if _graded_by_otter():  # the grader runs this test again after the kernel, and that outcome counts
        raise AssertionError("Checked by the grader's own interpreter after the notebook's run.")
    found = verdicts(names, folder)
    submitted = _submitted_verdicts()
    if submitted:  # the grader's interpreter: a file the re-run never wrote is judged as submitted
        found = [_as_submitted(submitted[v.check]) if _unwritten(v.check, folder) else v for v in found]
    failed = [v for v in found if not v.ok]
    assert not failed, "\n" + "\n".join(v.render() for v in failed)


def _submitted_verdicts():
    """The grader's verdicts on the submitted files, in the grader's own interpreter only."""
    path = os.environ.get(VERDICTS_ENV)
    return json.loads(Path(path).read_text()) if path and Path(path).is_file() else None


def _unwritten(check, folder):
    return not any((Path(folder) / f.path).exists() for f in ASSIGNMENT.contract if f.check == check)


def _as_submitted(verdict):
    verdict = Verdict.from_dict(verdict)
    if not any(p.code == "missing" for p in verdict.problems):
        verdict.notes.append("judged on the file you submitted: the notebook's re-run stopped before writing it")
    return verdict


def _graded_by_otter():
    """otter grading this notebook's re-run (otter's grading mode, which its grader sets in the
    kernel): the file checks here would only repeat the grader's, and hold a second copy of the
    data in the kernel."""
    otter = sys.modules.get("otter")
    return bool(getattr(getattr(otter, "Notebook", None), "_grading_mode", False))
