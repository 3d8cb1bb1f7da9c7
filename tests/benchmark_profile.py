"""Benchmark: where grading one submission spends its time, stage by stage.

    .venv/bin/python tests/benchmark_profile.py [SUBMISSION.zip]   (after `python -m autograder build`)

Each stage runs on its own, as the grader runs it, one after the other in one run:
- otter's start: a fresh interpreter importing otter's runner and the plugin;
- the notebook, cell by cell (nbclient's timing), grouped by the notebook's section headings, with
  the kernel's start, then otter's tests (hidden ones included) in the same kernel; cells tagged
  `otter_ignore` (the lesson's demonstrations) are timed too but not run when otter grades;
- the grader's own interpreter after the kernel (isolate.run_checks): the file checks with the
  resume run on the submitted files, then the kernel-free tests on the re-run's;
- the feedback picture.
Subprocess stages report CPU (user + system, whole process tree); notebook cells report wall
time, which is their CPU time too (one thread, no I/O wait).
"""

import datetime
import os
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from autograder import COPY_IGNORE  # noqa: E402
from autograder.assignment import get  # noqa: E402
from autograder.isolate import CHECKER, run_checks  # noqa: E402
from benchmark_grading import measure  # noqa: E402

IGNORED = "otter_ignore"


def timed(fn):
    """(fn(), CPU seconds it took in this process and the subprocesses it waited for)."""
    before = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    result = fn()
    after = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return result, sum(x.ru_utime + x.ru_stime - y.ru_utime - y.ru_stime for x, y in zip(after, before))


def cell_seconds(cell):
    ex = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in ex or "shell.execute_reply" not in ex:
        return 0.0
    start, end = (datetime.datetime.fromisoformat(ex[k].replace("Z", "+00:00"))
                  for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def sections(nb):
    """[(heading, graded seconds, ignored seconds)] in notebook order."""
    rows, heading = {}, "(before the first heading)"
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("#"):
            heading = cell.source.splitlines()[0].lstrip("# ").strip()[:50]
        elif cell.cell_type == "code":
            graded, ignored = rows.get(heading, (0.0, 0.0))
            t = cell_seconds(cell)
            rows[heading] = (graded, ignored + t) if IGNORED in cell.metadata.get("tags", []) else (graded + t, ignored)
    return [(h, g, i) for h, (g, i) in rows.items()]


def run(submission=None):
    """{"stages": {stage: CPU seconds}, "ignored_s": the demonstrations' seconds}."""
    a, stages = get(), []
    submission = Path(submission or a.samples / "reference.zip")
    _, cpu, _, _ = measure([sys.executable, "-c", "import otter.run.run_autograder, autograder.plugin"])
    stages.append(("otter's start: its runner and the plugin imported", cpu))
    with tempfile.TemporaryDirectory() as tmp:
        submitted, work = Path(tmp, "submitted"), Path(tmp, "work")
        with zipfile.ZipFile(submission) as zf:
            zf.extractall(submitted)
            zf.extract(a.notebook, work)
        (work / "gpu_checkpoint.pth").write_bytes((REPO / "release" / a.name / "gpu_checkpoint.pth").read_bytes())
        shutil.copytree(REPO / "autograder", work / "autograder", ignore=COPY_IGNORE)  # as the plugin lays it out
        with zipfile.ZipFile(a.zip) as zf:
            tests = {Path(n).stem: zf.read(n).decode() for n in zf.namelist() if n.startswith("tests/") and n.endswith(".py")}
        nb = nbformat.read(work / a.notebook, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(
            "from otter.test_files.exception_test import ExceptionTestFile\n"
            f"for name, source in {tests!r}.items():\n"
            "    ExceptionTestFile.from_string(source, path=f'tests/{name}.py').run(globals())"))
        nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_markdown_cell("# otter's tests, hidden ones included"))
        start = time.perf_counter()
        client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(work)}})
        with client.setup_kernel():
            stages.append(("kernel start", time.perf_counter() - start))
            for i, cell in enumerate(nb.cells):
                client.execute_cell(cell, i)
        ignored = 0.0
        for heading, graded, skipped in sections(nb):
            stages.append((f"notebook: {heading}", graded))
            ignored += skipped
        (verdicts, _), cpu = timed(lambda: run_checks(a.file_checks, submitted, tests=tests, cwd=work,
                                                      checker=(*CHECKER, "--assignment", a.name)))
        stages.append(("grader's interpreter: file checks, resume run, kernel-free tests", cpu))
        stages.append(("feedback picture (matplotlib import included)",
                       timed(lambda: a.lesson.feedback_picture(verdicts))[1]))
    return {"stages": dict(stages), "ignored_s": ignored}


def rows(f):
    """(stage, seconds) lines for the report, with the total."""
    return ([(stage, f"{seconds:7.2f}") for stage, seconds in f["stages"].items()]
            + [("total graded", f"{sum(f['stages'].values()):7.2f}"),
               ("demonstrations not run when graded (otter_ignore)", f"{f['ignored_s']:7.2f}")])


if __name__ == "__main__":
    os.environ.setdefault("MNIST_DATA_ROOT", str(REPO / "data"))
    lines = rows(run(*sys.argv[1:2]))
    width = max(len(stage) for stage, _ in lines)
    print(f"{'stage':{width}}  seconds")
    for stage, seconds in lines:
        print(f"{stage:{width}}  {seconds}")
