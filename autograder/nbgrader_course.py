"""The same assignment for nbgrader: the master converted to nbgrader's source format, in a course
folder with its nbgrader_config.py. `python -m autograder build` writes it beside the Gradescope
zip (autograder/dist/nbgrader/); nbgrader's own commands take it from there.

otter's master format maps onto nbgrader's cell metadata (schema 3):
- a code cell with solution markers in a question -> a solution cell. `# BEGIN SOLUTION` and
  `# END SOLUTION` lines are nbgrader's delimiters too; a `... # SOLUTION` line becomes a
  one-line region. nbgrader's ClearSolutions puts otter's own prompt, `...`, in their place;
- each test cell -> an autograded test cell worth the test's points, grade id
  QUESTION-TESTFUNCTION (so a question's score is the sum of its cells'); a hidden test's code
  goes inside nbgrader's hidden-test markers, after a line saying what runs there;
- a cell otter's grading leaves out (tagged `otter_ignore`: the lesson's demonstrations) -> a
  locked cell with grade id `demo-<n>`: nbgrader puts back the instructor's version before grading,
  and BoundedExecute skips it, as otter does;
- otter's config and block cells are dropped; cells tagged otter-only are left out and
  nbgrader-only ones kept (build.for_platform).

source/<name>/ holds the notebook and what the student's folder needs: the self-check modules,
the data and the lesson's release files. The full grading package stays out (nbgrader releases
every file in source/): the graders' environment has it installed, and the course's
preprocessors (nbgrader_grading.py) put the modules the kernel imports beside the notebook when
they grade.
"""

import ast
import re
import shutil

import nbformat
from otter.assign.blocks import BlockType, get_cell_config, is_assignment_config_cell, is_block_boundary_cell
from otter.assign.solutions import BLOCK_PROMPT
from otter.assign.tests_manager import BEGIN_TEST_CONFIG_REGEX, END_TEST_CONFIG_REGEX
from otter.execute.preprocessor import IGNORE_CELL_TAG, NOTEBOOK_METADATA_KEY

from .assignment import DIST, get

COURSE = DIST / "nbgrader"  # the course folder the build writes, every assignment's source/ in it
SCHEMA = 3  # nbgrader's cell metadata schema version (nbgrader 0.9)
DEMO = "demo-"  # grade id prefix of the lesson's demonstrations (locked cells)
SOLUTION_LINE = re.compile(r"^(\s*)(.*?)\s*# ?SOLUTION\s*$")
UNSUPPORTED = ("# BEGIN SOLUTION NO PROMPT", "# SOLUTION NO PROMPT", "# BEGIN PROMPT", "# SEED", "# IGNORE")
# Preprocessors nbgrader runs on a submission after sanitizing it: nbgrader's own defaults, with
# ours around Execute and Execute bounded (see nbgrader_grading.py).
AUTOGRADE_PREPROCESSORS = (
    "autograder.nbgrader_grading.SealSubmittedFiles",
    "autograder.nbgrader_grading.BoundedExecute",
    "autograder.nbgrader_grading.RecheckKernelFree",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.nbgrader_grading.FeedbackSummary",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
)


def _nbgrader(grade_id, *, grade=False, solution=False, points=None, locked=False):
    meta = {"grade": grade, "solution": solution, "locked": grade or locked, "grade_id": grade_id,
            "schema_version": SCHEMA}
    if grade:
        meta["points"] = points
    return meta


def _solution_regions(source):
    """otter's `... # SOLUTION` lines as one-line regions; block markers are left as they are."""
    lines = []
    for line in source.splitlines():
        if any(marker in line for marker in UNSUPPORTED):
            raise ValueError(f"the nbgrader conversion does not support otter's {line.strip()!r}")
        m = SOLUTION_LINE.match(line)
        if m:
            indent, code = m.groups()
            lines += [f"{indent}# BEGIN SOLUTION", f"{indent}{code}", f"{indent}# END SOLUTION"]
        else:
            lines.append(line)
    return "\n".join(lines)


def ignored_by_otter(cell):
    """A cell otter's grading drops (its GradingPreprocessor.filter_ignored_cells)."""
    return IGNORE_CELL_TAG in cell.metadata.get("tags", []) or cell.metadata.get(NOTEBOOK_METADATA_KEY, {}).get("ignore")


