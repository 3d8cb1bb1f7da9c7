"""Problem codes: every code is documented, every message can be filled in; the feedback's HTML."""

import base64
import re
import string
from pathlib import Path

from autograder.codes import Verdict, assert_ok
from autograder.report import html_summary
from autograder.saving_and_loading.messages import MESSAGES, problem
from autograder.saving_and_loading.picture import feedback_picture

MAINTAINERS = (Path(__file__).parent.parent / "docs" / "maintainers.md").read_text()


def test_every_code_is_documented_and_only_those():
    table = MAINTAINERS.split("\n### Problem codes\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert documented == set(MESSAGES)


def test_every_message_formats():
    for code, template in MESSAGES.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        values = {f: 1.0 if f in ("ratio", "threshold", "recorded", "recomputed", "before", "after",
                                  "tolerance", "expected") else 7 for f in fields}
        assert problem(code, **values).message


def test_verdict_round_trip():
    v = Verdict("crash", [problem("missing", name="checkpoints/crash.pth", remedy="run the crash cell")], ["a hint"], plot={"epoch": 10})
    again = Verdict.from_dict(v.to_dict())
    assert again == v and not again.ok and "[missing]" in again.render() and "a hint" in again.render()


def test_summary_escapes_notes_and_embeds_the_resume_picture():
    plot = {"epoch": 10, "loss": 0.05, "restored": [0.04, 0.03, 0.035], "fresh": [0.06, 0.05, 0.055]}
    summary = html_summary(["a key named <script>alert(1)</script> & more"], feedback_picture({"crash": {"plot": plot}}))
    assert "<script>" not in summary and "&lt;script&gt;" in summary and "&amp; more" in summary
    [png] = re.findall(r'<img alt="[^"]+" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', summary)
    assert base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n")


def test_summary_without_a_resume_has_no_picture():
    assert feedback_picture({"crash": {"plot": {}}}) is None and feedback_picture({}) is None
    assert "<img" not in html_summary(["a hint"], None)
    assert html_summary([], None) == ""


def test_a_test_on_several_checks_says_each_failed_checks_problems_then_its_hints():
    periodic = Verdict("periodic", [problem("missing", name="checkpoints/epoch_5.pth", remedy="run Exercise 2")],
                       ["hint of periodic"])
    best = Verdict("best", [problem("missing", name="checkpoints/best.pth", remedy="run Exercise 2")], ["hint of best"])
    try:
        assert_ok([periodic, Verdict("crash"), best])
    except AssertionError as e:
        lines = str(e).strip().splitlines()
    else:
        raise AssertionError("two failed checks passed")
    assert [line.split(":")[0] for line in lines] == [
        "- checkpoints/epoch_5.pth is missing", "- Hint", "- checkpoints/best.pth is missing", "- Hint"], lines
    assert_ok([Verdict("crash")])  # no problem: passes
