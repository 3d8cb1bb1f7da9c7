"""The instructor's page after bulk grading, which none of otter, nbgrader or Gradescope gives: per
question, how the class scored and the problem codes it hit, ranked by how many students hit each,
with the misconception behind each code: what to re-teach on Monday.

    python -m autograder report GRADES_DIR [--assignment NAME]

Reads what `python -m autograder grade` wrote, data only: final_grades.csv (scores and status) and
results/NAME.json (otter's results; a code is the `[code]` ending a problem line of a question's
output, counted where the student lost points on that question: a code on a full score comes from
a 0-point test, such as the optional bit-identical resume's note). Writes GRADES_DIR/class-report.md and GRADES_DIR/class-report.png (one panel of scores
per question). A submission whose grading did not complete is listed apart, not counted as zeros.
"""

import csv
import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from otter.grade.utils import POINTS_POSSIBLE_LABEL, SCORES_DICT_FILE_KEY, SCORES_DICT_GRADING_STATUS_KEY

from .assignment import get
from .grade import Graded, feedback_page

COMPLETED = Graded.status  # the status of a grading that ran to its end
MARKDOWN, PNG = "class-report.md", "class-report.png"
TOP = 5  # codes in the "re-teach first" list
CODE = re.compile(r"\[(\w+)\]")  # Verdict.render ends each problem line with its code
FIELD = re.compile(r"\{(\w+)[^}]*\}")  # a message's detail: {name}, {expected:.4f}
CLAUSE_END = re.compile(r"[:;.] | — ")


class NotGrades(Exception):
    """The folder is not one `python -m autograder grade` wrote for this assignment."""


@dataclass
class Submission:
    name: str
    status: str
    scores: dict  # question -> points earned
    codes: dict = field(default_factory=dict)  # question -> the problem codes in its feedback, where points were lost


def misconception(message):
    """The lesson idea a message template names (messages.py: each names the idea that was missed),
    in one line: its text after the clause that holds its last detail ("{name} holds a pickled
    model object ({detail}), not a state_dict. torch.save(model) stores a reference ..." gives
    "torch.save(model) stores a reference ..."). A message without details is all idea; one that
    ends on a detail has no other words for it, so it is shown whole, each detail as {its name}."""
    details = list(FIELD.finditer(message))
    if not details:
        return message
    _, *idea = CLAUSE_END.split(message[details[-1].end():], maxsplit=1)
    return idea[0] if idea and idea[0] else FIELD.sub(r"{\1}", message)


def read(grades, questions, codes):
    """The submissions in `grades`, in the CSV's order; `codes`: the problem codes to look for."""
    table = Path(grades) / "final_grades.csv"
    if not table.is_file():
        raise NotGrades(f"No grades in {grades}: there is no final_grades.csv there (write one with "
                        f"`python -m autograder grade --out {grades}`).")
    with open(table, newline="") as f:
        reader = csv.DictReader(f)
        missing = {SCORES_DICT_FILE_KEY, SCORES_DICT_GRADING_STATUS_KEY, *questions} - set(reader.fieldnames or ())
        if missing:
            raise NotGrades(f"{table} has no column {', '.join(sorted(missing))}: it is not from `python -m "
                            "autograder grade` for this assignment (see --assignment).")
        rows = [r for r in reader if r[SCORES_DICT_FILE_KEY] != POINTS_POSSIBLE_LABEL]
    names = [r[SCORES_DICT_FILE_KEY] for r in rows]
    subs = []
    for r in rows:
        s = Submission(r[SCORES_DICT_FILE_KEY], r[SCORES_DICT_GRADING_STATUS_KEY], {q: float(r[q]) for q in questions})
        if s.status == COMPLETED:
            results = Path(grades, "results", feedback_page(s.name, names)).with_suffix(".json")
            try:
                tests = json.loads(results.read_text()).get("tests", [])
            except (OSError, ValueError) as e:
                raise NotGrades(f"No readable results for {s.name} at {results} ({type(e).__name__}): grade "
                                "again with this version of `python -m autograder grade`.") from e
            s.codes = {t["name"]: set(CODE.findall(t.get("output", ""))) & codes.keys()
                       for t in tests if t.get("name") in questions and s.scores[t["name"]] < questions[t["name"]]}
        subs.append(s)
    return subs


def ranked(graded, questions):
    """[(code, students who hit it in any of `questions`)], most hit first (then by code)."""
    counts = Counter(c for s in graded for c in set().union(*(s.codes.get(q, set()) for q in questions)))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def mean(graded, question):
    return sum(s.scores[question] for s in graded) / len(graded) if graded else 0


