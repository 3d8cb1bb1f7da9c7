"""nbgrader preprocessors: the otter plugin's guarantees for `nbgrader autograde`, one
preprocessor a step (the course's nbgrader_config.py lists them around nbgrader's Execute).

nbgrader copies the submitted folder to autograded/<student>/<assignment>/ (the submitted one is
kept as it was), puts back the instructor's versions of the grade cells, then runs:
1. SealSubmittedFiles: puts this package beside the notebook (the full one: the student's folder
   holds only the self-check modules) and seals the submitted checkpoint files, out of the
   re-run's way, before any student code runs (isolate.seal);
2. nbgrader's Execute: the notebook re-run;
3. RecheckKernelFree: the grader's own interpreter checks the sealed files, then runs every test
   cell that needs no live variable (a test function without parameters) with those verdicts,
   and that outcome replaces the kernel's (student code could rewrite the tests' helpers in the
   kernel);
4. FeedbackSummary: a first cell with the notes on the files and the resume picture, which
   `nbgrader generate_feedback` shows above the notebook; the released self-check modules go
   back in place of the grading package (generate_feedback copies the folder).
Imports no torch: runs in nbgrader's process.
"""

import ast
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

from . import integrity
from .arrange import replace
from .assignment import get
from .isolate import KERNEL_FREE_LIMIT_S, grade_files, seal
from .report import feedback_summary, first_line

PACKAGE = Path(__file__).resolve().parent
STATE = "autograder"  # resources key: what the steps pass on (assignment, private folder, seals, verdicts)


class SealSubmittedFiles(NbGraderPreprocessor):
    """Seal the submitted checkpoint files before the notebook runs (the otter plugin's
    before_grading, for nbgrader)."""

    def preprocess(self, nb, resources):
        here = Path(resources["metadata"]["path"])
        assignment = get(resources["nbgrader"]["assignment"])
        private = Path(tempfile.mkdtemp(prefix="autograder-"))  # out of the notebook's folder
        if (here / "autograder").is_dir():  # the released self-check modules: put back after grading
            shutil.copytree(here / "autograder", private / "released", symlinks=True)
        replace(PACKAGE, here / "autograder")
        (private / "sealed").mkdir()
        sealed = seal(assignment, here, private / "sealed")
        resources[STATE] = {"assignment": assignment, "private": private, "sealed": sealed}
        return nb, resources


class RecheckKernelFree(NbGraderPreprocessor):
    """After the kernel, in the grader's own interpreter: check the sealed files, then re-run the
    kernel-free test cells with those verdicts; their outcome replaces the kernel's. A cell the
    kernel passed and the grader's run fails is logged for a TA."""

    time_limit = Integer(KERNEL_FREE_LIMIT_S, help="Seconds for all the kernel-free cells together.").tag(config=True)

    def preprocess(self, nb, resources):
        state = resources[STATE]
        cells = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells if _kernel_free_test(c)}
        tests = {grade_id: _as_otter_test(grade_id, c) for grade_id, c in cells.items()}
        graded = grade_files(state["assignment"], state["private"] / "sealed", state["sealed"], tests,
                             resources["metadata"]["path"], kernel_free_limit=self.time_limit)
        state["verdicts"] = graded.verdicts
        for path in graded.changed:
            self.log.warning("%s was sealed before the notebook ran and changed while it ran", path)
        trusted = integrity.trusted_outcome(tests, *graded.kernel_free)
        for grade_id, cell in cells.items():
            [(passed, message)] = trusted[grade_id].values()
            kernel_passed = not any(o.output_type == "error" for o in cell.outputs)
            if kernel_passed and not passed:
                self.log.warning("%s: the notebook's kernel passed it; the grader's own run failed it", grade_id)
            cell.outputs = [o for o in cell.outputs if o.output_type != "error"]
            if not passed:
                cell.outputs.append(nbformat.v4.new_output("error", ename="AssertionError", evalue=message,
                                                           traceback=message.splitlines()))
        return nb, resources


class FeedbackSummary(NbGraderPreprocessor):
    """A first cell for the feedback: what happened to the run, notes on the files, the lesson's
    picture (the HTML summary Gradescope shows, report.feedback_summary)."""

    def preprocess(self, nb, resources):
        state = resources.pop(STATE)
        verdicts, assignment = state["verdicts"], state["assignment"]
        events = [f"A cell ran past the grader's limit and was stopped: {first_line(c.source)}"
                  for c in nb.cells if any(o.get("ename") == "CellTimeoutError" for o in c.get("outputs", []))]
        summary = feedback_summary(assignment, verdicts, events=events)
        if summary:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"## From the grader\n\n{summary}"))
        here, private = Path(resources["metadata"]["path"]), state["private"]
        shutil.rmtree(here / "autograder")  # the grading package stays with the graders (feedback/ copies this folder)
        if (private / "released").is_dir():
            shutil.move(private / "released", here / "autograder")
        shutil.rmtree(private, ignore_errors=True)
        return nb, resources


def _test_function(cell):
    """The test function an autograded cell defines (the source is the instructor's: nbgrader put
    it back before the run), or None."""
    if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("grade"):
        return None
    functions = [n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)]
    return functions[0] if len(functions) == 1 else None


def _kernel_free_test(cell):
    function = _test_function(cell)
    return function is not None and not function.args.args


def _as_otter_test(grade_id, cell):
    """The cell's test function as an otter test file of one case (what integrity runs)."""
    return (f"from otter.test_files import test_case\n\nOK_FORMAT = False\nname = {grade_id!r}\npoints = 1\n\n"
            f"@test_case(points=1)\n{ast.unparse(_test_function(cell))}\n")
