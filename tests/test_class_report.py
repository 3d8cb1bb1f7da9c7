"""The instructor's class report (python -m autograder report), on the catalogue's grades: the
folder grade_all wrote for the catalogue, read back from its files as an instructor's would be."""

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from autograder import class_report, grade
from autograder.saving_and_loading import ASSIGNMENT
from autograder.saving_and_loading.messages import MESSAGES

QUESTIONS = ASSIGNMENT.questions
REPO = Path(__file__).resolve().parent.parent
# catalogue entries and a problem code each hits in one question: the manifest's feedback phrase
# for the entry is in that code's message, on the question that loses the points
KNOWN = {"whole-model-saved": ("ex1_save_load", "whole_model"),
         "state-dict-method": ("ex2_checkpointing", "state_dict_method"),
         "best-saved-every-epoch": ("ex2_checkpointing", "not_best"),
         "edited-by-hand": ("ex2_checkpointing", "loss_mismatch"),
         "no-optimizer-state": ("ex3_resume", "no_optimizer_state"),
         "resume-at-saved-epoch": ("ex3_resume", "resume_epoch"),
         "strict-false-hides-mismatch": ("ex3_resume", "discontinuous"),
         "missing-crash-file": ("ex3_resume", "missing"),
         "last-weights-kept": ("ex4_early_stopping", "not_restored")}
RANKED = re.compile(r"^\d+\. `(\w+)`(?: \(([\w, ]+)\))?: (\d+) of (\d+) students? \(\d+%\)\. (.+)$", re.M)


