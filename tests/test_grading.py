"""End to end: the sample submissions graded by `otter run` with the built autograder zip."""

QUESTIONS = {"check1": 1, "check2": 1, "map_location": 1, "ex1_save_load": 2,
             "ex2_checkpointing": 3, "ex3_resume": 4, "ex4_early_stopping": 4}


def test_reference_gets_full_marks(graded):
    scores, _ = graded["reference"]
    assert scores == {q: (p, p) for q, p in QUESTIONS.items()}


def test_untouched_release_gets_zero_and_results(graded):
    scores, results = graded["untouched-release"]
    assert {q: m for q, (_, m) in scores.items()} == QUESTIONS
    assert all(s == 0 for s, _ in scores.values()), scores
    crash = next(t for t in results["tests"] if t.get("name") == "ex3_resume")["output"]
    assert "checkpoints/crash.pth was not submitted" in crash



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
    scores, results = grade.grade_one(hostile, built["zip_path"])
    assert not canary.exists(), "the submitted .OTTER_LOG ran code in the grader"
    assert results["tests"] == graded["reference"][1]["tests"]  # same scores and messages, byte for byte
    dill.loads(dill.dumps(LogPayload(canary)))  # the control: the payload is real
    assert canary.exists()
