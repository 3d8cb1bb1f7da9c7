"""Benchmark: time and memory of running the notebook and of grading one submission.

    .venv/bin/python tests/benchmark_grading.py [SUBMISSION.zip]   (after `python -m autograder build`)

Measured side by side in one run: a bare `import torch` (and `import torch, torchvision`) of
the same build, the solution notebook run top to bottom, grading the reference submission as
Gradescope runs the zip (laid out by emulate.lay_out, then the zip's run_otter.py), and the same
submission through `nbgrader autograde` in a copy of the built nbgrader course. Memory is the
peak of the summed RSS of the whole process tree (otter or nbgrader, the notebook's kernel, the
checker subprocesses), sampled every 20 ms. Targets (issue 2): grading
<= 60 s CPU; memory above the torch imports <= 250 MB.
"""

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from autograder.assignment import get  # noqa: E402
from autograder.emulate import grading_environment, lay_out  # noqa: E402
from autograder.nbgrader_course import COURSE  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
from catalogue.make import entries, nbgrader_form  # noqa: E402


def imports(pid):
    """Which of torch / torchvision a process has loaded, from its memory map."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "?"
    return "torchvision" if "torchvision" in maps else "torch" if "libtorch" in maps else "-"


def measure(cmd, **kwargs):
    """(wall s, CPU s of the whole tree, peak summed RSS MB, [(RSS MB, imports)] of each process at
    the peak)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    root, peak, at_peak = psutil.Process(proc.pid), 0, []
    while proc.poll() is None:
        try:
            tree = [root] + root.children(recursive=True)
            rss = [p.memory_info().rss / 2**20 for p in tree]
        except psutil.Error:
            continue
        if sum(rss) > peak:
            peak, at_peak = sum(rss), sorted(((mb, imports(p.pid)) for mb, p in zip(rss, tree)), reverse=True)
        time.sleep(0.02)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert proc.returncode == 0, f"{cmd} failed"
    return wall, cpu, peak, at_peak


def main(submission):
    py, a = sys.executable, get()
    # a bare import's RSS varies by about 10 % from run to run here: take the median of three
    torch_mb, vision_mb = (statistics.median(measure([py, "-c", f"import {mods}; import time; time.sleep(0.3)"])[2]
                                             for _ in range(3))
                           for mods in ("torch", "torch, torchvision.datasets"))
    print(f"bare import torch (median of 3):   {torch_mb:7.0f} MB RSS")
    print(f"import torch, torchvision (same):  {vision_mb:7.0f} MB RSS")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp, "nb")
        with zipfile.ZipFile(submission) as zf:
            zf.extract(a.notebook, work)
        (work / "gpu_checkpoint.pth").write_bytes((REPO / "release" / a.name / "gpu_checkpoint.pth").read_bytes())
        wall, cpu, peak, _ = measure(["jupyter", "nbconvert", "--to", "notebook", "--execute",
                                      "--output", "executed.ipynb", a.notebook], cwd=work,
                                     env={**os.environ, "PATH": f"{Path(py).parent}:{os.environ['PATH']}"})
        print(f"notebook run-all:                {wall:7.1f} s wall {cpu:7.1f} s CPU {peak:7.0f} MB peak")

        root = lay_out(Path(tmp, "ag"), a.zip, submission)
        wall, cpu, peak, at_peak = measure([py, str(root / "source" / "run_otter.py"), str(root)],
                                           env=grading_environment(a.zip))
    # each process is charged the bare import of what it loaded (read from its memory map)
    baselines = [{"torchvision": vision_mb, "torch": torch_mb}.get(loaded, 0) for _, loaded in at_peak]
    print(f"grading (as Gradescope), tree:  {wall:7.1f} s wall {cpu:7.1f} s CPU {peak:7.0f} MB peak")
    print(f"  processes at the peak (MB, what they loaded): {', '.join(f'{mb:.0f} ({i})' for mb, i in at_peak)}")
    print(f"  above their torch imports ({' + '.join(f'{b:.0f}' for b in baselines if b)} MB): "
          f"{peak - sum(baselines):.0f} MB (target <= 250 MB); CPU target <= 60 s")
    otter_wall, otter_cpu = wall, cpu

    with tempfile.TemporaryDirectory() as tmp:
        course, env = Path(tmp, "course"), {**os.environ, "PATH": f"{Path(py).parent}:{os.environ['PATH']}"}
        shutil.copytree(COURSE, course)
        subprocess.run(["nbgrader", "generate_assignment", a.name], cwd=course, env=env, check=True, capture_output=True)
        [reference] = [e for e in entries() if e["name"] == "reference"]
        nbgrader_form(reference, submission, course / "source" / a.name / a.notebook, course / "release" / a.name,
                      course / "submitted" / "reference" / a.name)
        wall, cpu, peak, _ = measure(["nbgrader", "autograde", a.name], cwd=course, env=env)
    print(f"nbgrader autograde, tree:       {wall:7.1f} s wall {cpu:7.1f} s CPU {peak:7.0f} MB peak")
    print(f"  nbgrader / otter: {wall / otter_wall:.2f}x wall, {cpu / otter_cpu:.2f}x CPU")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else get().samples / "reference.zip")
