"""End to end: the sample submissions graded with the built autograder zip, as Gradescope runs it."""

from autograder.saving_and_loading import ASSIGNMENT

QUESTIONS = ASSIGNMENT.questions


def test_reference_gets_full_marks(graded):
    assert graded["reference"].scores == {q: (p, p) for q, p in QUESTIONS.items()}


def test_untouched_release_gets_zero_and_results(graded):
    g = graded["untouched-release"]
    assert {q: m for q, (_, m) in g.scores.items()} == QUESTIONS
    assert all(s == 0 for s, _ in g.scores.values()), g.scores
    crash = next(t for t in g.results["tests"] if t.get("name") == "ex3_resume")["output"]
    assert "checkpoints/crash.pth is missing: run Exercise 3's training cell" in crash
    assert "<img" not in g.results.get("output", "")  # no crash checkpoint, nothing resumed to draw


def test_feedback_shows_the_resume_picture_on_gradescope(graded):
    """Gradescope renders the top-level output as HTML only with output_format 'html'."""
    import base64
    import re

    results = graded["reference"].results
    assert results["output_format"] == "html"
    assert all("output_format" not in t for t in results["tests"])  # the tests' outputs stay text
    [png] = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', results["output"])
    assert base64.b64decode(png).startswith(b"\x89PNG")
    assert re.search(r"loss is \d+\.\d\dx lower than with a fresh Adam", results["output"])



class LogPayload:
    """A .OTTER_LOG that would create a file when dill-loaded."""

    def __init__(self, canary):
        self.canary = str(canary)

    def __reduce__(self):
        return (open, (self.canary, "w"))


def test_regrading_is_identical_and_a_hostile_log_never_runs(graded, built, tmp_path):
    import zipfile

    import dill

    from autograder import grade

    canary = tmp_path / "log-payload-ran"
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(built["samples_dir"] / "reference.zip") as src, zipfile.ZipFile(hostile, "w") as dst:
        for item in src.infolist():
            if item.filename != ".OTTER_LOG":
                dst.writestr(item, src.read(item))
        dst.writestr(".OTTER_LOG", dill.dumps(LogPayload(canary)))
    again = grade.grade_one(hostile, built["zip_path"])
    assert not canary.exists(), "the submitted .OTTER_LOG ran code in the grader"
    assert again.results == graded["reference"].results  # same scores, messages and picture
    dill.loads(dill.dumps(LogPayload(canary)))  # the control: the payload is real
    assert canary.exists()


def test_bulk_grading_writes_otters_csv_and_feedback(bulk):
    import csv

    out, graded = bulk
    rows = list(csv.DictReader(open(out / "final_grades.csv")))
    assert list(rows[0]) == ["file", *sorted(QUESTIONS), "total_points_earned", "percent_correct", "grading_status",
                             "flagged"]
    assert rows[0]["file"] == "points-per-question" and float(rows[0]["total_points_earned"]) == 16
    by_file = {r["file"]: r for r in rows[1:]}
    assert float(by_file["reference.zip"]["total_points_earned"]) == 16
    assert float(by_file["untouched-release.zip"]["total_points_earned"]) == 0
    assert "checkpoints/crash.pth is missing: run Exercise 3's training cell" in (out / "feedback" / "untouched-release.html").read_text()
    assert '<img alt="loss curves' in (out / "feedback" / "reference.html").read_text()


def test_a_broken_submission_gets_a_row_of_zeros(built, tmp_path):
    from autograder import grade

    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "not-a-zip.zip").write_bytes(b"garbage")
    graded, _ = grade.grade_all([tmp_path / "subs"], tmp_path / "out", built["zip_path"])
    assert graded[0].total == 0 and graded[0].status != "Completed"
    assert "not-a-zip.zip" in (tmp_path / "out" / "final_grades.csv").read_text()
