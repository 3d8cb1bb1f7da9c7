"""Observe in the kernel, judge in the grader (autograder/observe.py, integrity.run_in_grader): a
test case on plain variables is judged on the values the kernel was seen to hold, whatever the
kernel reports, and an observation is only ever read as plain data."""

import copy
import json
import os
import re
import zipfile
from pathlib import Path

import numpy
import pytest
import torch
from otter.test_files import GradingResults

from autograder import integrity, observe
from autograder.observe import NotObserved
from autograder.saving_and_loading import ASSIGNMENT
from test_integrity import TESTS, kernel_results, otter_test


def test_plain_values_pass_as_they_are_and_library_numbers_in_lists_become_numbers():
    assert observe.plain([0.5, torch.tensor(0.25), 3, float("inf")]) == [0.5, 0.25, 3, float("inf")]
    assert observe.plain("b") == "b" and observe.plain(True) is True and observe.plain(None) is None
    assert observe.plain(numpy.int64(11)) == 11 and type(observe.plain(numpy.float32(0.5))) is float
    assert observe.plain({"a": [1, {"b": None}]}) == {"a": [1, {"b": None}]}
    for value in (torch.tensor(True), torch.nn.Linear(1, 1), {1: 1}, {"a": torch.tensor(1.0)}, [torch.zeros(2)],
                  "x" * 10_001, list(range(10_001)), [[[[[[[1]]]]]]]):
        assert isinstance(observe.plain(value), NotObserved), value


@pytest.fixture
def folder(tmp_path):
    return tmp_path / observe.FOLDER


def test_what_the_kernel_records_the_grader_reads_back(folder):
    class Hostile:  # a library scalar as the kernel might see one, whose reading raises
        __module__ = "torch"

        def item(self):
            raise ZeroDivisionError

    class Lying(list):  # a list that is not a list: never iterated in the kernel
        def __iter__(self):
            raise RuntimeError("no")

    namespace = {"answer": 42, "history": [0.3, 0.2], "thing": object(), "trap": [Hostile()], "lying": Lying([1])}
    observe.record("q1", ["answer", "history", "thing", "trap", "lying", "undefined"], namespace, folder)
    got = observe.read(folder, "q1", ["answer", "history", "thing", "trap", "lying", "undefined", "never recorded"])
    assert got["answer"] == 42 and got["history"] == [0.3, 0.2]
    assert {k: v.why for k, v in got.items() if isinstance(v, NotObserved)} == {
        "thing": "a builtins.object", "trap": "ZeroDivisionError while reading it",
        "lying": "a test_observe.test_what_the_kernel_records_the_grader_reads_back.<locals>.Lying",
        "undefined": "undefined is not defined", "never recorded": "no observation"}
    assert observe.read(folder, "q2", ["answer"]) is None  # the kernel never got there


@pytest.mark.parametrize("make", [
    lambda f: f.write_text("[" * 100_000 + "]" * 100_000),  # breaks a recursive reader
    lambda f: f.write_text(json.dumps({"answer": {"value": [0.1] * 50_000}})),  # over the size limit
    lambda f: f.write_text(json.dumps({"answer": {"value": {"a": [[[[[["os.system"]]]]]]}}})),  # nested too deep
    lambda f: f.write_text('{"answer": {"value": 42'),  # cut short
    lambda f: f.write_bytes(b"\x80\x04\x95" + b"cos\nsystem\n"),  # a pickle: only ever parsed as JSON
    lambda f: os.mkfifo(f),  # would block a reader
])
def test_a_crafted_observation_is_never_an_answer(folder, make):
    folder.mkdir()
    make(folder / "q1.json")
    got = observe.read(folder, "q1", ["answer"])
    assert isinstance(got["answer"], NotObserved)


def test_links_are_not_followed(folder, tmp_path):
    (tmp_path / "elsewhere.json").write_text(json.dumps({"answer": {"value": 42}}))
    folder.mkdir()
    (folder / "q1.json").symlink_to(tmp_path / "elsewhere.json")
    assert observe.read(folder, "q1", ["answer"]) is None
    folder.joinpath("q1.json").unlink()
    folder.rmdir()
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "q1.json").write_text(json.dumps({"answer": {"value": 42}}))
    folder.symlink_to(tmp_path / "real")
    assert observe.read(folder, "q1", ["answer"]) is None