def share(k, n):
    return f"{k} of {n} student{'s' if n != 1 else ''} ({k / n:.0%})"


def markdown(title, subs, questions, messages):
    """The report's text: header, one section per question, then the codes to re-teach first."""
    graded = [s for s in subs if s.status == COMPLETED]
    failed = [s for s in subs if s.status != COMPLETED]
    n, total = len(graded), sum(questions.values())
    lines = [f"# Class report: {title}", "",
             f"{len(subs)} submissions: {n} graded, {len(failed)} could not be graded"
             + "".join(f"{'; ' if i else ': '}{s.name} ({s.status})" for i, s in enumerate(failed)) + "."]
    if not graded:
        return "\n".join([*lines, "", "No submission was graded: nothing to report.", ""])
    lines += [f"Mean total {sum(mean(graded, q) for q in questions):.2f} of {total:g}. Failed gradings are not counted as zeros below.", "",
              f"![scores per question]({PNG})"]
    for q, points in questions.items():
        counts = sorted(Counter(s.scores[q] for s in graded).items())
        codes = ranked(graded, [q])
        uncoded = sum(s.scores[q] < points and not s.codes.get(q) for s in graded)
        lines += ["", f"## {q} ({points:g} point{'s' if points != 1 else ''})", "",
                  f"Mean {mean(graded, q):.2f} of {points:g}.", "",
                  "| score | " + " | ".join(f"{v:g}" for v, _ in counts) + " |",
                  "|---|" + "---:|" * len(counts),
                  "| students | " + " | ".join(str(k) for _, k in counts) + " |", ""]
        lines += ["Problem codes of the students who lost points here, by how many hit them:", ""] if codes else [
            "No problem codes."]
        lines += [f"{i}. `{c}`: {share(k, n)}. {misconception(messages[c])}" for i, (c, k) in enumerate(codes, 1)]
        if uncoded:
            lines += ["", f"{share(uncoded, n)} lost points here with no problem code: their feedback names "
                      "the test that failed."]
    def where(code):
        return ", ".join(q for q in questions if any(code in s.codes.get(q, ()) for s in graded))

    top = [f"{i}. `{c}` ({where(c)}): {share(k, n)}. {misconception(messages[c])}"
           for i, (c, k) in enumerate(ranked(graded, questions)[:TOP], 1)]
    return "\n".join([*lines, "", "## Re-teach first", "", *(top or ["No problem codes: nothing to re-teach."])]) + "\n"


def plot(path, title, subs, questions):
    """class-report.png: one small bar chart per question, students per score, and its mean."""
    from matplotlib.figure import Figure  # not pyplot: no global state, the Agg canvas for PNG
    from matplotlib.ticker import MaxNLocator

    cols = min(4, len(questions))
    rows = math.ceil(len(questions) / cols)
    fig = Figure(figsize=(3.2 * cols, 2.4 * rows), dpi=100, layout="constrained")
    axes = iter(fig.subplots(rows, cols, squeeze=False).flat)
    graded = [s for s in subs if s.status == COMPLETED]
    for (q, points), ax in zip(questions.items(), axes):
        counts = Counter(s.scores[q] for s in graded)
        ax.bar(list(counts), list(counts.values()), width=0.4)
        ax.set_title(f"{q}: mean {mean(graded, q):.2f} / {points:g}", fontsize=10)
        ax.set(xlim=(-0.5, points + 0.5), xticks=sorted({0, points, *counts}))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
    for ax in axes:  # the panels no question needs
        ax.set_visible(False)
    fig.suptitle(f"{title}: {len(graded)} graded submissions", fontsize=11)
    fig.supxlabel("score", fontsize=9)
    fig.supylabel("students", fontsize=9)
    fig.savefig(path, format="png", metadata={"Software": None})


def write(grades, assignment):
    """Write the report's two files into `grades`; return their paths."""
    a = get(assignment) if assignment else get()
    messages = a.lesson.messages()
    subs = read(grades, a.questions, messages)
    md, png = Path(grades, MARKDOWN), Path(grades, PNG)
    md.write_text(markdown(a.title, subs, a.questions, messages))
    plot(png, a.title, subs, a.questions)
    return md, png


def main(grades, assignment=None):
    try:
        md, png = write(grades, assignment)
    except NotGrades as e:
        print(e, file=sys.stderr)
        return 2
    print(f"class report: {md} and {png}")
    return 0
