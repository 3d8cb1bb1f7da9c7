"""nbgrader preprocessors: the otter plugin's guarantees for `nbgrader autograde`, one
preprocessor a step (the course's nbgrader_config.py lists them around nbgrader's Execute).

nbgrader copies the submitted folder to autograded/<student>/<assignment>/ (the submitted one is
kept as it was), puts back the instructor's versions of the grade cells, then runs:
1. SealSubmittedFiles: puts the modules the kernel imports beside the notebook (the student's
   folder holds only the self-check's; the grader's references stay with this process) and seals the submitted checkpoint files, out of the
   re-run's way, before any student code runs (isolate.seal);
2. BoundedExecute: nbgrader's Execute, the notebook re-run, with the otter plugin's bounds: the
   kernel is confined (confine.py, through the `python3` kernel spec it names); a first cell caps
   each cell's output and the kernel's data (guard.py), Execute.timeout stops a cell, a watchdog
   ends the whole run; the lesson's demonstrations are skipped, as otter skips them; when the kernel dies or is ended, every test cell that had not run fails
   with the reason instead of counting as passed;
3. RecheckKernelFree: the grader's own interpreter checks the sealed files, then runs every test
   cell that needs no live variable (a test function without parameters), or only observed ones
   (BoundedExecute starts such a cell with the grader's observation of them, observe.py), with
   those verdicts, and that outcome replaces the kernel's (student code could rewrite the tests' helpers in the
   kernel). A cell the kernel passed and the grader failed, or a sealed file the notebook changed,
   flags the submission in the gradebook (formgrader's flag, for a TA) and is logged;
4. FeedbackSummary: a first cell with the notes on the files and the resume picture, which
   `nbgrader generate_feedback` shows above the notebook; the released self-check modules go
   back in place of the kernel's (generate_feedback copies the folder).
Imports no torch: runs in nbgrader's process.
"""

import ast
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.api import Gradebook
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Integer

from . import confine, integrity
from .arrange import remove
from .assignment import Assignment, get
from .guard import Watchdog, install_cell
from .nbgrader_course import is_demo
from .isolate import grade_files, seal
from .observe import FOLDER as OBSERVED, SEED_ENV, grading_seed, observation_cell
from .report import cell_events, describe_cell, feedback_summary

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
        remove(here / "autograder")  # the modules the kernel imports; the grader's references stay out of its reach
        for rel, f in assignment.modules(graded=True).items():
            (here / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, here / rel)
        remove(here / OBSERVED)  # observations come from this run's kernel only
        (private / "sealed").mkdir()
        sealed = seal(assignment, here, private / "sealed")
        seed = grading_seed()
        self.log.info("Probes drawn with seed %d (%s=%d draws the same for a regrade)", seed, SEED_ENV, seed)
        resources[STATE] = {"assignment": assignment, "private": private, "sealed": sealed, "events": [],
                            "probes": assignment.lesson.probes(seed),
                            "tests": _tests(nb),  # the instructor's, read before the run
                            "not_run": set()}  # test cells the kernel never reached (BoundedExecute)
        return nb, resources


