"""Check my checkpoints: what the grader will say about the files a notebook wrote, before the
student exports them. Shipped in the student notebook.

These are the lesson's own file checks (its self_checks(): the grader's, without what only the
grader runs), with their rules, codes and messages, on the files in the notebook's folder. A
public test cell calls require(); the notebook's last check cell calls report().
"""

import json
import os
import sys
from pathlib import Path

from .assignment import VERDICTS_ENV, get
from .codes import Verdict, assert_ok
from .files import Files
from .load import device


def verdicts(assignment: str, names: tuple[str, ...] = (), folder: str | Path = ".") -> list[Verdict]:
    """[Verdict] of the named file checks on the files under `folder`.

    Args:
        assignment: the assignment's name (its notebook is <name>.ipynb).
        names: file checks to run, by default all of the contract's.
        folder: the notebook's folder.

    Returns:
        One Verdict per check, with the grader's problems (code and message) and hints.
    """
    a = get(assignment)
    files, checks = Files(a, folder, device()), a.lesson.self_checks()
    return [Verdict.of(name, checks[name](files)) for name in names or a.file_checks]


def report(assignment: str, folder: str | Path = ".") -> bool:
    """Print what the grader will say about each file this notebook wrote.

    Returns:
        True when every file passes the checks a student can run.
    """
    a, found = get(assignment), verdicts(assignment, (), folder)
    for verdict in found:
        print(f"{', '.join(f.path for f in a.files_of(verdict.check))}:\n{verdict.render()}")
    return all(v.ok for v in found)


def require(assignment: str, *names: str, folder: str | Path = ".") -> None:
    """A public test: the named file checks pass on the files under `folder`.

    Raises:
        AssertionError: with the grader's message and code for every problem found.
    """
    if _graded_by_otter():  # the grader runs this test again after the kernel, and that outcome counts
        raise AssertionError("Checked by the grader's own interpreter after the notebook's run.")
    found = verdicts(assignment, names, folder)
    submitted = submitted_verdicts()
    if submitted:  # the grader's interpreter: a file the re-run never wrote is judged as submitted
        a = get(assignment)
        found = [_as_submitted(submitted[v.check]) if _unwritten(a, v.check, folder) else v for v in found]
    assert_ok(found)


def submitted_verdicts():
    """The grader's verdicts on the submitted files ({check: verdict dict}), set only in the
    grader's own interpreter (checker.py), never in the kernel; else None."""
    path = os.environ.get(VERDICTS_ENV)
    return json.loads(Path(path).read_text()) if path and Path(path).is_file() else None


def _unwritten(assignment, check, folder):
    return not any((Path(folder) / f.path).exists() for f in assignment.files_of(check))


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
