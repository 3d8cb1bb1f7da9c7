"""The catalogue: realistic submissions graded end to end by the built autograder.

Every mistake must cost exactly the points the manifest states, on the question it states, with
feedback that names it; every correct variation must get full marks.
"""

import os

import pytest

from autograder import grade
from catalogue.make import entries, make_all
from test_grading import QUESTIONS

ENTRIES = {e["name"]: e for e in entries()}
WORKERS = os.cpu_count() or 1


@pytest.fixture(scope="session")
def catalogue(built, tmp_path_factory):
    folder = tmp_path_factory.mktemp("catalogue")
    make_all(built["solution"], folder / "submissions", workers=WORKERS)
    graded, _ = grade.grade_all([folder / "submissions"], folder / "grades", built["zip_path"], workers=WORKERS)
    return {g.file.removesuffix(".zip"): g for g in graded}


def test_the_catalogue_is_complete():
    kinds = [e["kind"] for e in ENTRIES.values()]
    assert kinds.count("mistakes") >= 15 and kinds.count("correct") >= 6
    for e in ENTRIES.values():
        expected = {**QUESTIONS, **e.get("scores", {})}
        assert (sum(expected.values()) < 16) == (e["kind"] == "mistakes"), e["name"]


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_scores_and_feedback(catalogue, name):
    entry, graded = ENTRIES[name], catalogue[name]
    expected = {q: float(entry.get("scores", {}).get(q, p)) for q, p in QUESTIONS.items()}
    got = {q: float(s) for q, (s, _) in graded.scores.items()}
    assert got == expected, f"{name}: {entry.get('mistake') or entry.get('change')}"
    if "feedback" in entry:
        assert entry["feedback"] in grade.feedback(graded), grade.feedback(graded)