class BoundedExecute(Execute):
    """nbgrader's Execute with the otter plugin's bounds (before_execution): the kernel is
    confined (confine.start: the submission folder is its to write, every process of it is killed
    after the run, before the grader's checks); guard.py's first cell caps what each cell prints
    and the kernel's data, and guard.Watchdog ends the whole run.
    Execute.timeout stays the per-cell limit (nbgrader interrupts the cell and runs the next), so
    the guard's own per-cell alarm is left off. When the kernel dies (os._exit, the machine's
    memory killer, the watchdog) or does not answer an interrupt, nbgrader would stop grading the
    notebook and a test cell that never ran would count as passed: each fails instead, saying
    why, and those the grader judges are graded by RecheckKernelFree as always."""

    cell_output_limit = Integer(Assignment.cell_output_limit,
                                help="Characters one cell may print; the rest is dropped with a note.").tag(config=True)
    kernel_data_limit = Integer(Assignment.kernel_data_limit,
                                help="Bytes of data the kernel may map (RLIMIT_DATA): past it an allocation "
                                "fails in that cell.").tag(config=True)
    run_time_limit = Integer(Assignment.run_time_limit_s,
                             help="Seconds the whole notebook may run; then its kernel is ended.").tag(config=True)
    kernel_tasks = Integer(Assignment.kernel_tasks,
                           help="Processes and threads the confined kernel's own user may have (RLIMIT_NPROC, as "
                           "root): a fork bomb stops there.").tag(config=True)
    run_demos = Bool(False, help="Run the lesson's demonstrations too: the locked cells whose grade id starts with "
                     "`demo-` (nbgrader_course.is_demo), the cells otter's grading leaves out (otter_ignore). Off, "
                     "they are skipped: no test needs them.").tag(config=True)
    confine = Bool(True, help="Start the notebook's kernel confined (confine.py: as root, as a user of its own; "
                   "otherwise in a sandbox of user namespaces where the machine allows them) through the "
                   "`python3` kernel spec it puts first on JUPYTER_PATH. Off, or neither possible: the student's "
                   "code runs as nbgrader's user, with a warning.").tag(config=True)

    def preprocess(self, nb, resources):
        # The kernel's modules, put beside the notebook by SealSubmittedFiles. No cells
        # listed: the guard arms no alarm and records no progress (Execute does both here).
        nb.cells.insert(0, nbformat.v4.new_code_cell(
            install_cell([], 0, self.cell_output_limit, self.kernel_data_limit, os.devnull)))
        self.running, stopped = 0, None
        confinement = confine.start(resources["metadata"]["path"], self.kernel_tasks) if self.confine else None
        if confinement is None:
            self.log.warning(confine.unconfined_warning())
        else:  # its kernel spec, whatever kernel the notebook names
            nb.metadata.setdefault("kernelspec", {})["name"] = self.kernel_name = "python3"
        watchdog = Watchdog(self.run_time_limit)
        watchdog.start()
        observed = _observe_in_test_cells(nb, resources[STATE], Path(resources["metadata"]["path"]) / OBSERVED)
        try:
            super().preprocess(nb, resources)
        except DeadKernelError as e:
            stopped = (f"the notebook ran past the grader's limit of {self.run_time_limit} s and was stopped"
                       if watchdog.fired else f"the notebook's kernel stopped ({e})")
        except CellTimeoutError:  # nbclient's wait for the interrupted cell to go idle ran out
            stopped = f"a cell went on past the grader's limit of {self.timeout} s after it was interrupted"
        finally:
            watchdog.stop()
            if confinement:  # nothing of the student's may run while the grader judges
                confinement.end()
            for cell, source in observed:
                cell.source = source
        del nb.cells[0]
        events = resources[STATE]["events"]
        for number, cell in enumerate(nb.cells, start=1):
            events += cell_events(number, cell.source, cell.get("outputs", []), "CellTimeoutError", self.timeout,
                                  self.cell_output_limit)
        if stopped is not None:
            number = self.running  # its index with the guard's cell first: its number now (0: that cell)
            if number:
                stopped += f", in {describe_cell(number, nb.cells[number - 1].source)}"
            events.append(stopped[0].upper() + stopped[1:] + ".")
            for cell in nb.cells[max(number - 1, 0):]:
                if _is_test(cell):
                    cell.outputs.append(_error(f"Not graded: {stopped}. This test needs the notebook's variables."))
                    resources[STATE]["not_run"].add(cell.metadata.nbgrader["grade_id"])
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        self.running = index  # the cell the kernel is in, if it dies
        if not self.run_demos and is_demo(cell):
            return cell, resources
        return super().preprocess_cell(cell, resources, index)


