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
    """{"batches": [{"submissions", "workers", "wall_s", "of_ideal"}], "speedup": workers' speed-up
    over one worker at the largest batch} (records, so that the figures survive JSON as they are)."""
    a = get()
    submission = Path(submission or a.samples / "reference.zip")
    wall = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            folder = Path(tmp, f"n{n}")
            folder.mkdir()
            for i in range(n):
                shutil.copy(submission, folder / f"{submission.stem}-{i + 1:02d}.zip")
            for w in workers:
                start = time.perf_counter()
                graded, _ = grade_all([folder], Path(tmp, f"out-{n}-{w}"), a.zip, workers=w)
                wall[n, w] = time.perf_counter() - start
                failed = [g.status for g in graded if g.status != "Completed"]
                assert not failed, f"gradings that did not complete are not timings: {failed}"
                totals = {g.total for g in graded}
                assert len(graded) == n and len(totals) == 1, f"copies of one submission scored {sorted(totals)}"
    one = wall[min(sizes), min(workers)] / min(sizes)  # one submission on one worker
    largest = max(sizes)
    return {
        "submission": submission.name,
        "batches": [{"submissions": n, "workers": w, "wall_s": t, "of_ideal": t / (n * one / min(n, w))}
                    for (n, w), t in sorted(wall.items(), key=lambda item: (item[0][1], item[0][0]))],
        "speedup": {"workers": max(workers), "submissions": largest,
                    "times": wall[largest, min(workers)] / wall[largest, max(workers)]},
    }


def rows(f):
    out = [(f"{b['submissions']} submission(s), {b['workers']} worker(s)",
            f"{b['wall_s']:7.1f} s wall, {b['wall_s'] / b['submissions']:5.1f} s each, {b['of_ideal']:.2f}x the ideal")
           for b in f["batches"]]
    s = f["speedup"]
    return out + [(f"speed-up of {s['workers']} workers at {s['submissions']} submissions", f"{s['times']:.2f}x")]


def plot(f, path):
    """Wall time against the number of submissions, one line per worker count."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for w in sorted({b["workers"] for b in f["batches"]}):
        batches = [b for b in f["batches"] if b["workers"] == w]
        ax.plot([b["submissions"] for b in batches], [b["wall_s"] for b in batches], "o-", label=f"{w} worker(s)")
    ax.set_xlabel("submissions")
    ax.set_ylabel("wall time (s)")
    ax.set_title("Bulk grading: python -m autograder grade")
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    for measure, value in rows(run(*sys.argv[1:2])):
        print(f"{measure:45s} {value}")
