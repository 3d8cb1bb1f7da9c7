"""Benchmark: how bulk grading scales with the number of submissions and of workers.

    .venv/bin/python tests/benchmark_bulk.py [SUBMISSION.zip]   (after `python -m autograder build`)

Grades 1, 8 and 32 copies of one submission (default: the reference) with 1 and 2 workers, each
batch with `python -m autograder grade`'s own grade_all, and prints the wall time of each batch,
the time per submission and the speed-up of 2 workers over 1. Every copy must score what the
first one scores. The ideal is linear in the submissions and divided by the workers: n
submissions on w workers in n x (one submission on one worker) / min(n, w); each batch is shown as
a multiple of it. On this 2-core machine the whole run takes about 40 minutes.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder.assignment import get  # noqa: E402
from autograder.grade import grade_all  # noqa: E402

SIZES = (1, 8, 32)
WORKERS = (1, 2)


def run(submission=None, sizes=SIZES, workers=WORKERS):
    """{"wall_s": {workers: {submissions: seconds}}, ...} with the derived ratios."""
    a = get()
    submission = Path(submission or a.samples / "reference.zip")
    wall = {w: {} for w in workers}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            folder = Path(tmp, f"n{n}")
            folder.mkdir()
            for i in range(n):
                shutil.copy(submission, folder / f"{submission.stem}-{i + 1:02d}.zip")
            for w in workers:
                start = time.perf_counter()
                graded, _ = grade_all([folder], Path(tmp, f"out-{n}-{w}"), a.zip, workers=w)
                wall[w][n] = time.perf_counter() - start
                totals = {g.total for g in graded}
                assert len(graded) == n and len(totals) == 1, f"copies of one submission scored {sorted(totals)}"
    one = wall[min(workers)][min(sizes)] / min(sizes)  # one submission on one worker
    largest = max(sizes)
    return {
        "submission": submission.name,
        "wall_s": wall,
        "of_ideal": {w: {n: t / (n * one / min(n, w)) for n, t in by_n.items()} for w, by_n in wall.items()},
        "speedup": {w: wall[min(workers)][largest] / wall[w][largest] for w in workers},
    }


def rows(f):
    out = [(f"{n} submission(s), {w} worker(s)", f"{t:7.1f} s wall, {t / n:5.1f} s each, {f['of_ideal'][w][n]:.2f}x the ideal")
           for w, by_n in f["wall_s"].items() for n, t in by_n.items()]
    largest = max(n for by_n in f["wall_s"].values() for n in by_n)
    out += [(f"speed-up of {w} workers at {largest} submissions", f"{s:.2f}x") for w, s in f["speedup"].items() if w > 1]
    return out


def plot(f, path):
    """Wall time against the number of submissions, one line per worker count."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for w, by_n in f["wall_s"].items():
        ax.plot(list(by_n), list(by_n.values()), "o-", label=f"{w} worker(s)")
    ax.set_xlabel("submissions")
    ax.set_ylabel("wall time (s)")
    ax.set_title("Bulk grading: python -m autograder grade")
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    for measure, value in rows(run(*sys.argv[1:2])):
        print(f"{measure:45s} {value}")
