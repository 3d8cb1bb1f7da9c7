"""Grade many submissions with the built autograder zip, through `otter run` (no Docker).

    python -m autograder grade [FOLDER_OR_FILE ...] [--workers N] [--out DIR]

Each submission (a zip, or a bare notebook) is graded in its own `otter run` process, up to N at
once, with this zip's copy of the package on PYTHONPATH (as on Gradescope, where it sits beside
run_otter.py). otter exits 0 even when tests fail, so scores come from results.json. Writes
DIR/final_grades.csv with otter's own grade CSV columns, and DIR/feedback/NAME.html per student
(what Gradescope shows them, the resume picture included).
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

from .build import DIST, SAMPLES, ZIP

TIMEOUT_S = 600  # Gradescope's default limit for one submission


@dataclass
class Graded:
    file: str
    scores: dict = field(default_factory=dict)  # question -> (score, max_score)
    results: dict = field(default_factory=dict)  # otter's results.json, when it was written
    status: str = "Completed"

    @property
    def total(self):
        return sum(s for s, _ in self.scores.values())


def grade_one(submission, autograder=ZIP, timeout=TIMEOUT_S):
    """Grade one submission; never raises for the submission's sake."""
    submission = Path(submission)
    with tempfile.TemporaryDirectory() as tmp:
        unpacked, out = Path(tmp, "autograder"), Path(tmp, "out")
        out.mkdir()
        with zipfile.ZipFile(autograder) as zf:
            zf.extractall(unpacked)
        env = {k: v for k, v in os.environ.items() if k != "MNIST_DATA_ROOT"}  # grade with the zip's data
        env["PYTHONPATH"] = str(unpacked)
        try:
            run = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(autograder), "-o", str(out),
                                  "--no-logo", str(submission)], env=env, timeout=timeout,
                                 capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return Graded(submission.name, status=f"timed out after {timeout} s")
        if not (out / "results.json").exists():
            last = (run.stderr.strip().splitlines() or [f"otter exited with {run.returncode}"])[-1]
            return Graded(submission.name, status=f"otter failed: {last}")
        results = json.loads((out / "results.json").read_text())
    scores = {t["name"]: (t["score"], t["max_score"]) for t in results["tests"] if "max_score" in t}
    errors = [t["output"] for t in results["tests"] if t.get("name") == "Autograder Error"]
    return Graded(submission.name, scores, results, errors[0].splitlines()[-1] if errors else "Completed")


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
            SCORES_DICT_PERCENT_CORRECT_KEY, SCORES_DICT_GRADING_STATUS_KEY]
    possible = sum(questions.values())
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerow({SCORES_DICT_FILE_KEY: POINTS_POSSIBLE_LABEL, **questions, SCORES_DICT_TOTAL_POINTS_KEY: possible,
                    SCORES_DICT_PERCENT_CORRECT_KEY: 1, SCORES_DICT_GRADING_STATUS_KEY: "--"})
        for g in sorted(graded, key=lambda g: g.file):
            w.writerow({SCORES_DICT_FILE_KEY: g.file, **{q: g.scores.get(q, (0, 0))[0] for q in questions},
                        SCORES_DICT_TOTAL_POINTS_KEY: g.total, SCORES_DICT_GRADING_STATUS_KEY: g.status,
                        SCORES_DICT_PERCENT_CORRECT_KEY: round(g.total / possible, 5) if possible else 0})


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
    found = []
    for p in map(Path, paths):
        found += sorted([*p.glob("*.zip"), *p.glob("*.ipynb")]) if p.is_dir() else [p]
    return found


def grade_all(paths, out, autograder=ZIP, workers=None, timeout=TIMEOUT_S):
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


def main(paths=None, out=None, workers=None):
    out = out or DIST / "grades"
    graded, questions = grade_all(paths or [SAMPLES], out, workers=workers)
    print(table(graded, questions))
    print(f"\nscores: {Path(out) / 'final_grades.csv'}; feedback: {Path(out) / 'feedback'}/")
