"""Grade many submissions with the built autograder zip, as Gradescope runs it (no Docker).

    python -m autograder grade [PATH ...] [--workers N] [--out DIR]

Each submission (an export zip, a notebook, or a folder of loose files: the notebook and its
.pth files) is laid out in a temporary folder as Gradescope lays it out and graded by the zip's
own entry point (run_otter.py -> harness.py), up to N at once. otter exits 0 even when tests
fail, so scores come from results.json. Writes DIR/final_grades.csv with otter's own grade CSV
columns (and `flagged`: the kernel's results disagreed with the grader's own checks), and
DIR/feedback/NAME.html per student (what Gradescope shows them, the resume picture included).
A submission that crashes or times out gets a row of zeros and the reason; the others go on.
"""

import csv
import functools
import html
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from otter.grade.utils import (POINTS_POSSIBLE_LABEL, SCORES_DICT_FILE_KEY, SCORES_DICT_GRADING_STATUS_KEY,
                               SCORES_DICT_PERCENT_CORRECT_KEY, SCORES_DICT_TOTAL_POINTS_KEY)
from tqdm import tqdm

from .assignment import DIST, get
from .emulate import grading_environment, lay_out

TIMEOUT_S = 600  # Gradescope's default limit for one submission
FLAGGED = "Flagged for review"  # the hidden results entry the plugin adds for a TA


@dataclass
class Graded:
    file: str
    scores: dict = field(default_factory=dict)  # question -> (score, max_score)
    results: dict = field(default_factory=dict)  # otter's results.json, when it was written
    status: str = "Completed"

    @property
    def total(self):
        return sum(s for s, _ in self.scores.values())

    @property
    def flagged(self):
        return any(t.get("name") == FLAGGED for t in self.results.get("tests", []))


def grade_one(submission, autograder, timeout=TIMEOUT_S, as_zip_file=False):
    """Grade one submission; never raises for the submission's sake."""
    submission = Path(submission)
    with tempfile.TemporaryDirectory() as tmp:
        root = lay_out(tmp, autograder, submission, as_zip_file)
        scratch = Path(tmp, "tmp")  # this grading's temporary files (the sealed originals) go with it
        scratch.mkdir()
        env = {**grading_environment(autograder), "TMPDIR": str(scratch)}  # the zip's own code and data
        try:
            run = subprocess.run([sys.executable, str(root / "source" / "run_otter.py"), str(root)], env=env,
                                 timeout=timeout, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return Graded(submission.name, status=f"timed out after {timeout} s")
        if not (root / "results" / "results.json").exists():
            last = (run.stderr.strip().splitlines() or [f"exited with {run.returncode}"])[-1]
            return Graded(submission.name, status=f"grading failed: {last}")
        results = json.loads((root / "results" / "results.json").read_text())
    scores = {t["name"]: (t["score"], t["max_score"]) for t in results["tests"] if "max_score" in t}
    errors = [t["output"] for t in results["tests"] if t.get("name") in ("Autograder Error", "Submission")]
    return Graded(submission.name, scores, results, errors[0].strip().splitlines()[-1] if errors else "Completed")


def feedback(graded):
    """The page a student reads: the summary at the top (HTML when otter's results say so), then
    each question's score and otter's output for it."""
    esc = functools.partial(html.escape, quote=False)
    summary = graded.results.get("output", "")
    parts = [f"<h2>{esc(graded.file)}: {graded.total:g} points ({esc(graded.status)})</h2>",
             summary if graded.results.get("output_format") == "html" else f"<pre>{esc(summary)}</pre>"]
    for test in graded.results.get("tests", []):
        score = f" {test['score']:g} / {test['max_score']:g}" if "max_score" in test else ""
        parts.append(f"<h3>{esc(test.get('name', ''))}{score}</h3>\n<pre>{esc(test.get('output', '').strip())}</pre>")
    return '<!doctype html>\n<meta charset="utf-8">\n' + "\n".join(parts) + "\n"


def write_csv(path, graded, questions):
    """otter's grade CSV: a points-per-question row, then one row per submission."""
    cols = [SCORES_DICT_FILE_KEY, *sorted(questions), SCORES_DICT_TOTAL_POINTS_KEY,
            SCORES_DICT_PERCENT_CORRECT_KEY, SCORES_DICT_GRADING_STATUS_KEY, "flagged"]
    possible = sum(questions.values())
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerow({SCORES_DICT_FILE_KEY: POINTS_POSSIBLE_LABEL, **questions, SCORES_DICT_TOTAL_POINTS_KEY: possible,
                    SCORES_DICT_PERCENT_CORRECT_KEY: 1, SCORES_DICT_GRADING_STATUS_KEY: "--", "flagged": "--"})
        for g in sorted(graded, key=lambda g: g.file):
            w.writerow({SCORES_DICT_FILE_KEY: g.file, **{q: g.scores.get(q, (0, 0))[0] for q in questions},
                        SCORES_DICT_TOTAL_POINTS_KEY: g.total, SCORES_DICT_GRADING_STATUS_KEY: g.status,
                        SCORES_DICT_PERCENT_CORRECT_KEY: round(g.total / possible, 5) if possible else 0,
                        "flagged": g.flagged})


def table(graded, questions):
    """A per-question score table: one row per question, one column per submission."""
    width = max(len(q) for q in [*questions, "question", "total"])
    names = [Path(g.file).stem for g in graded]
    lines = [f"{'question':{width}}  " + "  ".join(f"{n:>20}" for n in names)]
    for q, possible in questions.items():
        lines.append(f"{q:{width}}  " + "  ".join(f"{f'{g.scores.get(q, (0,))[0]:g} / {possible:g}':>20}" for g in graded))
    total = sum(questions.values())
    lines.append(f"{'total':{width}}  " + "  ".join(f"{f'{g.total:g} / {total:g}':>20}" for g in graded))
    return "\n".join(lines)


def submissions_in(paths):
    """A zip or notebook is one submission, and so is a folder with a notebook in it (loose
    files); any other folder holds submissions."""
    found = []
    for p in map(Path, paths):
        if p.is_dir() and not any(p.glob("*.ipynb")):
            found += sorted(c for c in p.iterdir() if c.suffix in (".zip", ".ipynb") or (c.is_dir() and any(c.glob("*.ipynb"))))
        else:
            found.append(p)
    return found


def grade_all(paths, out, autograder, workers=None, timeout=TIMEOUT_S):
    """Grade every submission under `paths` in parallel; write the CSV and feedback files."""
    subs = submissions_in(paths)
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(grade_one, s, autograder, timeout) for s in subs]
        graded = [f.result() for f in tqdm(as_completed(futures), total=len(futures), desc="grading", unit="sub")]
    graded.sort(key=lambda g: [s.name for s in subs].index(g.file))
    questions = next((dict((q, m) for q, (_, m) in g.scores.items()) for g in graded if g.scores), {})
    out = Path(out)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    for g in graded:
        (out / "feedback" / f"{Path(g.file).stem}.html").write_text(feedback(g))
    write_csv(out / "final_grades.csv", graded, questions)
    return graded, questions


def main(paths=None, out=None, workers=None, assignment=None):
    a = get(assignment) if assignment else get()
    out = out or DIST / f"{a.name}-grades"
    graded, questions = grade_all(paths or [a.samples], out, a.zip, workers=workers)
    print(table(graded, questions))
    print(f"\nscores: {Path(out) / 'final_grades.csv'}; feedback: {Path(out) / 'feedback'}/")
