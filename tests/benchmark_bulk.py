"""Benchmark: wall time of bulk grading a folder with N workers versus 1, side by side.

    .venv/bin/python tests/benchmark_bulk.py FOLDER [N]   (after `python -m autograder build`;
    FOLDER of submissions, e.g. the catalogue's, which tests/test_catalogue.py makes)
"""

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder.grade import grade_all  # noqa: E402


def main(folder, workers):
    times = {}
    for n in (1, workers):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            graded, _ = grade_all([folder], out, workers=n)
            times[n] = time.perf_counter() - start
        print(f"{len(graded)} submissions, {n} worker(s): {times[n]:7.1f} s wall")
    print(f"speed-up with {workers} workers: {times[1] / times[workers]:.2f}x")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count())
