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

