"""What the notebook's kernel is trusted with, and what it is not.

otter runs the hidden tests inside the kernel that has just executed the student's notebook, and
reads their results back from a pickle that kernel writes. Student code in that kernel can
rewrite the tests' helpers or the collected results. So after grading, the plugin rebuilds the
results from what it holds itself:

- the test definitions (names, points, visibility) it read from the autograder before any
  student code ran;
- every test case the grader judges itself, run again in the grader's own interpreter after the
  kernel has ended (isolate.py), with the plugin's own package and the verdicts on the files it
  sealed before the notebook ran: the cases that need nothing from the live kernel (an otter
  test function without parameters: the file checks and the public file tests), and the cases
  whose parameters are all observed variables of the assignment, on what the kernel was seen
  to hold just before the question's tests (observe.py);
- only the other cases, which need live objects (models, classes), are taken from the kernel:
  their pass or fail and message.
A case the grader judges that the kernel reports passed but the grader's run fails is flagged for
a TA. Imports no torch: runs in otter's process (run_in_grader, in the grader's interpreter).
"""

import io
import pickle
from pathlib import Path

from otter.test_files import GradingResults
from otter.test_files.abstract_test import TestCaseResult
from otter.test_files.exception_test import ExceptionTestFile

from . import observe

MESSAGE_LIMIT = 4000  # characters of one case's message kept, the kernel's or the grader's


