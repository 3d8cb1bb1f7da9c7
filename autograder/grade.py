"""Grade many submissions with the built autograder zip, as Gradescope runs it (no Docker).

    python -m autograder grade [PATH ...] [--workers N] [--out DIR] [--timeout SECONDS]

Each submission (an export zip, a notebook, or a folder of loose files: the notebook and its
.pth files) is laid out in a temporary folder as Gradescope lays it out and graded by the zip's
own entry point (run_otter.py -> harness.py), up to N at once. otter exits 0 even when tests
fail, so scores come from results.json. Writes DIR/final_grades.csv with otter's own grade CSV
columns (and `flagged`: the kernel's results disagreed with the grader's own checks), and
DIR/feedback/NAME.html per student (what Gradescope shows them, the resume picture included),
and DIR/results/NAME.json, otter's results.json behind it (for `python -m autograder report`).
NAME is the submission's path from the folder all the submissions share: `a/sub.zip` and
`b/sub.zip` get rows of their own and feedback/a/sub.html and feedback/b/sub.html.
A submission that crashes or times out gets a row of zeros and the reason; the others go on.
"""

import contextlib
import csv
import dataclasses
import functools
import html
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import psutil
from otter.grade.utils import (POINTS_POSSIBLE_LABEL, SCORES_DICT_FILE_KEY, SCORES_DICT_GRADING_STATUS_KEY,
                               SCORES_DICT_PERCENT_CORRECT_KEY, SCORES_DICT_TOTAL_POINTS_KEY)
from tqdm import tqdm

from . import confine
from .assignment import get
from .emulate import assignment_of, grading_environment, lay_out

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
        os.chmod(tmp, 0o711)  # as Gradescope's /autograder: the confined kernel's user passes through
        try:
            root = lay_out(tmp, autograder, submission, as_zip_file)
        except OSError as e:  # unreadable: the other submissions go on
            return Graded(submission.name, status=f"could not be read: {e}")
        scratch = Path(tmp, "tmp")  # this grading's temporary files (the sealed originals) go with it
        scratch.mkdir()
        env = {**grading_environment(autograder), "TMPDIR": str(scratch)}  # the zip's own code and data
        run = run_bounded([sys.executable, str(root / "source" / "run_otter.py"), str(root)], env, timeout)
        if run is None:
            return Graded(submission.name, status=f"timed out after {timeout} s")
        if not (root / "results" / "results.json").exists():
            last = (run.stderr.strip().splitlines() or [f"exited with {run.returncode}"])[-1]
            return Graded(submission.name, status=f"grading failed: {last}")
        results = json.loads((root / "results" / "results.json").read_text())
    errors = [t["output"] for t in results["tests"] if t.get("name") in ("Autograder Error", "Submission")]
    return Graded(submission.name, scores_of(results), results,
                  errors[0].strip().splitlines()[-1] if errors else "Completed")


def scores_of(results):
    """{question: (score, max_score)} of otter's results.json."""
    return {t["name"]: (t["score"], t["max_score"]) for t in results.get("tests", []) if "max_score" in t}


def run_bounded(command, env, timeout):
    """The finished run of `command` (its stderr captured), or None if it ran past `timeout` s: then
    it is killed with every process it started. The notebook's kernel runs in a session of its
    own, so killing the process (or its group) alone would leave the kernel running."""
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.pid)
                for p in [root, *root.children(recursive=True)]:  # all listed first: a killed parent's children leave its tree
                    with contextlib.suppress(psutil.Error):
                        p.kill()
            return None
    return subprocess.CompletedProcess(command, proc.returncode, stderr=stderr)


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
    names = [str(PurePosixPath(g.file).with_suffix("")) for g in graded]
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


def names_of(subs):
    """Each submission's name in the CSV, the table and feedback/: its path from the folder all of
    them share (`a/sub.zip`, `b/sub.zip`), so the file name alone when they share one folder."""
    common = os.path.commonpath([s.parent for s in subs]) if subs else ""
    return [s.relative_to(common).as_posix() for s in subs]


def feedback_page(name, names):
    """feedback/NAME.html of submission `name`: without its suffix (reference.zip ->
    reference.html), unless another submission (sub.ipynb beside sub.zip) would then share it."""
    stem = str(PurePosixPath(name).with_suffix(""))
    clash = sum(str(PurePosixPath(n).with_suffix("")) == stem for n in names) > 1
    return f"{name if clash else stem}.html"


def grade_all(paths, out, autograder, workers=None, timeout=TIMEOUT_S):
    """Grade every submission under `paths` in parallel; write the CSV and feedback files."""
    subs = list(dict.fromkeys(s.resolve() for s in submissions_in(paths)))  # a path given twice is graded once
    names = names_of(subs)
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(grade_one, s, autograder, timeout): name for s, name in zip(subs, names)}
        done = {futures[f]: dataclasses.replace(f.result(), file=futures[f])
                for f in tqdm(as_completed(futures), total=len(futures), desc="grading", unit="sub")}
    graded = [done[name] for name in names]
    questions = assignment_of(autograder).questions  # its columns even when no submission got a score
    out = Path(out)
    for g in graded:
        page = Path(feedback_page(g.file, names))
        for path, text in ((out / "feedback" / page, feedback(g)),
                           (out / "results" / page.with_suffix(".json"), json.dumps(g.results, indent=1))):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    write_csv(out / "final_grades.csv", graded, questions)
    return graded, questions


def main(paths=None, out=None, workers=None, assignment=None, timeout=None):
    a = get(assignment) if assignment else get()
    timeout = timeout or TIMEOUT_S
    if not a.zip.exists():
        print(f"No autograder zip at {a.zip}: run `python -m autograder build` first.", file=sys.stderr)
        return 2
    missing = [str(p) for p in paths or () if not Path(p).exists()]
    if missing:
        print(f"No such submission: {', '.join(missing)}.", file=sys.stderr)
        return 2
    out = out or a.grades
    print(confine.describe(), file=sys.stderr)
    graded, questions = grade_all(paths or [a.samples], out, a.zip, workers=workers, timeout=timeout)
    print(table(graded, questions))
    print(f"\nscores: {Path(out) / 'final_grades.csv'}; feedback: {Path(out) / 'feedback'}/")
