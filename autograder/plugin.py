"""The otter plugin that guards a submission and grades its files before any student code runs.

otter calls `before_grading` in the submission folder after copying the autograder's files in,
and before it reads .OTTER_LOG or executes the notebook. Here it:
- deletes .OTTER_LOG: otter 7 dill-loads it even when grading from the log is off, so a crafted
  log would run code in the grader process;
- puts back a fresh copy of this package, which otter does not copy over a folder of the same
  name that a student submitted;
- moves the submitted checkpoints to ../submitted (re-running the notebook would overwrite
  them) and grades them there in fresh interpreters, writing ../submitted/verdicts.json for
  the hidden tests;
- after grading, puts the checks' hints (which cost no points) and the resume picture at the
  top of the feedback, as HTML.
This module imports no torch: it runs inside otter's own process.
"""

import json
import shutil
from pathlib import Path

from otter.plugins import AbstractOtterPlugin
from otter.test_files import GradingResults

from . import COPY_IGNORE
from .feedback import html_summary
from .isolate import run_checks

PACKAGE = Path(__file__).resolve().parent
FILE_CHECKS = ("saved_model", "periodic", "best", "crash", "early_stopping")


class GuardSubmission(AbstractOtterPlugin):
    def before_grading(self, config):
        here = Path.cwd()
        Path(here, ".OTTER_LOG").unlink(missing_ok=True)
        if PACKAGE != (here / PACKAGE.name).resolve():
            shutil.rmtree(here / PACKAGE.name, ignore_errors=True)
            shutil.copytree(PACKAGE, here / PACKAGE.name, ignore=COPY_IGNORE)
        submitted = here.parent / "submitted"
        shutil.rmtree(submitted, ignore_errors=True)
        submitted.mkdir()
        if (here / "checkpoints").is_dir():
            shutil.move(here / "checkpoints", submitted / "checkpoints")
        self.verdicts = run_checks(FILE_CHECKS, submitted)
        (submitted / "verdicts.json").write_text(json.dumps(self.verdicts, indent=1))

    def after_grading(self, results):
        """Hints cost no points, so no failing test shows them: they go to the top of the feedback,
        with the picture of the crash checkpoint's resume."""
        verdicts = getattr(self, "verdicts", {})
        hints = [n for v in verdicts.values() for n in v.get("notes", [])]
        plot = verdicts.get("crash", {}).get("plot")
        if hints or plot:
            results.set_output(html_summary(hints, plot))
            results.__class__ = HtmlOutput


class HtmlOutput(GradingResults):
    """otter 7 writes no `output_format`, so Gradescope would show the summary's HTML (and the
    picture) as text; this adds Gradescope's "output_format": "html" for the top-level output.
    The tests' outputs stay plain text."""

    def to_gradescope_dict(self, ag_config):
        return {**super().to_gradescope_dict(ag_config), "output_format": "html"}
