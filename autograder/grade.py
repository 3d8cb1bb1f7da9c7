"""Grade submissions with the built autograder zip through `otter run` (no Docker).

Each submission is graded in its own `otter run` process, with this zip's copy of the package
on PYTHONPATH (as on Gradescope, where it sits beside run_otter.py). otter exits 0 even when
tests fail, so scores come from results.json.
"""

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .build import SAMPLES, ZIP


def grade_one(submission, autograder=ZIP, timeout=600):
    """{question: (score, max_score)} and the results.json dict, for one submission."""
    with tempfile.TemporaryDirectory() as tmp:
        unpacked, out = Path(tmp, "autograder"), Path(tmp, "out")
        out.mkdir()
        with zipfile.ZipFile(autograder) as zf:
            zf.extractall(unpacked)
        env = {k: v for k, v in os.environ.items() if k != "MNIST_DATA_ROOT"}  # use the zip's data
        env["PYTHONPATH"] = str(unpacked)
        subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(autograder), "-o", str(out),
                        "--no-logo", str(submission)], env=env, check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        results = json.loads((out / "results.json").read_text())
    scores = {t["name"]: (t["score"], t["max_score"]) for t in results["tests"] if "score" in t}
    return scores, results


def table(graded):
    """A per-question score table: one row per question, one column per submission."""
    names = list(graded)
    questions = list(dict.fromkeys(q for scores in graded.values() for q in scores))
    width = max(len(q) for q in questions + ["question", "total"])
    lines = [f"{'question':{width}}  " + "  ".join(f"{n:>20}" for n in names)]
    for q in questions:
        cells = [graded[n].get(q) for n in names]
        lines.append(f"{q:{width}}  " + "  ".join(f"{f'{c[0]:g} / {c[1]:g}' if c else '-':>20}" for c in cells))
    totals = [(sum(s for s, _ in graded[n].values()), sum(m for _, m in graded[n].values())) for n in names]
    lines.append(f"{'total':{width}}  " + "  ".join(f"{f'{s:g} / {m:g}':>20}" for s, m in totals))
    return "\n".join(lines)


def main(submissions=None):
    submissions = [Path(s) for s in submissions] if submissions else sorted(SAMPLES.glob("*.zip"))
    graded = {Path(s).stem: grade_one(s)[0] for s in submissions}
    print(table(graded))
