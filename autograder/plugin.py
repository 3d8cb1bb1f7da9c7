"""The otter plugin that guards a submission: its files are sealed before any student code runs,
the re-execution is bounded, and the score is rebuilt from what the plugin holds itself.

otter calls, in otter's own process:
- `before_grading` in the submission folder, after copying the autograder's files in and before
  it reads .OTTER_LOG or executes the notebook. Here the plugin lays the submission out
  (arrange.py), puts back fresh copies of the autograder's files (otter does not copy a folder
  over one of the same name a student submitted), reads the test definitions while no student
  code has run, and seals the submitted checkpoints: moved to a private folder out of the
  re-run's way, their SHA-256 kept in this process (isolate.py);
- `before_execution` with the notebook: a first cell bounds every student cell (guard.py), and
  a watchdog ends the run at the assignment's run_time_limit_s;
- `after_grading` with otter's results: the grader's own interpreter checks the sealed files and
  runs every case it judges (kernel-free, or on observed variables: observe.py), the results
  are rebuilt from those outcomes
  (integrity.py), then the feedback's summary (HTML: notes, what happened to the run, the resume
  picture).
If the kernel dies or the watchdog ends it, otter stops without results; the harness then calls
`results_without_kernel`, which keeps every point the files earned.
"""

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from otter.plugins import AbstractOtterPlugin
from otter.run.run_autograder.utils import OtterRuntimeError
from otter.test_files import GradingResults

from . import integrity
from .arrange import SubmissionError, arrange, remove, replace
from .guard import Watchdog, install_cell
from .assignment import Assignment, get
from . import confine
from .isolate import grade_files, seal
from .observe import FOLDER as OBSERVED, SEED_ENV, grading_seed, observation_cell
from .report import cell_events, describe_cell, feedback_summary



