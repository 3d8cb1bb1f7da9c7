"""What a student version of the master must not contain: solution lines and hidden tests."""

import json
import re

import nbformat

from autograder import build
from autograder.saving_and_loading import ASSIGNMENT

MASTER = build.source_of(ASSIGNMENT) / ASSIGNMENT.notebook
MARKERS = ("BEGIN SOLUTION", "hidden: true", "import hidden", "ASSIGNMENT CONFIG", "BEGIN HIDDEN TESTS")


def solution_lines(master):
    """Every non-trivial line the master marks as solution, and every hidden test's body."""
    lines, in_solution, in_tests = set(), False, False
    for cell in master.cells:
        src = cell.source
        if cell.cell_type == "raw":
            in_solution = {"# BEGIN SOLUTION": True, "# END SOLUTION": False}.get(src.strip(), in_solution)
            in_tests = {"# BEGIN TESTS": True, "# END TESTS": False}.get(src.strip(), in_tests)
            continue
        if in_tests and re.search(r"hidden:\s*true", src):
            lines |= {l.strip() for l in src.splitlines()[4:] if len(l.strip()) > 12}
        if in_solution and cell.cell_type == "code":
            block = False
            for l in src.splitlines():
                block = block or "# BEGIN SOLUTION" in l
                if (block or l.rstrip().endswith("# SOLUTION")) and len(l.strip()) > 12 and "SOLUTION" not in l.strip()[:20]:
                    lines.add(l.strip().removesuffix("# SOLUTION").strip())
                block = block and "# END SOLUTION" not in l
    return lines


def leaked(release):
    """The master's solution and hidden-test lines, and grading markers, found in `release` (a
    student notebook's text)."""
    master = nbformat.read(MASTER, as_version=4)
    secret = solution_lines(master)
    assert len(secret) > 30, "the master's solutions were not found: has its format changed?"
    # lines the lesson also shows outside solutions (prose examples, given code) are not secrets
    given = "\n".join(c.source for c in master.cells if c.cell_type == "markdown"
                      or (c.cell_type == "code" and "SOLUTION" not in c.source and "TEST CONFIG" not in c.source))
    found = sorted(l for l in secret if l not in given and json.dumps(l)[1:-1] in release)
    return found + [m for m in MARKERS if m in release]
