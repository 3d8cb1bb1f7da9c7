"""What the notebook's kernel is trusted with, and what it is not.

otter runs the hidden tests inside the kernel that has just executed the student's notebook, and
reads their results back from a pickle that kernel writes. Student code in that kernel can
rewrite the tests' helpers or the collected results. So after grading, the plugin rebuilds the
results from what it holds itself:

- the test definitions (names, points, visibility) it read from the autograder before any
  student code ran;
- every test case that needs nothing from the live kernel (an otter test function without
  parameters: the file checks and the public file tests) run again in the grader's own
  interpreter after the kernel has ended (isolate.py), with the plugin's own package and the
  verdicts on the files it sealed before the notebook ran;
- only the cases that need the live notebook's variables (their parameters) are taken from the
  kernel: their pass or fail and message.
A kernel-free case the kernel reports passed but the grader's run fails is flagged for a TA.
Imports no torch: runs in otter's process (run_kernel_free, in the grader's interpreter).
"""

import io
import pickle
from pathlib import Path

from otter.test_files import GradingResults
from otter.test_files.abstract_test import TestCaseResult
from otter.test_files.exception_test import ExceptionTestFile

MESSAGE_LIMIT = 4000  # characters of one case's message kept from the kernel


def read_tests(tests_dir, questions):
    """{question: test file source}, in the order of `questions` (notebook order), read now:
    later the kernel could rewrite the files."""
    order = list(questions)
    files = sorted(Path(tests_dir).glob("*.py"), key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    return {p.stem: p.read_text() for p in files}


def parse(name, source):
    return ExceptionTestFile.from_string(source, path=f"tests/{name}.py")


def needs_kernel(case):
    """otter hands a test function the notebook's variables named by its parameters."""
    return bool(case.body._get_func_params())


def run_kernel_free(tests):
    """In the grader's own interpreter (checker.py), in the re-run's folder: run every kernel-free
    case of `tests` ({question: test file source}).

    Returns:
        dict: {question: {case name: (passed, message)}}.
    """
    outcome = {}
    for question, source in tests.items():
        tf = parse(question, source)
        free = ExceptionTestFile(tf.name, tf.path, [c for c in tf.test_cases if not needs_kernel(c)])
        free.source = tf.source
        free.run({})
        outcome[question] = {r.test_case.name: (r.passed, r.message) for r in free.test_case_results}
    return outcome


def trusted_outcome(tests, outcome, failure):
    """{question: {case name: (passed, message)}} for every kernel-free case: the grader's
    `outcome` (read back as JSON), or, when its interpreter did not finish, failed with `failure`."""
    if outcome is None:
        message = f"❌ The grader's own check could not finish: {failure}"
        return {q: {c.name: (False, message) for c in parse(q, s).test_cases if not needs_kernel(c)}
                for q, s in tests.items()}
    return {q: {name: tuple(v) for name, v in cases.items()} for q, cases in outcome.items()}


def rebuild(results, tests, trusted, kernel_stopped=None):
    """Replace otter's `results` (read from the kernel) with ones built from `tests`, the
    `trusted` outcomes of the kernel-free cases and, for the other cases, the kernel's.

    Returns the flags for a TA: kernel-free cases the kernel reported passed that failed here.
    `kernel_stopped` says why the kernel has no results, when it has none."""
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
            if needs_kernel(case):
                passed, message = _from_kernel(kernel, kernel_stopped)
            else:
                passed, message = trusted.get(question, {}).get(case.name, (False, "❌ not run"))
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