def report_cli(*args):
    return subprocess.run([sys.executable, "-m", "autograder", "report", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def sections(md):
    """{question or heading: its text} of a report; the header under ''."""
    parts = re.split(r"^## (.+)$", md, flags=re.M)
    return {"": parts[0], **{h.split(" (")[0]: text for h, text in zip(parts[1::2], parts[2::2])}}


def distribution(text):
    """{score: students} from a question's table."""
    scores, counts = (re.search(rf"^\| {row} \|(.+)\|$", text, re.M)[1].split("|") for row in ("score", "students"))
    return {float(s): int(k) for s, k in zip(scores, counts)}


def hits(graded, question, code):
    """The graded submissions that lost points on `question` and whose feedback on it names `code`."""
    return {name for name, g in graded.items() if g.scores[question][0] < QUESTIONS[question]
            and any(t.get("name") == question and f"[{code}]" in t["output"] for t in g.results.get("tests", []))}


@pytest.fixture(scope="module")
def report(catalogue):
    """(the catalogue's grades folder, the CLI's run on it, its report's sections, {name: Graded}
    of the submissions whose grading completed)."""
    grades = catalogue[0].parent / "grades"  # where the catalogue fixture has grade_all write them
    run = report_cli(grades)
    completed = {n: g for n, g in catalogue[1].items() if g.status == class_report.COMPLETED}
    return grades, run, sections((grades / class_report.MARKDOWN).read_text()), completed


def test_writes_the_page_and_the_picture(report):
    grades, run, _, _ = report
    assert (run.returncode, run.stdout) == (0, f"class report: {grades / 'class-report.md'} and "
                                               f"{grades / 'class-report.png'}\n"), run.stderr
    png = (grades / "class-report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width >= 800 and height >= 300, (width, height)  # seven panels, readable


def test_distributions_count_each_graded_submission_once(report, catalogue):
    _, _, page, completed = report
    failed = len(catalogue[1]) - len(completed)
    assert page[""].splitlines()[2].startswith(f"{len(catalogue[1])} submissions: {len(completed)} graded, "
                                               f"{failed} could not be graded")
    assert len(completed) >= 20
    for q, points in QUESTIONS.items():
        got = distribution(page[q])
        assert sum(got.values()) == len(completed), q
        assert got == Counter(float(g.scores[q][0]) for g in completed.values()), q
        mean = sum(g.scores[q][0] for g in completed.values()) / len(completed)
        assert f"Mean {mean:.2f} of {points:g}." in page[q]


def test_known_codes_under_their_question_with_their_count(report):
    _, _, page, completed = report
    for name, (q, code) in KNOWN.items():
        assert name in hits(completed, q, code), f"premise: {name}'s feedback on {q} names [{code}]"
        listed = {c: (int(k), int(n), idea) for c, _, k, n, idea in RANKED.findall(page[q])}
        assert listed[code][:2] == (len(hits(completed, q, code)), len(completed)), (name, q, code)
    line = next(line for line in page["ex1_save_load"].splitlines() if "`whole_model`" in line)
    idea = class_report.misconception(MESSAGES["whole_model"])
    assert line.endswith(f"). {idea}") and "{" not in idea and "torch.save(model)" in idea


def test_codes_are_ranked_by_students_who_hit_them(report):
    _, _, page, completed = report
    for q in QUESTIONS:
        listed = [(c, int(k)) for c, _, k, _, _ in RANKED.findall(page[q])]
        expected = {c: len(hits(completed, q, c)) for c in MESSAGES}
        assert listed == sorted(((c, k) for c, k in expected.items() if k), key=lambda ck: (-ck[1], ck[0])), q
    ex2 = [c for c, *_ in RANKED.findall(page["ex2_checkpointing"])]
    assert ex2.index("loss_mismatch") < ex2.index("state_dict_method")  # the hostile entries and edited-by-hand
    anywhere = {c: set().union(*(hits(completed, q, c) for q in QUESTIONS)) for c in MESSAGES}
    top = sorted(((c, len(s)) for c, s in anywhere.items() if s), key=lambda ck: (-ck[1], ck[0]))[:class_report.TOP]
    reteach = RANKED.findall(page["Re-teach first"])
    assert [(c, int(k)) for c, _, k, _, _ in reteach] == top
    for c, where, *_ in reteach:
        assert where.split(", ") == [q for q in QUESTIONS if hits(completed, q, c)], c


def test_a_failed_grading_is_listed_apart_not_as_zeros(report, tmp_path):
    grades, _, page, completed = report
    shutil.copytree(grades / "results", tmp_path / "results")
    hung = grade.Graded("hung.zip", status="timed out after 600 s")
    grade.write_csv(tmp_path / "final_grades.csv", [*completed.values(), hung], QUESTIONS)
    md, _ = class_report.write(tmp_path, ASSIGNMENT.name)
    again = sections(md.read_text())
    assert again[""].splitlines()[2] == (f"{len(completed) + 1} submissions: {len(completed)} graded, 1 could not "
                                         "be graded: hung.zip (timed out after 600 s).")
    assert all(distribution(again[q]) == distribution(page[q]) for q in QUESTIONS)


@pytest.mark.parametrize("folder", ["absent", "empty"])
def test_no_grades_folder_exits_2_with_one_line(tmp_path, folder):
    (tmp_path / "empty").mkdir()
    run = report_cli(tmp_path / folder)
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == (f"No grades in {tmp_path / folder}: there is no final_grades.csv there (write one with "
                          f"`python -m autograder grade --out {tmp_path / folder}`).\n")


def test_misconception_is_the_lesson_idea_of_the_message():
    idea = class_report.misconception
    assert idea("{name} has weights but no Adam moments ({detail}). Resuming from it restarts Adam from zero: "
                "save optimizer.state_dict().") == "Resuming from it restarts Adam from zero: save optimizer.state_dict()."
    assert idea("{name}: found {detail} — the same error as Check 1: it only loads into its architecture.") == (
        "the same error as Check 1: it only loads into its architecture.")
    assert idea("The final model is not the best one: restore it.") == "The final model is not the best one: restore it."
    assert idea("{name}: the recorded {key} ({recorded:.4f}) is not {expected!r}.") == (  # ends on a detail: all of it
        "{name}: the recorded {key} ({recorded}) is not {expected}.")
