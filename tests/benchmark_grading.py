"""Benchmark: time and memory of running the notebook and of grading one submission.

    .venv/bin/python tests/benchmark_grading.py [SUBMISSION.zip]   (after `python -m autograder build`)

Measured side by side in one run: a bare `import torch` (and `import torch, torchvision`) of
the same build, `import otter`, the solution notebook run top to
bottom, grading the reference submission as Gradescope runs the zip (laid out by emulate.lay_out,
then the zip's run_otter.py), and the same submission through `nbgrader autograde` in a copy of
the built nbgrader course. Memory is the peak of the summed RSS of the whole process tree (otter
or nbgrader, the notebook's kernel, the grader's own interpreter), sampled every 20 ms.

Gradescope's image differs from this venv in what this machine cannot install: it takes CPU-only
torch wheels, so its peak is projected from parts measured here (CPU_TORCH_MB). Targets (issue 13):
grading <= 20 s CPU; peak <= 300 MB above the bare torch, torchvision import.
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


# Starts the command from a fresh, small interpreter and writes the command tree's largest
# process's exact peak (wait4's ru_maxrss, KiB) to argv[1]: the high-water mark a process inherits
# from the one that forked it would otherwise be this benchmark's own.
PEAK_WRAPPER = ("import os, sys\n"
                "pid = os.spawnvp(os.P_NOWAIT, sys.argv[2], sys.argv[2:])\n"
                "_, status, usage = os.wait4(pid, 0)\n"
                "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
                "sys.exit(os.waitstatus_to_exitcode(status))")


def measure(cmd, **kwargs):
    """(wall s, CPU s of the whole tree, peak summed RSS MB, [(RSS MB, imports)] of each process at
    the peak).

    The tree is sampled every 20 ms, which can miss a short rise: with torch's CUDA build every
    process that imports torch grows by about 125 MB in its last moments (C-level exit, the
    libraries' teardown; `os._exit` skips it). So the peak is also taken from the kernel's own
    high-water mark: the largest process's exact peak plus the others as sampled, when that is more.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.NamedTemporaryFile("r") as largest_kib:
        proc = subprocess.Popen([sys.executable, "-c", PEAK_WRAPPER, largest_kib.name, *cmd],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        root, peak, at_peak = psutil.Process(proc.pid), 0, []
        while proc.poll() is None:
            try:
                tree = root.children(recursive=True)
                rss = [p.memory_info().rss / 2**20 for p in tree]
            except psutil.Error:
                continue
            if sum(rss) > peak:
                peak, at_peak = sum(rss), sorted(((mb, imports(p.pid)) for mb, p in zip(rss, tree)), reverse=True)
            time.sleep(0.02)
        largest = int(largest_kib.read() or 0) / 1024
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert proc.returncode == 0, f"{cmd} failed"
    if at_peak and largest > at_peak[0][0]:
        at_peak = [(largest, at_peak[0][1]), *at_peak[1:]]
    return wall, cpu, max(peak, sum(mb for mb, _ in at_peak), largest), at_peak


# `import torch` with the CPU-only wheels of the same version, measured on an earlier image (the
# wheels cannot be installed here); torchvision's share is taken as measured with the CUDA build
CPU_TORCH_MB = 213


def median_measure(cmd, repeats=3, **kwargs):
    """(median wall s, median peak MB) of `repeats` runs: a bare import varies by about 10 %."""
    runs = [measure(cmd, **kwargs) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[2] for r in runs)


def run(submission=None):
    """The figures of one run, as a dict of numbers."""
    py, a = sys.executable, get()
    submission = Path(submission or a.samples / "reference.zip")
    f = {"submission": submission.name}
    f["torch_mb"] = median_measure([py, "-c", "import torch"])[1]
    f["vision_mb"] = median_measure([py, "-c", "import torch, torchvision.datasets"])[1]
    f["otter_import_s"], f["otter_import_mb"] = median_measure([py, "-c", "import otter"])

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp, "nb")
        with zipfile.ZipFile(submission) as zf:
            zf.extract(a.notebook, work)
        (work / "gpu_checkpoint.pth").write_bytes((REPO / "release" / a.name / "gpu_checkpoint.pth").read_bytes())
        f["notebook_wall_s"], f["notebook_cpu_s"], f["notebook_peak_mb"], _ = measure(
            ["jupyter", "nbconvert", "--to", "notebook", "--execute", "--output", "executed.ipynb", a.notebook],
            cwd=work, env={**os.environ, "PATH": f"{Path(py).parent}:{os.environ['PATH']}"})

        root = lay_out(Path(tmp, "ag"), a.zip, submission)
        f["grading_wall_s"], f["grading_cpu_s"], f["grading_peak_mb"], at_peak = measure(
            [py, str(root / "source" / "run_otter.py"), str(root)], env=grading_environment(a.zip))
    f["at_peak"] = [{"mb": mb, "imports": loaded} for mb, loaded in at_peak]
    # each process is charged the bare import of what it loaded (read from its memory map)
    imports = {"torchvision": f["vision_mb"], "torch": f["torch_mb"]}
    cpu_wheels = {"torchvision": CPU_TORCH_MB + f["vision_mb"] - f["torch_mb"], "torch": CPU_TORCH_MB}
    f["grading_above_imports_mb"] = f["grading_peak_mb"] - sum(imports.get(p["imports"], 0) for p in f["at_peak"])
    f["image_cpu_wheels_peak_mb"] = f["grading_above_imports_mb"] + sum(cpu_wheels.get(p["imports"], 0) for p in f["at_peak"])

    with tempfile.TemporaryDirectory() as tmp:
        course, env = Path(tmp, "course"), {**os.environ, "PATH": f"{Path(py).parent}:{os.environ['PATH']}"}
        shutil.copytree(COURSE, course)
        subprocess.run(["nbgrader", "generate_assignment", a.name], cwd=course, env=env, check=True, capture_output=True)
        [reference] = [e for e in entries() if e["name"] == "reference"]
        nbgrader_form(reference, submission, course / "source" / a.name / a.notebook, course / "release" / a.name,
                      course / "submitted" / "reference" / a.name)
        f["nbgrader_wall_s"], f["nbgrader_cpu_s"], f["nbgrader_peak_mb"], _ = measure(
            ["nbgrader", "autograde", a.name], cwd=course, env=env)
    return f


def rows(f):
    """(measure, value) lines for the report."""
    processes = ", ".join(f"{p['mb']:.0f} MB ({p['imports']})" for p in f["at_peak"])
    return [
        ("bare import torch / torch, torchvision (median of 3)", f"{f['torch_mb']:.0f} / {f['vision_mb']:.0f} MB RSS"),
        ("import otter (median of 3)", f"{f['otter_import_s']:.2f} s, {f['otter_import_mb']:.0f} MB"),
        ("notebook run top to bottom (nbconvert)",
         f"{f['notebook_wall_s']:.1f} s wall, {f['notebook_cpu_s']:.1f} s CPU, {f['notebook_peak_mb']:.0f} MB peak"),
        ("grading as Gradescope runs the zip, process tree",
         f"{f['grading_wall_s']:.1f} s wall, {f['grading_cpu_s']:.1f} s CPU (target 20), {f['grading_peak_mb']:.0f} MB peak"),
        ("  processes at the peak", processes),
        ("  peak above their torch imports", f"{f['grading_above_imports_mb']:.0f} MB (target 300)"),
        ("projected peak with the image's CPU-only wheels",
         f"{f['image_cpu_wheels_peak_mb']:.0f} MB (Gradescope's default: 768 MB)"),
        ("nbgrader autograde, process tree",
         f"{f['nbgrader_wall_s']:.1f} s wall, {f['nbgrader_cpu_s']:.1f} s CPU, {f['nbgrader_peak_mb']:.0f} MB peak "
         f"({f['nbgrader_cpu_s'] / f['grading_cpu_s']:.2f}x otter's CPU)"),
    ]


if __name__ == "__main__":
    for measure_name, value in rows(run(*sys.argv[1:2])):
        print(f"{measure_name:64s} {value}")