class RecheckKernelFree(NbGraderPreprocessor):
    """After the kernel, in the grader's own interpreter: check the sealed files, then re-run the
    test cells the grader judges (those that need no variable or only observed ones, observed before
    the cell ran: observe.py) with those verdicts; their outcome replaces the kernel's. A cell the
    kernel passed and the grader's run fails, or a sealed file that changed, flags the submitted
    notebook in the gradebook: formgrader shows the flag in its lists of submissions (the otter
    plugin's hidden "Flagged for review" test); the log says why."""

    time_limit = Integer(Assignment.kernel_free_time_limit_s,
                         help="Seconds for all the cells the grader judges, together.").tag(config=True)

    def preprocess(self, nb, resources):
        state = resources[STATE]
        judged = integrity.judged_questions(state["tests"], state["assignment"].observed_variables)
        checked = grade_files(state["assignment"], state["private"] / "sealed", state["sealed"],
                              {grade_id: state["tests"][grade_id] for grade_id in judged},
                              resources["metadata"]["path"], kernel_free_limit=self.time_limit, probes=state["probes"])
        state["verdicts"], flags = checked.verdicts, list(checked.flags)
        cells = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells if _is_test(c)}
        for grade_id, needed in judged.items():
            cell = cells[grade_id]
            if grade_id in state["not_run"] and needed:  # not graded, as BoundedExecute says
                continue
            [(passed, message)] = checked.trusted[grade_id].values()
            kernel_passed = not any(o.output_type == "error" for o in cell.outputs)
            if kernel_passed and not passed:
                flags.append(f"{grade_id}: the notebook's kernel passed it; the grader's own run failed it")
            cell.outputs = [o for o in cell.outputs if o.output_type != "error"]
            if not passed:
                cell.outputs.append(_error(message))
        if flags:
            for flag in flags:
                self.log.warning("Flagged for review: %s", flag)
            ids = resources["nbgrader"]
            with Gradebook(ids["db_url"]) as gb:  # a flag a TA set stays: this only ever sets it
                gb.find_submission_notebook(ids["notebook"], ids["assignment"], ids["student"]).flagged = True
                gb.db.commit()
        return nb, resources


class FeedbackSummary(NbGraderPreprocessor):
    """A first cell for the feedback: what happened to the run, notes on the files, the lesson's
    picture (the HTML summary Gradescope shows, report.feedback_summary)."""

    def preprocess(self, nb, resources):
        state = resources.pop(STATE)
        summary = feedback_summary(state["assignment"], state["verdicts"], events=state["events"])
        if summary:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"## From the grader\n\n{summary}"))
        here, private = Path(resources["metadata"]["path"]), state["private"]
        shutil.rmtree(here / "autograder")  # the kernel's modules stay with the graders (feedback/ copies this folder)
        if (private / "released").is_dir():
            shutil.move(private / "released", here / "autograder")
        shutil.rmtree(private, ignore_errors=True)
        return nb, resources


def _error(message):
    """A failed test's output: nbgrader gives a test cell with an error output no points."""
    return nbformat.v4.new_output("error", ename="AssertionError", evalue=message, traceback=message.splitlines())


def _is_test(cell):
    return cell.cell_type == "code" and bool(cell.metadata.get("nbgrader", {}).get("grade"))


def _tests(nb):
    """{grade_id: the cell's test function as an otter test file of one case} for each autograded
    cell that defines one test function (the source is the instructor's: nbgrader put it back
    before the run): what integrity judges and runs, as it does otter's tests."""
    tests = {}
    for cell in filter(_is_test, nb.cells):
        functions = [n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)]
        if len(functions) == 1:
            grade_id = cell.metadata.nbgrader["grade_id"]
            tests[grade_id] = (f"from otter.test_files import test_case\n\nOK_FORMAT = False\nname = {grade_id!r}\n"
                               f"points = 1\n\n@test_case(points=1)\n{ast.unparse(functions[0])}\n")
    return tests


def _observe_in_test_cells(nb, state, folder):
    """Start each test cell the grader judges on observed variables with the grader's observation
    of them into `folder` (observe.py), keyed by its grade_id; returns [(cell, its source)] to put
    back after the run."""
    observed = integrity.observed_questions(state["tests"], state["assignment"].observed_variables)
    changed = []
    for cell in filter(_is_test, nb.cells):
        names = observed.get(cell.metadata.nbgrader["grade_id"])
        if names:
            changed.append((cell, cell.source))
            cell.source = (observation_cell(cell.metadata.nbgrader["grade_id"], names, str(folder), state["probes"])
                           + "\n" + cell.source)
    return changed
