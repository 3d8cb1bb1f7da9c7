"""The checker: the grader's interpreter for the submitted files, started by isolate.py after the
notebook's kernel has ended.

    python -P -m autograder check --assignment NAME CHECK ... --submitted FOLDER [--kernel-free]

Runs the lesson's file checks (its file_checks()) on the sealed originals in FOLDER/checkpoints
and prints one JSON verdict per line as each check ends, with a fingerprint of every file it
loaded; a check that breaks on a crafted file reports `checker_crashed` and the others go on.
With --kernel-free it then runs the cases of the tests on stdin that the grader judges in the
current folder (the notebook's re-run), with every verdict and the variables the kernel was
observed to hold (observe.py), and prints their outcome as one last line.
stdin: {"verdicts": verdicts of earlier interpreters, "tests": {question: otter test source},
"probes": the lesson's probes of this grading (observe.probed)}.
"""

import json
import os
import sys
import tempfile

import torch

from . import integrity, observe
from .assignment import VERDICTS_ENV
from .codes import Found, Verdict, problem
from .files import Files
from .load import device


def main(assignment, names, submitted, kernel_free=False):
    given = json.load(sys.stdin) if kernel_free else {}
    verdicts = given.get("verdicts", {})
    checks, on = assignment.lesson.file_checks(), device()
    torch.set_num_threads(1)  # small model, small batches: one thread is faster and uses half the CPU
    if on == "cuda":  # the same verdicts on every grading, as on the CPU (PyTorch's reproducibility notes)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    for name in names:
        files = Files(assignment, submitted, on)
        try:
            found = checks[name](files)
        except Exception as e:  # a crafted file may break a stage: report it, never stop the others
            found = Found([problem("checker_crashed", detail=f"{type(e).__name__}: {e}")])
        verdicts[name] = Verdict.of(name, found, files.fingerprints).to_dict()
        print(json.dumps(verdicts[name]), flush=True)
    if kernel_free:
        with tempfile.NamedTemporaryFile("w", suffix=".json") as private:  # what the hidden tests read
            json.dump(verdicts, private)
            private.flush()
            os.environ[VERDICTS_ENV] = private.name
            outcome = integrity.run_in_grader(given["tests"], assignment.observed_variables, observe.FOLDER,
                                              given.get("probes"))
            print(json.dumps({"kernel_free": outcome}), flush=True)
    return 0
