"""Feedback: every problem code is documented, and every message can be filled in."""

import re
import string
from pathlib import Path

from autograder.feedback import MESSAGES, Verdict, problem

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_code_is_documented_and_only_those():
    documented = set(re.findall(r"^\| `(\w+)` \|", README.split("### Problem codes")[1], re.M))
    assert documented == set(MESSAGES)


def test_every_message_formats():
    for code, template in MESSAGES.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        values = {f: 1.0 if f in ("ratio", "threshold", "recorded", "recomputed", "before", "after",
                                  "tolerance", "expected") else 7 for f in fields}
        assert problem(code, **values).message


def test_verdict_round_trip():
    v = Verdict("crash", [problem("missing", name="checkpoints/crash.pth")], ["a hint"])
    again = Verdict.from_dict(v.to_dict())
    assert again == v and not again.ok and "[missing]" in again.render() and "a hint" in again.render()