def judged(tmp_path, monkeypatch, answer=None, record=True):
    """q1's cases the grader judges, with `answer` a plain variable, on what the kernel held."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "answer.txt").write_text("42")
    if record:
        observe.record("q1", ["answer"], {"answer": answer}, observe.FOLDER)
    return integrity.run_in_grader(TESTS, ("answer",), observe.FOLDER)


def test_a_case_on_observed_variables_is_judged_on_the_observed_value(tmp_path, monkeypatch):
    assert judged(tmp_path, monkeypatch, 42)["q1"]["q1 - 2"][0] is True
    passed, message = judged(tmp_path, monkeypatch, 41)["q1"]["q1 - 2"]
    assert not passed and "answer should be 42" in message
    assert judged(tmp_path, monkeypatch, torch.tensor(42))["q1"]["q1 - 2"][0]  # a tensor, read back as one: torch's `==`

    class Lying(int):  # what the kernel's `==` would pass: neither plain nor what weights_only loads
        def __eq__(self, other):
            return True

    assert not judged(tmp_path, monkeypatch, Lying(41))["q1"]["q1 - 2"][0]


def test_a_question_the_kernel_kept_from_being_observed_fails_and_is_flagged(tmp_path, monkeypatch):
    """A notebook that blocks the observation (a file where the folder goes, a deleted record)
    gets the case judged on nothing, whatever its kernel reported."""
    outcome = judged(tmp_path, monkeypatch, record=False)
    assert outcome["q1"]["q1 - 1"][0] is True and outcome["q1"]["q1 - 2"][0] is False
    results = kernel_results({"q1 - 1": True, "q1 - 2": True})
    flags = integrity.rebuild(results, TESTS, outcome, ("answer",))
    assert results.results["q1"].score == 1 and len(flags) == 1


def test_the_kernels_forged_pass_counts_for_nothing_and_is_flagged(tmp_path, monkeypatch):
    results = kernel_results({"q1 - 1": True, "q1 - 2": True}, points=100)  # the kernel marks all passed
    flags = integrity.rebuild(results, TESTS, judged(tmp_path, monkeypatch, 41), ("answer",))
    assert results.results["q1"].score == 1
    assert flags == ["q1 - 2: the notebook's kernel reported it passed; the grader's own check, run after "
                     "the kernel ended, failed it"]


def test_when_the_kernel_stopped_the_observed_cases_are_not_graded_as_the_kernels(tmp_path, monkeypatch):
    results = GradingResults([])
    integrity.rebuild(results, TESTS, judged(tmp_path, monkeypatch, 42), ("answer",), kernel_stopped="the kernel died")
    assert results.results["q1"].score == 1


def test_the_observation_cell_runs_alone(tmp_path):
    source = observe.observation_cell("q1", {"answer"}, str(tmp_path / observe.FOLDER))
    namespace = {"answer": [1, 2]}
    exec(compile(source, "cell", "exec"), namespace)
    assert "_observe" not in namespace
    assert observe.read(tmp_path / observe.FOLDER, "q1", ["answer"]) == {"answer": [1, 2]}


def test_an_exception_is_observed_as_its_class_and_message(folder):
    class SizeError(RuntimeError):
        pass

    try:
        {}["fc1"]
    except KeyError as e:
        missing = e
    observe.record("c", ["caught", "key", "text"], {"caught": SizeError("size mismatch for fc1.weight"),
                                                     "key": missing, "text": "size mismatch"}, folder)
    got = observe.read(folder, "c", ["caught", "key", "text"])
    assert isinstance(got["caught"], RuntimeError) and type(got["caught"]).__name__ == "SizeError"
    assert str(got["caught"]) == "size mismatch for fc1.weight" and str(got["key"]) == str(missing) == "'fc1'"
    assert isinstance(got["key"], KeyError) and not isinstance(got["text"], Exception)
    for builtins in (["system", "object"], 5, ["object"]):  # no exception class, not a list
        folder.joinpath("c.json").write_text(json.dumps({"caught": {"exception": {
            "type": "X", "message": "m", "builtins": builtins}}}))
        assert isinstance(observe.read(folder, "c", ["caught"])["caught"], NotObserved)
    try:
        b"\xff".decode()
    except UnicodeDecodeError as e:  # its constructor takes five arguments
        observe.record("u", ["caught"], {"caught": e}, folder)
    [caught] = observe.read(folder, "u", ["caught"]).values()
    assert isinstance(caught, UnicodeDecodeError) and "can't decode byte 0xff" in str(caught)


def test_torch_objects_are_observed_as_data(folder):
    """A module or an optimizer reaches the grader as what its state_dict() returned (a module with
    its training flag); a tensor, or a dict of them, as it is."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)).eval()
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(3, 2)).sum().backward()
    optimizer.step()
    namespace = {"model": model, "optimizer": optimizer, "state": model.state_dict(), "tensor": torch.arange(3)}
    observe.record("q", list(namespace), namespace, folder)
    got = observe.read(folder, "q", list(namespace))
    assert got["model"].training is False and got["optimizer"].training is None
    assert got["model"].state_dict().keys() == model.state_dict().keys()
    assert all(torch.equal(got["model"].state_dict()[k], v) for k, v in model.state_dict().items())
    assert [s["step"].item() for s in got["optimizer"].state_dict()["state"].values()] == [1.0, 1.0, 1.0, 1.0]
    assert all(torch.equal(got["state"][k], v) for k, v in model.state_dict().items())
    assert torch.equal(got["tensor"], torch.arange(3))