def read_tests(tests_dir, questions):
    """{question: test file source}, in the order of `questions` (notebook order), read now:
    later the kernel could rewrite the files."""
    order = list(questions)
    files = sorted(Path(tests_dir).glob("*.py"), key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    return {p.stem: p.read_text() for p in files}


def parse(name, source):
    return ExceptionTestFile.from_string(source, path=f"tests/{name}.py")


def variables_of(case):
    """otter hands a test function the notebook's variables named by its parameters."""
    return set(case.body._get_func_params())


def judged_by_grader(case, observed_variables):
    """The grader judges a case that needs no variable, or only observed ones (observe.py)."""
    return variables_of(case) <= set(observed_variables)


def run_in_grader(tests, observed_variables, observed, probes=None):
    """In the grader's own interpreter (checker.py), in the re-run's folder: run every case of
    `tests` ({question: test file source}) the grader judges, a case with variables on the values
    the kernel was seen to hold (`observed`: the observations' folder; `probes`: the lesson's for
    this grading, observe.probed). A question with no observation (the run stopped before its
    tests, or the notebook kept the grader from observing) is judged on none: its cases fail as on
    a wrong value; where the run stopped, the grader's callers say not graded instead.

    Returns:
        dict: {question: {case name: (passed, message)}}.
    """
    outcome = {}
    for question, source in tests.items():
        tf = parse(question, source)
        cases = [c for c in tf.test_cases if judged_by_grader(c, observed_variables)]
        names = set().union(*map(variables_of, cases))
        env = observe.read(observed, question, sorted(names), probes) if names else {}
        if env is None:
            env = observe.probed(dict.fromkeys(names, observe.NotObserved(
                "no observation: the grader's cell before these tests did not record it")), probes)
        judged = ExceptionTestFile(tf.name, tf.path, cases)
        judged.source = tf.source
        judged.run(env)
        outcome[question] = {r.test_case.name: (r.passed, str(r.message or "")[:MESSAGE_LIMIT])
                             for r in judged.test_case_results}
    return outcome


def judged_questions(tests, observed_variables):
    """{question: the observed variables its judged cases need (empty: none)}, for each question
    of `tests` with a case the grader judges."""
    judged = {q: [c for c in parse(q, s).test_cases if judged_by_grader(c, observed_variables)] for q, s in tests.items()}
    return {q: set().union(*map(variables_of, cases)) for q, cases in judged.items() if cases}


def observed_questions(tests, observed_variables):
    """{question: the observed variables its cases need}, for the questions that need some: where
    the grader observes the kernel before the question's tests."""
    return {q: names for q, names in judged_questions(tests, observed_variables).items() if names}


def trusted_outcome(tests, outcome, failure, observed_variables):
    """{question: {case name: (passed, message)}} for every case the grader judges: the grader's
    `outcome` (read back as JSON), or, when its interpreter did not finish, failed with `failure`."""
    if outcome is None:
        message = f"❌ The grader's own check could not finish: {failure}"
        return {q: {c.name: (False, message) for c in parse(q, s).test_cases if judged_by_grader(c, observed_variables)}
                for q, s in tests.items()}
    return {q: {name: tuple(v) for name, v in cases.items()} for q, cases in outcome.items()}


def rebuild(results, tests, trusted, observed_variables, kernel_stopped=None):
    """Replace otter's `results` (read from the kernel) with ones built from `tests`, the
    `trusted` outcomes of the cases the grader judges and, for the other cases, the kernel's.

    Returns the flags for a TA: cases the kernel reported passed that failed here. `kernel_stopped`
    says why the kernel has no results, when it has none."""
    reported = {name: {r.test_case.name: r for r in tf.test_case_results}
                for name, tf in (results.results or {}).items()}
    flags, files = [], []
    if results.catastrophic_error is not None and kernel_stopped is None:
        error = results.catastrophic_error
        kernel_stopped = f"the grader could not read the notebook's test results ({type(error).__name__}: {error})"
        flags.append(kernel_stopped[0].upper() + kernel_stopped[1:])
    for question, source in tests.items():
        tf = parse(question, source)
        for case in tf.test_cases:
            kernel = reported.get(question, {}).get(case.name)
            if not judged_by_grader(case, observed_variables):
                passed, message = _from_kernel(kernel, kernel_stopped)
            else:
                judged = trusted.get(question, {}).get(case.name)
                if judged is None or (kernel_stopped and variables_of(case)):  # as the kernel's cases: not graded
                    judged = _from_kernel(None, kernel_stopped)
                passed, message = judged
                if kernel is not None and kernel.passed is True and not passed:
                    flags.append(f"{case.name}: the notebook's kernel reported it passed; the grader's own "
                                 "check, run after the kernel ended, failed it")
            tf.test_case_results.append(TestCaseResult(test_case=case, message=message, passed=passed))
        files.append(tf)
    notebook = results.notebook
    results.__dict__.update(GradingResults(files, notebook).__dict__)
    return flags


def _from_kernel(kernel, kernel_stopped):
    if kernel is None:
        why = kernel_stopped or "the notebook's run ended before the tests ran"
        return False, f"❌ Not graded: {why}. This test needs the notebook's variables."
    return kernel.passed is True, str(kernel.message or "")[:MESSAGE_LIMIT]


# --- what otter unpickles from the kernel -----------------------------------------------------

RESULT_CLASSES = {
    ("otter.test_files", "GradingResults"),
    ("otter.test_files.abstract_test", "TestCase"),
    ("otter.test_files.abstract_test", "TestCaseResult"),
    ("otter.test_files.exception_test", "ExceptionTestFile"),
    ("otter.test_files.exception_test", "test_case"),
}


class _ResultsUnpickler(pickle.Unpickler):
    """Unpickles otter's test results and nothing else: a pickle the kernel wrote could
    otherwise run code in the grader's process."""

    allowed = RESULT_CLASSES

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"the results name {module}.{name}, which is not a test result")
        return super().find_class(module, name)


class _LogUnpickler(_ResultsUnpickler):
    allowed = set()  # a log record arrives as a dict of plain values


def harden_otter():
    """otter 7 unpickles two things the kernel sends: the results file (otter.execute) and its
    log records (otter.execute.logging). Both go through the restricted unpicklers above."""
    import otter.execute
    import otter.execute.logging

    class RestrictedPickle:
        UnpicklingError = pickle.UnpicklingError

        @staticmethod
        def load(f):
            return _ResultsUnpickler(f).load()

    otter.execute.pickle = RestrictedPickle
    otter.execute.logging.LogRecordStreamHandler.unpickle = lambda self, data: _LogUnpickler(io.BytesIO(data)).load()
