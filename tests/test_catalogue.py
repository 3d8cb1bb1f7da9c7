"""The catalogue: realistic submissions graded end to end by the built autograder.

Every mistake must cost exactly the points the manifest states, on the question it states, with
feedback that names it; every correct variation must get full marks; a hostile notebook gets
what its files earned and no more, and is flagged for a TA when its kernel claimed otherwise.
"""

from pathlib import Path

import pytest

from autograder import grade
from autograder.saving_and_loading import ASSIGNMENT

QUESTIONS = ASSIGNMENT.questions
from catalogue.make import entries

ENTRIES = {e["name"]: e for e in entries()}


def expected_scores(entry):
    return {q: float(entry.get("scores", {}).get(q, p)) for q, p in QUESTIONS.items()}


def test_the_catalogue_is_complete():
    kinds = [e["kind"] for e in ENTRIES.values()]
    assert kinds.count("mistakes") >= 15 and kinds.count("correct") >= 6 and kinds.count("hostile") >= 8
    for e in ENTRIES.values():
        if e["kind"] != "hostile":
            assert (sum(expected_scores(e).values()) < 16) == (e["kind"] == "mistakes"), e["name"]


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_scores_and_feedback(catalogue, name):
    entry, graded = ENTRIES[name], catalogue[1][name]
    got = {q: float(s) for q, (s, _) in graded.scores.items()}
    assert got == expected_scores(entry), f"{name}: {entry.get('mistake') or entry.get('change')}"
    if "feedback" in entry:
        assert entry["feedback"] in grade.feedback(graded), grade.feedback(graded)
    assert graded.flagged == entry.get("flagged", False), graded.results["tests"][-1]
    if "canary" in entry:
        assert not Path(entry["canary"]).exists(), "code from the notebook's results ran in the grader"
