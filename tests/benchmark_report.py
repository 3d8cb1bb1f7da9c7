"""All the benchmarks in one run, written as a report: Markdown, JSON and plots.

    MNIST_DATA_ROOT=... .venv/bin/python tests/benchmark_report.py [--without-bulk]
                                                 (after `python -m autograder build`)

Runs, one after the other on a machine left alone: the training loop against the roofline and the
conventional pipeline (benchmark_training), where grading one submission spends its time
(benchmark_profile), time and memory of grading and of nbgrader (benchmark_grading), and bulk
grading of 1, 8 and 32 submissions with 1 and 2 workers (benchmark_bulk, most of the time).
Writes autograder/dist/reports/: benchmarks.md (a table per benchmark, headed by the date and the
machine), benchmarks.json (every figure), profile.png and bulk.png. docs/performance.md says what
each figure measures; the figures stay in this report.
"""

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark_bulk  # noqa: E402
import benchmark_grading  # noqa: E402
import benchmark_profile  # noqa: E402
import benchmark_training  # noqa: E402
from benchmark_grading import REPO  # noqa: E402

REPORTS = REPO / "autograder" / "dist" / "reports"
SECTIONS = (  # (key, title, module)
    ("training", "The training loop against the machine", benchmark_training),
    ("profile", "Where grading one submission spends its CPU time (seconds)", benchmark_profile),
    ("grading", "Grading one submission: time and memory", benchmark_grading),
    ("bulk", "Bulk grading", benchmark_bulk),
)


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU build"
    return (f"{cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
            f"Python {platform.python_version()}, torch {torch.__version__} ({build}, "
            f"{'GPU' if torch.cuda.is_available() else 'no GPU: CPU only'})")


def markdown(report):
    lines = [f"# Benchmarks, {report['date']}", "", f"Machine: {report['machine']}", ""]
    for key, title, module in SECTIONS:
        if key not in report["figures"]:
            continue
        lines += [f"## {title}", "", "| measure | figure |", "|---|---|"]
        lines += [f"| {m.strip()} | {v.strip()} |" for m, v in module.rows(report["figures"][key])]
        lines.append("")
    return "\n".join(lines)


def plot_profile(f, path):
    """The graded stages as horizontal bars, in the order they run."""
    from matplotlib.figure import Figure

    stages = f["stages"]
    fig = Figure(figsize=(7, 0.3 * len(stages) + 1))
    ax = fig.add_subplot()
    ax.barh(list(stages)[::-1], list(stages.values())[::-1])
    ax.set_xlabel("CPU seconds")
    ax.set_title(f"Grading one submission: {sum(stages.values()):.1f} s CPU")
    ax.tick_params(axis="y", labelsize=7)
    fig.savefig(path, dpi=100, bbox_inches="tight")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without-bulk", action="store_true", help="skip bulk grading, most of the run's time")
    args = parser.parse_args(argv)
    os.environ.setdefault("MNIST_DATA_ROOT", str(REPO / "data"))
    report = {"date": datetime.date.today().isoformat(), "machine": machine(), "figures": {}}
    REPORTS.mkdir(parents=True, exist_ok=True)
    for key, title, module in SECTIONS:
        if key == "bulk" and args.without_bulk:
            continue
        print(f"{title} ...", flush=True)
        report["figures"][key] = module.run()
        (REPORTS / "benchmarks.json").write_text(json.dumps(report, indent=1))  # kept if a later one fails
    plot_profile(report["figures"]["profile"], REPORTS / "profile.png")
    if "bulk" in report["figures"]:
        benchmark_bulk.plot(report["figures"]["bulk"], REPORTS / "bulk.png")
    (REPORTS / "benchmarks.md").write_text(markdown(report))
    print(markdown(report))
    print(f"\nwritten: {REPORTS}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
