"""Benchmark: what confining the notebook's kernel costs (autograder/confine.py).

    .venv/bin/python tests/benchmark_confinement.py [SUBMISSION.zip] [REPEATS]   (as root, after a build)

Measured side by side in one run, alternating: the reference graded as Gradescope runs the zip
(laid out by emulate.lay_out, then the zip's run_otter.py), with the kernel confined to a user of
its own (the built zip), in the sandbox a grader that is not root gets (a copy of the zip whose
confine picks the sandbox), and unconfined (a copy whose confine.start() says no: the kernel runs
as root, as before the confinement). Wall and CPU seconds of the whole process tree and its peak
memory (benchmark_grading.measure), median of REPEATS (default 3) each, and the ratios. The
sandbox's CPU figure leaves out the kernel when it is killed rather than shut down (its pid
namespace is then reaped outside the measured tree): compare its wall time.
"""

import json
import os
import statistics
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from autograder.assignment import get  # noqa: E402
from autograder.emulate import grading_environment, lay_out  # noqa: E402
from benchmark_grading import measure  # noqa: E402

SWITCH = "def _kind():\n"  # which confinement confine.start() gives: a copy of the zip picks it
KINDS = {"own user": None, "sandbox": "Sandbox", "unconfined": "None"}


def variant(autograder, target, kind):
    """`autograder` with confine._kind() returning `kind` in the grader's package."""
    with zipfile.ZipFile(autograder) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "autograder/confine.py":
                text = data.decode()
                assert text.count(SWITCH) == 1
                data = text.replace(SWITCH, f"{SWITCH}    return {kind}\n").encode()
            dst.writestr(item, data)
    return target


def grade(autograder, submission):
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o711)
        root = lay_out(Path(tmp, "ag"), autograder, submission)
        wall, cpu, peak, _ = measure([sys.executable, str(root / "source" / "run_otter.py"), str(root)],
                                     env=grading_environment(autograder))
        results = json.loads((root / "results" / "results.json").read_text())
        scores = tuple((t["name"], t.get("score")) for t in results["tests"])
    return wall, cpu, peak, scores


def run(submission=None, repeats=3):
    assert os.geteuid() == 0, "confinement needs root: run this as root"
    a = get()
    submission = Path(submission or a.samples / "reference.zip")
    figures = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        zips = {kind: variant(a.zip, Path(tmp, f"{i}.zip"), body) if body else a.zip
                for i, (kind, body) in enumerate(KINDS.items())}
        for _ in range(repeats):
            for kind, autograder in zips.items():
                figures[kind].append(grade(autograder, submission))
    scores = {kind: {r[3] for r in runs} for kind, runs in figures.items()}
    assert len(set().union(*scores.values())) == 1, f"the kinds scored differently: {scores}"
    medians = {k: [statistics.median(r[i] for r in runs) for i in range(3)] for k, runs in figures.items()}
    return {"submission": submission.name, "repeats": repeats,
            **{f"{k}_{m}": v for k, vals in medians.items() for m, v in zip(("wall_s", "cpu_s", "peak_mb"), vals)}}


def rows(f):
    line = lambda k: f"{f[k + '_wall_s']:.1f} s wall, {f[k + '_cpu_s']:.1f} s CPU, {f[k + '_peak_mb']:.0f} MB peak"
    ratio = lambda k: (f"{f[k + '_wall_s'] / f['unconfined_wall_s']:.2f}x wall, "
                       f"{f[k + '_cpu_s'] / f['unconfined_cpu_s']:.2f}x CPU, "
                       f"{f[k + '_peak_mb'] / f['unconfined_peak_mb']:.2f}x peak")
    return [(f"grading {f['submission']}, kernel as a user of its own (median of {f['repeats']})", line("own user")),
            ("the same, kernel in the sandbox (CPU: see the docstring)", line("sandbox")),
            ("the same, kernel unconfined (as root)", line("unconfined")),
            ("own user / unconfined", ratio("own user")), ("sandbox / unconfined", ratio("sandbox"))]


if __name__ == "__main__":
    args = sys.argv[1:]
    for name, value in rows(run(args[0] if args else None, int(args[1]) if len(args) > 1 else 3)):
        print(f"{name:60s} {value}")
