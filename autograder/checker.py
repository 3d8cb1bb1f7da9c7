"""The checker: grades submitted files in a fresh interpreter, before any student code runs.

    python -m autograder check --assignment NAME CHECK ... --submitted FOLDER

Runs the lesson's file checks (its checks.CHECKS) on FOLDER/checkpoints and prints one JSON
verdict per line as each check ends, with a fingerprint of every file it loaded. isolate.py starts
it and reads the lines; a check that breaks on a crafted file reports `checker_crashed` and the
others go on.
"""

import json
import os

import torch

from .codes import Found, Verdict, problem


def main(assignment, names, submitted):
    lesson = assignment.lesson("checks")
    torch.set_num_threads(1)  # small model, small batches: one thread is faster and uses half the CPU
    device = lesson.device()
    if device == "cuda":  # the same verdicts on every grading, as on the CPU (PyTorch's reproducibility notes)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    for name in names:
        files = lesson.Files(submitted, device)
        try:
            found = lesson.CHECKS[name](files)
        except Exception as e:  # a crafted file may break a stage: report it, never stop the others
            found = Found([problem("checker_crashed", detail=f"{type(e).__name__}: {e}")])
        print(json.dumps(Verdict.of(name, found, files.fingerprints, files.plot).to_dict()), flush=True)