class GuardSubmission(AbstractOtterPlugin):
    # otter makes the plugin itself and keeps it to itself; when otter stops without results (a dead
    # kernel) the harness reaches the instance grading in this process here, its one way back
    active = None
    confinement = None  # the kernel's confinement (confine.py), once the submission is sealed

    def during_assign(self, assignment):
        """`otter assign` on source/ itself: the package and the autograder's files exist only in
        the build's staged copy, and the zip needs the build's harness, so stop at once and say so."""
        missing = [f for f in ("autograder", *assignment.autograder_files) if not Path(f).exists()]
        if missing:
            raise SystemExit(f"otter assign: {' and '.join(missing)} are staged by the build; run "
                             "`python -m autograder build` (it runs otter assign on a staged copy and adds "
                             "Gradescope's harness to the zip).")

    def before_grading(self, config):
        print(f"GuardSubmission from {Path(__file__).resolve()}", flush=True)  # which copy graded, for a TA
        GuardSubmission.active = self
        integrity.harden_otter()
        self.config, self.here, self.assignment = config, Path.cwd(), get(config.assignment_name)
        source = self.here.parent / "source"
        provided = {p.name for p in (source / "files").iterdir()} | {"tests", "__init__.py"}
        try:
            arranged = arrange(self.here, self.assignment, keep=provided)
        except SubmissionError as e:
            raise OtterRuntimeError(str(e)) from e
        earlier = self.here.parent / "arranged.json"  # the harness arranged the upload before otter looked
        self.notes = (json.loads(earlier.read_text())["notes"] if earlier.exists() else []) + arranged.notes
        for p in (source / "files").iterdir():  # the grader's copies, whatever the student sent
            replace(p, self.here / p.name)
        self.tests = integrity.read_tests(source / "tests", self.assignment.questions)
        self.private = Path(tempfile.mkdtemp(prefix="autograder-"))
        self.sealed = seal(self.assignment, self.here, self.private)
        remove(self.here / OBSERVED)  # observations come from this run's kernel only (arrange moved any aside)
        self.seed = grading_seed()
        self.probes = self.assignment.lesson.probes(self.seed)
        print(f"Probes drawn with seed {self.seed} ({SEED_ENV}={self.seed} draws the same for a regrade)", flush=True)
        self.confinement = confine.start(self.here, self.assignment.kernel_tasks)
        if self.confinement is None:
            print(confine.unconfined_warning(), file=sys.stderr, flush=True)

    def before_execution(self, nb):
        """A first cell bounds each student cell; a watchdog bounds the whole run; the kernel is
        the confined `python3`, whatever kernel the notebook names; a cell before each question's
        tests observes the variables the grader judges them on."""
        nb.metadata.setdefault("kernelspec", {})["name"] = "python3"
        # the guard in the kernel writes it: in the confined kernel's home, where its user may write
        self.progress = (self.confinement.home if self.confinement else Path(tempfile.mkdtemp())) / "progress.json"
        self.cells = [(i, c.source) for i, c in enumerate(nb.cells, start=1) if c.cell_type == "code"]
        a = self.assignment
        observe_before_tests(nb, integrity.observed_questions(self.tests, a.observed_variables), self.here / OBSERVED,
                             self.probes)
        nb.cells.insert(0, nbformat.v4.new_code_cell(install_cell(
            self.cells, a.cell_time_limit_s, a.cell_output_limit, a.kernel_data_limit, self.progress)))
        self.watchdog = Watchdog(a.run_time_limit_s)
        self.watchdog.start()
        if self.confinement:
            self.confinement.kernel_starting()
        return nb

    def after_grading(self, results):
        self.watchdog.stop()
        self._finish(results, events=_events(results.notebook, self.cells, self.assignment))

    def results_without_kernel(self, error):
        """Results when otter stopped without any: the kernel died or was stopped (`error`)."""
        watchdog = getattr(self, "watchdog", None)
        if watchdog:
            watchdog.stop()
        if self.confinement:  # what the notebook left running must not write what is read next
            self.confinement.kill()
        results = GradingResults([])
        if watchdog and watchdog.fired:
            why = f"the notebook ran past the grader's limit of {self.assignment.run_time_limit_s} s and was stopped"
        else:
            why = f"the notebook's kernel stopped ({error})"
        started = self._last_cell()
        if started:
            why += f", in {started}"
        self._finish(results, events=[why[0].upper() + why[1:] + "."], kernel_stopped=why)
        return results

    def _finish(self, results, events, kernel_stopped=None):
        if self.confinement:  # nothing of the student's may run while the grader judges
            self.confinement.end()
        checked = grade_files(self.assignment, self.private, self.sealed, self.tests, self.here, probes=self.probes)
        shutil.rmtree(self.private, ignore_errors=True)
        self.verdicts = checked.verdicts
        flags = integrity.rebuild(results, self.tests, checked.trusted, self.assignment.observed_variables,
                                  kernel_stopped) + checked.flags
        results.set_output(feedback_summary(self.assignment, self.verdicts, self.notes, events))
        results.flags, results.limits = flags, (self.assignment.summary_limit, self.assignment.question_output_limit)
        results.seed = self.seed
        # otter makes the results object and writes results.json from its to_gradescope_dict after
        # the plugins ran; no hook lets a plugin choose that class, so the instance becomes the
        # subclass that writes HTML, cuts outputs and adds the flags (state: flags, limits and seed only)
        results.__class__ = HtmlOutput

    def _last_cell(self):
        """'cell N (`first line`)' for the student cell that started last, if the guard said."""
        try:  # written by the kernel: no link followed, a few bytes read
            with open(os.open(self.progress, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
                number = json.loads(f.read(4096))["cell"]
        except (AttributeError, OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(number, int):
            return None
        return describe_cell(number, dict(self.cells).get(number, ""))


class HtmlOutput(GradingResults):
    """Results as Gradescope shows them: the top-level output as HTML (otter 7 writes no
    `output_format`; the tests' outputs stay text), every output bounded, and a hidden line for
    instructors when the kernel's results disagreed with the grader's own checks; the seed the
    probes' inputs were drawn from is kept in extra_data, for a regrade (observe.SEED_ENV)."""

    flags = ()
    seed = None
    limits = (Assignment.summary_limit, Assignment.question_output_limit)  # the top-level output's, one question's

    def to_gradescope_dict(self, ag_config):
        d = super().to_gradescope_dict(ag_config)
        summary_limit, output_limit = self.limits
        d["output"] = _cut(d.get("output", ""), summary_limit)
        d["output_format"] = "html"
        d["stdout_visibility"] = "hidden"  # the grader's log is for instructors
        d["extra_data"] = {**d.get("extra_data", {}), "probe_seed": self.seed}
        for test in d["tests"]:
            test["output"] = _cut(test.get("output", ""), output_limit)
        if self.flags:
            d["tests"].append({"name": "Flagged for review", "visibility": "hidden", "status": "failed",
                               "output": "The grader's own checks override the notebook's kernel here:\n- "
                               + "\n- ".join(self.flags)})
        return d


def observe_before_tests(nb, questions, folder, probes):
    """Put the grader's observation cell (observe.py) of each question just before the first cell
    that runs its tests (`grader.check("q")`), or at the end, where otter runs the tests no cell
    ran; it writes into `folder`, wherever the notebook has changed directory to."""
    for question, names in questions.items():
        check = re.compile(rf"""\.check\(\s*["']{re.escape(question)}["']\s*\)""")
        at = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and check.search(c.source)), len(nb.cells))
        nb.cells.insert(at, nbformat.v4.new_code_cell(observation_cell(question, names, str(folder), probes)))


def _events(notebook, cells, assignment):
    """What the guard did, from the executed notebook: cells stopped or cut short."""
    if notebook is None:
        return []
    sources, found = dict(cells), []
    for cell in notebook.cells:
        number = next((n for n, s in cells if s == cell.source), None)
        found += cell_events(number, sources.get(number, ""), cell.get("outputs", []), "CellTimeLimit",
                             assignment.cell_time_limit_s, assignment.cell_output_limit)
    return found


def _cut(text, limit):
    note = f"\n[cut by the grader: {len(text):,} characters, {limit:,} shown]"
    return text if len(text) <= limit else text[: limit - len(note)] + note

