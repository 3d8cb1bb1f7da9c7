"""Reproduction: the notebook's re-run must write the files that were submitted.

The grader's own interpreter (checker.py, after the kernel has ended) compares each submitted
file's fingerprint, taken when the file checks loaded it, with the fingerprint of the file the
re-run wrote. A fingerprint is the lesson's (Lesson.fingerprint): "type" or "keys" describe what
the file holds, "saved_on" the device types it was saved from, and every other entry a number of
the run (an epoch exactly, a float within the assignment's same_run_tolerance of the larger
magnitude).
"""

from . import load
from .assignment import get
from .codes import Verdict, problem
from .selfcheck import submitted_verdicts

STRUCTURE = ("type", "keys")


def same_run(submitted, regenerated, name, tolerance):
    """Problems when the re-run wrote something other than the submitted file; both are
    fingerprints. A file saved on another kind of device (a Colab GPU, graded on a CPU) came from
    another random stream, which is another run: then only its structure is compared."""
    if regenerated is None:
        return [problem("not_reproduced", name=name, detail="the re-run did not write it: when the top of this "
                        "page says where the run stopped, that is why")]
    same_device = submitted.get("saved_on") == regenerated.get("saved_on")
    run = [k for k in dict.fromkeys([*submitted, *regenerated]) if k not in (*STRUCTURE, "saved_on")]
    exact = [k for k in run if not _float(submitted.get(k)) and not _float(regenerated.get(k))]
    for k in [*STRUCTURE, *exact] if same_device else STRUCTURE:
        if submitted.get(k) != regenerated.get(k):
            return [problem("not_reproduced", name=name, detail=f"{k} {submitted.get(k)!r} vs {regenerated.get(k)!r}")]
    for k in [k for k in run if k not in exact] if same_device else ():
        a, b = submitted.get(k), regenerated.get(k)
        if a is not None and b is not None and abs(a - b) > tolerance * max(abs(a), abs(b)):
            return [problem("not_reproduced", name=name, detail=f"{k} {a:.4f} vs {b:.4f}")]
    return []


def _float(value):
    return isinstance(value, float)


def require_files(assignment: str, *names: str) -> None:
    """A hidden test, run by the grader's own interpreter: the submitted files passed the file
    checks `names`, and the notebook's re-run (in the current folder) wrote the same files.

    Args:
        assignment: the assignment's name.
        *names: file checks.

    Raises:
        AssertionError: the grader's messages and codes, one line a problem.
    """
    submitted = submitted_verdicts()
    if submitted is None:  # as in the notebook's kernel: the grader's own interpreter runs this
        raise AssertionError("No grading verdicts here: the grader checks the submitted files in its own "
                             "interpreter after the notebook's run.")
    a = get(assignment)
    for name in names:
        verdict = Verdict.from_dict(submitted[name])
        for rel, fp in verdict.files.items():
            again, refused = load.load(rel, limits=a.checkpoint_limits)
            regenerated = None if refused else a.lesson.fingerprint(again, load.saved_on(rel))
            verdict.problems += same_run(fp, regenerated, rel, a.same_run_tolerance)
        verdict.assert_ok()