class Payload:
    def __reduce__(self):
        return (os.system, ("touch ran",))


class LyingDict(dict):  # equal to anything: what a forged observation would hold
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("saved", [
    {"kind": "value", "value": Payload()},  # code: never runs (weights_only)
    {"kind": "value", "value": LyingDict(a=1)},  # a class of the notebook's
    {"kind": "module", "state_dict": {}, "training": "no"},  # not the shape of one
    {"kind": "optimizer", "state_dict": [1]},
    {"kind": "function", "value": 1},
    [1, 2],
    {"kind": "value", "value": torch.zeros(observe.SAVED_BYTES // 4 + 1)},  # over the size limit
    {"kind": "value", "value": torch.zeros(1).as_strided((2**40,), (0,))},  # 4 TB once copied
    {"kind": "value", "value": [["x" * 1000] * 1000] * 1000},  # a few KB, a GB once printed
    {"kind": "module", "state_dict": {"w": torch.nn.Parameter(torch.zeros(1))}, "training": False},  # a subclass
    {"kind": "optimizer", "state_dict": {"state": {0: {"step": [1] * 10}}, "param_groups": []}},
    {"kind": "optimizer", "state_dict": {"state": {}, "param_groups": [], "also": 1}},
])
def test_a_crafted_saved_observation_is_never_an_answer(folder, tmp_path, monkeypatch, saved):
    monkeypatch.chdir(tmp_path)
    folder.mkdir()
    torch.save(saved, folder / "q.x.pt")
    (folder / "q.json").write_text(json.dumps({"x": {"saved": True}, "y": {"saved": True}}))
    got = observe.read(folder, "q", ["x", "y"])
    assert isinstance(got["x"], NotObserved) and not (tmp_path / "ran").exists()
    assert got["y"].why == "its file is missing"


def test_a_case_on_a_module_is_judged_on_its_observed_state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tests = {"q": otter_test("q", """
        @test_case(points=1)
        def test_eval(model):
            assert not model.training and model.state_dict()["weight"].sum() == 0, "eval mode, zero weights"
        """)}
    model = torch.nn.Linear(2, 1)
    for weight, training, passed in ((0.0, False, True), (1.0, False, False), (0.0, True, False)):
        with torch.no_grad():
            model.weight.fill_(weight)
        observe.record("q", ["model"], {"model": model.train(training)}, observe.FOLDER)
        assert integrity.run_in_grader(tests, ("model",), observe.FOLDER)["q"]["q - 1"][0] is passed


def test_no_point_is_judged_in_the_kernel(built):
    """What a notebook that forges otter's results in its kernel can still gain (docs/security.md):
    the test cases of the built zip the grader does not judge itself, 0 of 16 points."""
    with zipfile.ZipFile(built["zip_path"]) as zf:
        tests = {Path(n).stem: zf.read(n).decode() for n in zf.namelist() if n.startswith("tests/") and n.endswith(".py")}
    in_kernel = {c.body.test_func.__name__: c.points for q, source in tests.items() for c in integrity.parse(q, source).test_cases
                 if not integrity.judged_by_grader(c, ASSIGNMENT.observed_variables)}
    assert in_kernel == {"test_bit_identical_resume": 0}


# --- a class observed by what it does: EarlyStopping's runs (Lesson.probes) ----------------------

STOPPER_TESTS = {"es": otter_test("es", """
    @test_case(points=1)
    def test_rules(EarlyStopping):
        from autograder.saving_and_loading import hidden
        hidden.require_early_stopping(EarlyStopping)
    """)}


def judged_in_grader(namespace, seed=7):
    """The hidden test's outcome when the grader's probe cell ran in a kernel holding `namespace`."""
    from autograder.saving_and_loading import LESSON
    probes = LESSON.probes(seed)
    exec(observe.observation_cell("es", ["EarlyStopping"], observe.FOLDER, probes), namespace)
    return integrity.run_in_grader(STOPPER_TESTS, ("EarlyStopping",), observe.FOLDER, probes)["es"]["es - 1"]


def test_the_grader_judges_the_runs_the_kernel_observed_on_its_inputs(tmp_path, monkeypatch):
    from test_early_stopping import NeverResets, solution_early_stopping
    monkeypatch.chdir(tmp_path)
    assert judged_in_grader({"EarlyStopping": solution_early_stopping()})[0] is True
    passed, message = judged_in_grader({"EarlyStopping": NeverResets})
    assert not passed and "EarlyStopping differs from the reference" in message and "random #" in message
    passed, message = judged_in_grader({})  # no class: one line says why
    assert not passed and message.count("[early_stopping]") == 1 and "EarlyStopping is not defined" in message


def test_runs_forged_for_other_inputs_fail(tmp_path, monkeypatch):
    """A kernel that writes the reference's runs on the scripted sequences (all it could know in
    advance) instead of running a class on the grader's inputs: the random runs are missing."""
    from autograder.saving_and_loading import early_stopping, stopper_runs
    monkeypatch.chdir(tmp_path)
    forged = stopper_runs.probe(early_stopping.ReferenceEarlyStopping, early_stopping.runs())

    def forge(namespace):  # the module itself, as a notebook would; monkeypatch puts it back for the next tests
        monkeypatch.setattr(namespace["_observe"], "record", lambda key, names, namespace, folder, probes: (
            Path(folder).mkdir(exist_ok=True), (Path(folder) / f"{key}.json").write_text(
                json.dumps({"EarlyStopping": {"value": forged + forged[-6:]}}))))

    class Kernel(dict):  # the observation cell imports _observe, then the notebook's forgery acts
        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            if key == "_observe":
                forge(self)

    passed, message = judged_in_grader(Kernel())
    assert not passed and "random #1 (seed 7)" in message


@pytest.mark.parametrize("runs", [
    "not a list", [], [{"steps": "no"}] * 14, [{"steps": [[1, 2, 3]], "kept": 1, "error": None, "resumed": []}] * 14,
    [{"steps": [[True, 1, 0, 0.5]], "kept": 1, "error": ["x"], "resumed": []}] * 14, [None] * 14,
    [{"steps": [], "kept": None, "error": None, "resumed": [{}]}] * 14, [{"steps": {}, "error": None, "resumed": ""}] * 14])
def test_runs_that_are_not_runs_fail_with_a_message(tmp_path, runs):
    from autograder.saving_and_loading import LESSON
    probes = LESSON.probes(7)
    folder = tmp_path / observe.FOLDER
    folder.mkdir()
    (folder / "es.json").write_text(json.dumps({"EarlyStopping": {"value": runs}}))
    passed, message = integrity.run_in_grader(STOPPER_TESTS, ("EarlyStopping",), folder, probes)["es"]["es - 1"]
    assert not passed and "EarlyStopping differs from the reference on its runs, which the grader could not observe" in message


def test_a_regrade_draws_with_the_logged_seed_and_a_wrong_seed_is_named(monkeypatch):
    from autograder.saving_and_loading import LESSON
    monkeypatch.setenv(observe.SEED_ENV, "1234")
    assert observe.grading_seed() == 1234
    assert json.dumps(LESSON.probes(observe.grading_seed())) == json.dumps(LESSON.probes(1234))
    monkeypatch.setenv(observe.SEED_ENV, "12a")
    with pytest.raises(ValueError, match="AUTOGRADER_SEED is the seed a grading logged, a whole number; found '12a'"):
        observe.grading_seed()
    monkeypatch.delenv(observe.SEED_ENV)
    assert observe.grading_seed() != observe.grading_seed() or observe.grading_seed() != observe.grading_seed()


def _ex1(case):
    """Exercise 1's variables and saved file as a notebook in `case` leaves them: the trained
    model, the one loaded from its file (or a copy made without it), and the answer."""
    from autograder.saving_and_loading.model import MNISTModel
    torch.manual_seed(0)
    trained, other = MNISTModel().eval(), MNISTModel().eval()
    Path("checkpoints").mkdir(exist_ok=True)
    torch.save(trained if case == "whole model saved" else trained.state_dict(), "checkpoints/mnist_model.pth")
    loaded = copy.deepcopy(trained)
    if case == "another model, answer written":
        loaded = other
    if case == "both models copied, not the saved ones":
        trained, loaded = other, copy.deepcopy(other)
    return {"predictions_match": True, "ex1_model": trained, "loaded_model": loaded}


@pytest.mark.parametrize("case, problems", [
    ("loaded from its file", []),
    ("whole model saved", []),  # its file fails its own file check; no second penalty here
    ("another model, answer written", ["predictions_differ", "not_loaded"]),
    ("both models copied, not the saved ones", ["not_the_saved_weights"]),
])
def test_exercise_1_is_derived_from_the_observed_models_and_the_saved_file(tmp_path, monkeypatch, case, problems):
    """predictions_match is recomputed from the two models the kernel held, and their weights are
    compared with the file it saved: writing True, or two equal models, is not enough."""
    from autograder.saving_and_loading import live_run
    monkeypatch.chdir(tmp_path)
    namespace = _ex1(case)
    observe.record("ex1", list(namespace), namespace)
    got = observe.read(observe.FOLDER, "ex1", list(namespace))
    found = []
    for check, args in ((live_run.require_predictions_match, [got[n] for n in namespace]),
                        (live_run.require_loaded, [got["loaded_model"], got["ex1_model"]])):
        try:
            check(*args)
        except AssertionError as e:
            found += re.findall(r"\[(\w+)\]", str(e))
    assert found == problems


def test_map_location_is_judged_against_the_lessons_checkpoint_not_the_notebooks_files(tmp_path, monkeypatch):
    """gpu_state must hold gpu_checkpoint.pth's tensors, which the grader knows without the file: a
    fresh model's state_dict loaded into itself is on the CPU and loaded, and still fails."""
    from autograder.saving_and_loading import hidden
    from autograder.saving_and_loading.build import write_gpu_checkpoint
    from autograder.saving_and_loading.model import MNISTModel
    monkeypatch.chdir(tmp_path)
    write_gpu_checkpoint("gpu_checkpoint.pth")
    right = torch.load("gpu_checkpoint.pth", map_location="cpu", weights_only=True)
    fresh = MNISTModel()
    for gpu_state, problems in ((right, []), (fresh.state_dict(), ["not_gpu_example"])):
        cpu_model = MNISTModel()
        cpu_model.load_state_dict(gpu_state)
        namespace = {"gpu_state": gpu_state, "cpu_model": cpu_model}
        observe.record("map", list(namespace), namespace)
        got = observe.read(observe.FOLDER, "map", list(namespace))
        try:
            hidden.require_map_location(got["gpu_state"], got["cpu_model"])
            found = []
        except AssertionError as e:
            found = re.findall(r"\[(\w+)\]", str(e))
        assert found == problems
