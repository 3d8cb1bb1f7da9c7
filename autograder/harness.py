"""Gradescope's entry point for this assignment: what the autograder zip's run_otter.py runs.

    python /autograder/source/run_otter.py [AUTOGRADER_DIR]       (default /autograder)

1. Arrange the upload, whatever its form, as the export cell lays it out (arrange.py): otter
   itself finds a notebook only at the top of the submission folder.
2. Run otter's own autograder (`otter.run.run_autograder.main`); the GuardSubmission plugin
   seals the files before the notebook runs, bounds the run and grades the files after it.
3. If otter stopped without results (the notebook killed its kernel, or the plugin's watchdog
   ended a run that went on too long), write results.json from the plugin's own verdicts:
   every point the files earned, zero for what needed the live kernel, and what happened.
`python -m autograder grade` runs this same entry point on a temporary copy of the layout.
Imports no torch.
"""

import json
import sys
import traceback
from dataclasses import asdict
from pathlib import Path

from otter.run.run_autograder import main as run_autograder

from .arrange import SubmissionError, arrange
from .assignment import get
from .plugin import GuardSubmission


def main(autograder_dir="/autograder"):
    ag = Path(autograder_dir)
    results = ag / "results" / "results.json"
    results.unlink(missing_ok=True)  # only this run's results count
    results.parent.mkdir(exist_ok=True)
    results.parent.chmod(0o700)  # the notebook's user may neither write nor read them
    (ag / "source").chmod(0o700)  # nor read the grading package: its kernel gets its own modules (files/)
    assignment = get(json.loads((ag / "source" / "otter_config.json").read_text())["assignment_name"])
    try:
        arranged = arrange(ag / "submission", assignment)
    except SubmissionError as e:
        return _write(results, {"score": 0, "tests": [{"name": "Submission", "visibility": "visible",
                                                      "status": "failed", "output": str(e)}]})
    (ag / "arranged.json").write_text(json.dumps(asdict(arranged)))
    if not (ag / "submission_metadata.json").exists():  # Gradescope writes it; otter needs one
        (ag / "submission_metadata.json").write_text("{}")
    try:
        run_autograder(str(ag))
    except Exception as e:  # noqa: BLE001 (whatever stopped otter, the file points stand)
        plugin = GuardSubmission.active
        if plugin is None or not hasattr(plugin, "sealed"):  # stopped before grading began
            if results.exists():  # otter wrote its own error for the student
                return 0
            raise
        traceback.print_exc()
        first = (str(e).strip().splitlines() or [""])[0][:200]
        graded = plugin.results_without_kernel(f"{type(e).__name__}: {first}")
        _write(results, graded.to_gradescope_dict(plugin.config))  # the config otter read before the notebook ran
    return 0


def _write(path, results):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=4))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