def is_demo(cell):
    """One of the lesson's demonstrations in an nbgrader notebook: a locked cell, neither graded
    nor a solution, whose grade id starts with DEMO. A student who marks a cell of their own so
    only keeps their own code from the re-run; a test cell is never one."""
    meta = cell.metadata.get("nbgrader", {})
    return (meta.get("locked", False) and not meta.get("grade", False) and not meta.get("solution", False)
            and meta.get("grade_id", "").startswith(DEMO))


def _has_solution(source):
    return "# BEGIN SOLUTION" in source or any(SOLUTION_LINE.match(l) for l in source.splitlines())


def _test_cell(source, question):
    """(grade id, points, nbgrader source) of one otter test cell."""
    lines = source.splitlines()
    config, body = {}, lines
    if re.match(BEGIN_TEST_CONFIG_REGEX, lines[0], flags=re.IGNORECASE):
        end = next(i for i, l in enumerate(lines) if re.match(END_TEST_CONFIG_REGEX, l, flags=re.IGNORECASE))
        config = get_cell_config(nbformat.v4.new_raw_cell("\n".join(lines[1:end])))
        body = lines[end + 1:]
    [function] = [n.name for n in ast.parse("\n".join(body)).body if isinstance(n, ast.FunctionDef)]
    points = config.get("points", 0)
    code = "\n".join(body).strip()
    if config.get("hidden", False):
        code = (f"# A hidden test ({points:g} point{'s' * (points != 1)}) runs here when your notebook is graded.\n"
                f"### BEGIN HIDDEN TESTS\n{code}\n### END HIDDEN TESTS")
    return f"{question}-{function}", points, code


def source_notebook(master):
    """The nbgrader source notebook of an otter master (already for_platform'd to nbgrader)."""
    out = nbformat.v4.new_notebook(metadata={k: v for k, v in master.metadata.items() if k in ("kernelspec", "language_info")})
    question, in_tests, solutions, demos = None, False, 0, 0
    for cell in master.cells:
        if is_assignment_config_cell(cell):
            continue
        if is_block_boundary_cell(cell, BlockType.QUESTION):
            question, solutions = get_cell_config(cell)["name"], 0
            continue
        if is_block_boundary_cell(cell, BlockType.QUESTION, end=True):
            question = None
            continue
        if is_block_boundary_cell(cell, BlockType.TESTS) or is_block_boundary_cell(cell, BlockType.TESTS, end=True):
            in_tests = is_block_boundary_cell(cell, BlockType.TESTS)
            continue
        if is_block_boundary_cell(cell, BlockType.SOLUTION) or is_block_boundary_cell(cell, BlockType.SOLUTION, end=True):
            continue
        if cell.cell_type == "markdown":
            out.cells.append(nbformat.v4.new_markdown_cell(cell.source))
        elif cell.cell_type == "code" and in_tests:
            grade_id, points, code = _test_cell(cell.source, question)
            out.cells.append(nbformat.v4.new_code_cell(code, metadata={"nbgrader": _nbgrader(grade_id, grade=True, points=points)}))
        elif cell.cell_type == "code" and _has_solution(cell.source):
            if question is None:
                raise ValueError(f"a solution outside any question: {cell.source[:60]!r}")
            solutions += 1
            out.cells.append(nbformat.v4.new_code_cell(
                _solution_regions(cell.source), metadata={"nbgrader": _nbgrader(f"{question}-solution-{solutions}", solution=True)}))
        elif cell.cell_type == "code" and ignored_by_otter(cell):
            demos += 1
            out.cells.append(nbformat.v4.new_code_cell(
                cell.source, metadata={"nbgrader": _nbgrader(f"{DEMO}{demos}", locked=True)}))
        elif cell.cell_type == "code":
            out.cells.append(nbformat.v4.new_code_cell(cell.source))
    for i, cell in enumerate(out.cells):
        cell.id = f"cell-{i:03d}"
    return out


