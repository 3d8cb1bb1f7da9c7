"""What an assignment declares, in one place, and where the shared core finds it.

Each lesson is a package, autograder/<package>/ (the assignment's name with "_" for "-"), whose
__init__ declares one `Assignment`, ASSIGNMENT, the lesson's own facts (epochs, patience, the data
split) and LESSON, its implementation of the lesson interface (lesson.py). The build, the plugin,
the harness, the checker, the bulk grader, the student's self-check and the tests read it; nothing
there imports torch, so otter's process, the harness and the bulk grader pay nothing for it. Adding
a lesson means a master notebook in source/<name>/ and a lesson package; `get(name)` finds it.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path

from .lesson import Lesson

DEFAULT = "saving-and-loading"
CORE = Path(__file__).resolve().parent
# The core modules a notebook's folder holds beside the lesson's: those of the student's self-check
# (shipped in the notebook), and, when it is graded, those of the cells the grader puts into it.
CORE_SHIPPED = ("__init__", "assignment", "lesson", "codes", "load", "files", "selfcheck", "submit")
CORE_KERNEL = ("observe", "guard")
DIST = CORE / "dist"  # build output: autograder zips, sample submissions, grades
# The file checks' verdicts, for the hidden tests that compare the re-run's files with the
# submitted ones: set only in the grader's own interpreter (checker.py), never in the kernel.
VERDICTS_ENV = "AUTOGRADER_VERDICTS"


@dataclass(frozen=True)
class ContractFile:
    """A file the student submits beside the notebook."""

    path: str  # where the notebook writes it, relative to the notebook
    check: str  # the file check that grades it (the lesson's file_checks())
    written_by: str  # the cell that writes it, named to a student whose file is missing
    epoch: int | None = None  # the epoch it must record, when the lesson fixes one
    extra_keys: tuple = ()  # keys beyond the four every checkpoint has


@dataclass(frozen=True)
class Assignment:
    """One assignment, as the master notebook and its lesson package define it.

    The limits bound one grading run, each declared here once (docs/maintainers.md's "Limits of a
    grading run" says why each is what it is). Code with no assignment at hand reads the default,
    Assignment.<limit>.
    """

    name: str  # the master is source/<name>/<name>.ipynb, and otter's assignment_name
    title: str  # what Gradescope's metadata calls it
    questions: dict  # graded question -> points, in notebook order (tests keep it equal to the master's)
    contract: tuple  # ContractFile, in the order the export cell lists them
    shipped: tuple  # the lesson's modules the student notebook carries for its self-check
    # the lesson's modules its kernel imports under grading besides the shipped ones: those of the
    # test cases that still run there; the rest of the package (the grader's references) stays
    # with the grader
    kernel_modules: tuple = ()
    data_env: str | None = None  # the variable naming a local data folder; grading ignores it
    cell_time_limit_s: int = 60  # one student cell; then it is stopped and the next one runs
    run_time_limit_s: int = 300  # the whole re-execution; then the kernel is ended
    cell_output_limit: int = 1_000_000  # characters one cell may print; more is cut with a note
    kernel_data_limit: int = 3 * 2**30  # the kernel's RLIMIT_DATA, bytes
    kernel_tasks: int = 256  # processes and threads of the confined kernel's user (RLIMIT_NPROC): a fork bomb stops
    check_time_limit_s: int = 120  # one file check in the grader's interpreter; a hang costs that check only
    kernel_free_time_limit_s: int = 180  # the test cases the grader judges (kernel-free or observed), together
    question_output_limit: int = 8_000  # characters of one question's output in results.json, cut with a note
    summary_limit: int = 150_000  # characters of the feedback's top-level output, the picture's base64 included
    checkpoint_bytes_limit: int = 50 * 2**20  # one submitted file, before anything opens it
    checkpoint_unpacked_limit: int = 100 * 2**20  # its entries unpacked: an archive that inflates is refused
    upload_unpacked_limit: int = 500 * 2**20  # an uploaded zip, unpacked (an export zip holds a few MB)
    upload_files_limit: int = 10_000  # files in an uploaded zip
    # how far a loss of the notebook's re-run may move from the submitted file's on the same kind of
    # device (reproduction.py): float summation order only, far within 10 %
    same_run_tolerance: float = 0.1
    # the notebook's variables the grader observes as data (numbers, strings, lists of them, an
    # exception caught; tensors, and modules and optimizers through their state_dict): a test case
    # that needs only these is judged in the grader's interpreter on what the kernel held before
    # the question's tests (observe.py), not in the kernel
    observed_variables: tuple = ()

    @property
    def package(self):
        return self.name.replace("-", "_")

    @property
    def notebook(self):
        return f"{self.name}.ipynb"

    @property
    def file_checks(self):
        """The contract's file checks, in contract order, each once."""
        return tuple(dict.fromkeys(f.check for f in self.contract))

    @property
    def checkpoint_limits(self):
        """(bytes, unpacked bytes) of one submitted file: what load.load refuses beyond."""
        return self.checkpoint_bytes_limit, self.checkpoint_unpacked_limit

    def modules(self, graded=False):
        """{path in the notebook's folder: source file} of the modules the student notebook carries,
        or, `graded`, of those its kernel may import when it is graded: these, the core's
        CORE_KERNEL and the lesson's kernel_modules."""
        core = CORE_SHIPPED + (CORE_KERNEL if graded else ())
        lesson = self.shipped + (self.kernel_modules if graded else ())
        return {**{f"autograder/{m}.py": CORE / f"{m}.py" for m in core},
                **{f"autograder/{self.package}/{m}.py": self.lesson_dir / f"{m}.py" for m in lesson}}

    def files_of(self, check):
        """The contract's files that file check `check` grades."""
        return tuple(f for f in self.contract if f.check == check)

    @property
    def zip(self):
        return DIST / f"{self.name}-autograder.zip"

    @property
    def samples(self):
        return DIST / f"{self.name}-samples"

    @property
    def grades(self):
        """Where `grade` writes by default."""
        return DIST / f"{self.name}-grades"

    @property
    def lesson(self) -> Lesson:
        """The lesson package's implementation of the lesson interface."""
        return lesson_package(self.package).LESSON

    @property
    def lesson_dir(self) -> Path:
        """The lesson package's folder, which the build ships as autograder/<package>/."""
        return Path(lesson_package(self.package).__file__).parent


def lesson_package(package):
    """The lesson package: autograder.<package>, where the build puts every lesson it ships, or
    else a top-level <package> on sys.path, a lesson kept outside this repository's autograder/
    (tests/second_lesson's)."""
    for module in (f"{__package__}.{package}", package):
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name not in (module, __package__ + "." + package):  # a module the lesson imports is missing
                raise
    raise ModuleNotFoundError(f"no lesson package {package}", name=package)


def get(name=DEFAULT):
    """The Assignment called `name` (default: this package's lesson)."""
    package = name.replace("-", "_")
    try:
        return lesson_package(package).ASSIGNMENT
    except ModuleNotFoundError as e:
        if e.name != package:
            raise
        raise SystemExit(f"No assignment called {name!r}: its lesson package autograder/{package}/ is missing.") from e
