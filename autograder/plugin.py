"""The otter plugin that guards a submission before otter reads or runs anything.

otter runs `before_grading` in the submission folder after copying the autograder's files in and
before it reads .OTTER_LOG or executes the notebook. Here it:
- deletes .OTTER_LOG: otter 7 dill-loads it even when grading from the log is off, so a crafted
  log would run code in the grader process;
- moves the submitted checkpoints to ../submitted, because re-running the notebook overwrites
  them and the originals are what is graded;
- puts back a fresh copy of this package, which otter does not copy over a folder of the same
  name that a student submitted.
"""

import shutil
from pathlib import Path

from otter.plugins import AbstractOtterPlugin

PACKAGE = Path(__file__).resolve().parent


class GuardSubmission(AbstractOtterPlugin):
    def before_grading(self, config):
        here = Path.cwd()
        Path(here, ".OTTER_LOG").unlink(missing_ok=True)
        submitted = here.parent / "submitted"
        shutil.rmtree(submitted, ignore_errors=True)
        submitted.mkdir()
        if (here / "checkpoints").is_dir():
            shutil.move(here / "checkpoints", submitted / "checkpoints")
        if PACKAGE != (here / PACKAGE.name).resolve():
            shutil.rmtree(here / PACKAGE.name, ignore_errors=True)
            shutil.copytree(PACKAGE, here / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
