"""What the kernel is trusted with: its results are rebuilt from the grader's own tests and
checks, and nothing it pickles runs in the grader."""

import io
import json
import pickle
import textwrap

import pytest
from otter.test_files import GradingResults

from autograder import integrity
from autograder.isolate import run_checks


def otter_test(name, cases, points=1):
    """The source of an otter test file for question `name`, as otter assign writes it: its header,
    then `cases` (functions decorated @test_case)."""
    return (f"from otter.test_files import test_case\nOK_FORMAT = False\nname = {name!r}\npoints = {points}\n\n"
            + textwrap.dedent(cases))


TESTS = {"q1": otter_test("q1", points=3, cases='''
    @test_case(points=1, hidden=False)
    def test_file():
        from pathlib import Path
        assert Path("answer.txt").read_text() == "42", "answer.txt should say 42"

    @test_case(points=2, hidden=True)
    def test_live(answer):
        assert answer == 42, "answer should be 42"
    ''')}


class Payload:
    def __init__(self, canary):
        self.canary = str(canary)

    def __reduce__(self):
        return (open, (self.canary, "w"))


def kernel_results(passed, points=None):
    """What a kernel would pickle: q1 run against `passed` (case name -> bool)."""
    tf = integrity.parse("q1", TESTS["q1"])
    for case in tf.test_cases:
        tf.test_case_results.append(integrity.TestCaseResult(case, "from the kernel", passed[case.name]))
        if points is not None:
            case.points = points
    return GradingResults([tf])


def test_the_grader_reads_results_and_refuses_code(tmp_path):
    legit = pickle.dumps(kernel_results({"q1 - 1": True, "q1 - 2": True}))
    assert integrity._ResultsUnpickler(io.BytesIO(legit)).load().results["q1"].score == 3
    with pytest.raises(pickle.UnpicklingError, match="open, which is not a test result"):
        integrity._ResultsUnpickler(io.BytesIO(pickle.dumps(Payload(tmp_path / "ran")))).load()
    assert not (tmp_path / "ran").exists()


def test_harden_otter_covers_the_results_file_and_the_log_records(tmp_path):
    import otter.execute
    from otter.execute.logging import LogRecordStreamHandler

    integrity.harden_otter()
    with pytest.raises(pickle.UnpicklingError):
        otter.execute.pickle.load(io.BytesIO(pickle.dumps(Payload(tmp_path / "ran"))))
    with pytest.raises(pickle.UnpicklingError):
        LogRecordStreamHandler.unpickle(None, pickle.dumps(Payload(tmp_path / "ran")))
    assert LogRecordStreamHandler.unpickle(None, pickle.dumps({"msg": "hi", "levelno": 20})) == {"msg": "hi", "levelno": 20}
    assert not (tmp_path / "ran").exists()


def test_rebuild_takes_kernel_free_cases_from_the_grader_and_points_from_the_tests():
    results = kernel_results({"q1 - 1": True, "q1 - 2": True}, points=100)  # a kernel that lies
    trusted = {"q1": {"q1 - 1": (False, "❌ answer.txt should say 42")}}
    flags = integrity.rebuild(results, TESTS, trusted, ())
    assert results.results["q1"].score == 2 and results.results["q1"].possible == 3
    assert flags == ["q1 - 1: the notebook's kernel reported it passed; the grader's own check, run after "
                     "the kernel ended, failed it"]


def test_without_kernel_results_only_kernel_free_cases_count():
    results = GradingResults([])
    flags = integrity.rebuild(results, TESTS, {"q1": {"q1 - 1": (True, "✅")}}, (), kernel_stopped="the kernel died")
    [live] = [r for r in results.results["q1"].test_case_results if r.test_case.name == "q1 - 2"]
    assert results.results["q1"].score == 1 and not flags
    assert live.message == "❌ Not graded: the kernel died. This test needs the notebook's variables."


def test_unreadable_kernel_results_are_flagged():
    results = GradingResults.without_results(pickle.UnpicklingError("the results name builtins.open"))
    flags = integrity.rebuild(results, TESTS, {"q1": {"q1 - 1": (True, "✅")}}, ())
    assert results.results["q1"].score == 1
    assert flags == ["The grader could not read the notebook's test results (UnpicklingError: the results name "
                     "builtins.open)"]


def kernel_free(tests, folder, verdicts):
    """The grader's own interpreter with no file check to run: the kernel-free cases of `tests` in `folder`."""
    _, outcome = run_checks([], folder, verdicts, tests, cwd=folder)
    return integrity.trusted_outcome(tests, *outcome, ())


def test_kernel_free_cases_run_in_a_fresh_interpreter_with_private_verdicts(tmp_path):
    (tmp_path / "answer.txt").write_text("42")
    (tmp_path / "autograder").mkdir()  # a copy within the kernel's reach, booby-trapped
    (tmp_path / "autograder" / "__init__.py").write_text("raise SystemExit('the submission copy was imported')")
    outcome = kernel_free(TESTS, tmp_path, {"saved_model": {}})
    assert outcome == {"q1": {"q1 - 1": (True, "✅ Test case passed")}}
    (tmp_path / "answer.txt").write_text("41")
    [(passed, message)] = kernel_free(TESTS, tmp_path, {})["q1"].values()
    assert not passed and "answer.txt should say 42" in message


def test_kernel_free_cases_that_could_not_run_fail_with_the_reason():
    assert integrity.trusted_outcome(TESTS, None, "ran past 180 s", ()) == {
        "q1": {"q1 - 1": (False, "❌ The grader's own check could not finish: ran past 180 s")}}


def test_verdicts_file_reaches_the_fresh_interpreter_only_through_the_environment(tmp_path):
    source = {"q2": otter_test("q2", '''
        @test_case(points=1, hidden=True)
        def test_verdicts():
            import json, os
            assert json.load(open(os.environ["AUTOGRADER_VERDICTS"])) == {"best": {"ok": True}}
        ''')}
    assert kernel_free(source, tmp_path, {"best": {"ok": True}})["q2"]["q2 - 1"][0] is True
    assert json.dumps({"best": {"ok": True}}) not in "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