def grade_cells(nb):
    """{grade id: points} of a converted notebook's autograded cells."""
    return {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["points"]
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


def question_of(grade_id):
    return grade_id.split("-", 1)[0]


def config_text(assignments):
    """nbgrader_config.py for a course of `assignments`: every option it needs, with why."""
    exclude = {a.name: [f.path for f in a.contract] for a in assignments}
    def limit(field):  # one course configuration for every assignment: the most any of them allows
        return max(getattr(a, field) for a in assignments)
    preprocessors = "".join(f"\n    {p!r}," for p in AUTOGRADE_PREPROCESSORS)
    return f'''"""nbgrader's configuration for this course, written by `python -m autograder build` from the
assignments' declarations (autograder/<assignment>/__init__.py). Run nbgrader's commands in
this folder. Grading needs the autograder package installed (pip install -e the repository, as
its requirements.txt does): the preprocessors below come from it."""

import os

c = get_config()  # noqa: F821 (nbgrader defines it)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "deep-learning"
c.Exchange.root = os.path.join(c.CourseDirectory.root, "exchange")  # a local folder; JupyterHub courses set their own

# One student cell may run {limit("cell_time_limit_s")} s, the otter grader's own per-cell limit
# (docs/maintainers.md, "Limits of a grading run", says why): nbgrader's default, 30 s, is too tight
# for a shared JupyterHub node. nbgrader interrupts the cell and runs the next one.
c.Execute.timeout = {limit("cell_time_limit_s")}

# The otter grader's other bounds on the re-run (BoundedExecute, nbgrader's Execute with them):
# what one cell may print, in characters: the rest is dropped with a note (nbgrader would hold it
# all in memory before its LimitOutput cuts it);
c.BoundedExecute.cell_output_limit = {limit("cell_output_limit"):_}
# the kernel's data, in bytes (RLIMIT_DATA; torch's import maps 0.9 GB): past it an allocation
# fails in that cell, instead of the machine's memory killer ending the kernel;
c.BoundedExecute.kernel_data_limit = {limit("kernel_data_limit"):_}
# the whole re-run, in seconds (a cell that ignores the interrupt would otherwise hold the grading):
# then the kernel is ended, the test cells that had not run fail with the reason, and the points
# the submitted files earned stand.
c.BoundedExecute.run_time_limit = {limit("run_time_limit_s")}
# Run as root, the notebook's kernel runs as a user of its own with no privileges, which can write
# only the notebook's folder and may have this many processes and threads (a fork bomb stops there);
# not root, it runs in a sandbox of user namespaces where the machine allows them
# (autograder/confine.py, through the `python3` kernel spec it puts first on JUPYTER_PATH); after
# the run every process of it is killed. Neither possible: the student's code runs as nbgrader's
# user, and the log says so.
c.BoundedExecute.kernel_tasks = {limit("kernel_tasks")}
c.BoundedExecute.confine = True
# The lesson's demonstrations (locked cells with a `demo-` grade id, those otter's grading leaves
# out) are not re-run: no test needs them, and they are about a third of the re-run (docs/instructors.md).
c.BoundedExecute.run_demos = False
# The test cells the grader judges (kernel-free or on observed variables), in its own interpreter, in seconds.
c.RecheckKernelFree.time_limit = {limit("kernel_free_time_limit_s")}

# otter's prompt in place of a solution, so both releases read alike (nbgrader's default raises).
c.ClearSolutions.code_stub = {{"python": {BLOCK_PROMPT!r}}}

# The checkpoint files a student submits are graded, not replaced by files of the same name that an
# instructor's own run may have left in source/.
c.Autograde.exclude_overwriting = {exclude!r}

# Before nbgrader re-runs the notebook, seal the submitted files (and put the modules its kernel
# imports beside it); run it bounded; after, check the files and re-run the tests that need no live
# variables in the grader's own interpreter (a kernel that passed one the grader fails, or a
# sealed file that changed, flags the submission: formgrader's flag), and add the grader's notes
# and the resume picture at the top of the feedback.
c.Autograde.autograde_preprocessors = [{preprocessors}
]
'''


def write_course(assignment, master, files, shipped, course):
    """course/source/<name>/: the converted `master` (for_platform'd to nbgrader), `files` (the
    master's data and the lesson's release files) and the `shipped` self-check modules;
    course/nbgrader_config.py for every assignment in the course."""
    folder = course / "source" / assignment.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    nbformat.write(source_notebook(master), folder / assignment.notebook)
    for rel, text in shipped.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    for f in files:
        (shutil.copytree if f.is_dir() else shutil.copy)(f, folder / f.name)
    (course / "nbgrader_config.py").write_text(config_text([get(p.name) for p in sorted((course / "source").iterdir())]))
    return folder
