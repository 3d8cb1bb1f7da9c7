"""Build an assignment: master notebook -> student release, Gradescope autograder zip, samples.

    python -m autograder build [--assignment NAME]

1. Stage source/<name> with what only the autograder gets: this package, and what the lesson
   stages (its build module: for this lesson the MNIST files and gpu_checkpoint.pth); write the
   notebook's export cell from the submission contract, and put the self-check's modules
   (Assignment.modules) into the notebook's metadata.
2. `otter assign` the staged master (solutions and hidden tests stripped for students).
3. Copy the student notebook and the lesson's release files to release/<name>/ (committed; CI
   rebuilds and compares).
4. Write the autograder zip to autograder/dist/: otter's, with this package at the zip's root,
   where the grading process (and so otter's plugin loader) imports it, only the modules the
   kernel imports in its files/ (which otter copies beside the notebook: the grader's references
   stay out of the kernel's reach), and run_otter.py replaced by the harness (harness.py: any
   upload form, results even when the notebook kills its kernel).
5. Write the nbgrader course (nbgrader_course.py): the master in nbgrader's source format, in
   autograder/dist/nbgrader/ with its nbgrader_config.py.
6. Run the solution notebook like a student would, export cell included, and keep its zip as
   the reference sample submission; the untouched release is the other sample.

Cells of the master tagged otter-only (the setup that installs otter, the export cell and its
text) go to the otter release only; cells tagged nbgrader-only to the nbgrader course only.
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from otter.assign.blocks import get_cell_config, is_assignment_config_cell

from . import confine
from .assignment import get
from .nbgrader_course import COURSE, write_course

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent
EXPORT_MARKER = "# SUBMIT"  # the master's last cell; the build writes the export cell there
PLATFORMS = ("otter", "nbgrader")  # a master cell tagged "<platform>-only" goes to that platform's notebook only
# Appended to otter's setup.sh, which Gradescope runs once, as root, when it builds the image.
SETUP_CONFINEMENT = """
# The student's notebook runs as a user of its own (autograder/confine.py: a uid per grading,
# no account, no privileges), which must reach this environment under /root: open /root for
# traversal only (nothing in it listed); the environment's own files are world-readable.
chmod o+x /root
command -v setpriv >/dev/null || apt-get install -y util-linux
"""
RUN_OTTER = '''"""Gradescope runs this (run_autograder activates the image's environment first): the
assignment's harness around otter's autograder, autograder/harness.py."""
import sys

from autograder.harness import main

if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
'''


def source_of(assignment):
    return REPO / "source" / assignment.name


def release_of(assignment):
    return REPO / "release" / assignment.name


def shipped_files(assignment):
    """{path in the notebook's folder: source} of the modules the student notebook carries."""
    return {rel: f.read_text() for rel, f in assignment.modules().items()}


def package_files(assignment):
    """{path in the autograder: file} of the grader's package: the core and the lesson, which the
    build puts at autograder/<package>/ wherever it is kept."""
    files = {Path("autograder") / f.relative_to(PACKAGE): f for f in sorted(PACKAGE.rglob("*.py")) if "dist" not in f.parts}
    lesson = assignment.lesson_dir
    files.update({Path("autograder", assignment.package) / f.relative_to(lesson): f for f in sorted(lesson.rglob("*.py"))})
    return files


def for_platform(nb, platform):
    """`nb` without the cells tagged for the other platforms, and without those tags."""
    others = {f"{p}-only" for p in PLATFORMS if p != platform}
    nb.cells = [c for c in nb.cells if not others & set(c.metadata.get("tags", []))]
    for cell in nb.cells:
        tags = [t for t in cell.metadata.get("tags", []) if t != f"{platform}-only"]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
    return nb


def stage(assignment, build, source):
    """The master (in `source`) and everything otter assign should see, in a fresh folder; returns
    the staged folder and the lesson's files for the release and the zip."""
    shutil.rmtree(build, ignore_errors=True)
    staged = build / "stage"
    shutil.copytree(source, staged, ignore=shutil.ignore_patterns("checkpoints", "data", "*.pth"))
    for rel, f in package_files(assignment).items():
        (staged / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, staged / rel)
    extra = assignment.lesson.stage(staged, build, release_of(assignment))
    master = for_platform(nbformat.read(staged / assignment.notebook, as_version=4), "otter")
    [cell] = [c for c in master.cells if c.source.startswith(EXPORT_MARKER)]
    cell.source = export_cell(assignment)
    master.metadata["autograder"] = {"files": shipped_files(assignment)}
    nbformat.write(master, staged / assignment.notebook)
    return staged, extra


def export_cell(assignment):
    """The notebook's last cell: the shipped autograder.submit zips this notebook and the
    contract's files, unless they are stale."""
    files = "".join(f"\n    {f.path!r}: {f.written_by!r}," for f in assignment.contract)
    return f'''# Submit: a zip of this notebook and the checkpoint files your exercises wrote, each
# written by the cell named here (autograder/submit.py says why it may refuse).
from autograder.submit import export

export({assignment.name!r}, {assignment.notebook!r}, {{{files}
}}, get_ipython())'''


def normalize(nb_path):
    """Stable cell ids and no execution residue, so two builds give the same bytes."""
    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"
        if cell.cell_type == "code":
            cell.execution_count, cell.outputs = None, []
    nbformat.write(nb, nb_path)


def assign(staged, out, notebook):
    subprocess.run([sys.executable, "-m", "otter", "assign", "-v", str(staged / notebook), str(out)],
                   check=True, cwd=staged)


def release(out, extra, release_dir, notebook):
    shutil.rmtree(release_dir, ignore_errors=True)
    shutil.copytree(out / "student", release_dir)
    for f in extra:
        shutil.copy(f, release_dir)
    normalize(release_dir / notebook)


def autograder_zip(assignment, out, extra, zip_path):
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    [built] = (out / "autograder").glob("*.zip")
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = {"run_otter.py": RUN_OTTER.encode(),
                    "setup.sh": src.read(item) + SETUP_CONFINEMENT.encode()}.get(item.filename) or src.read(item)
            dst.writestr(item, data)
        for f in extra:
            dst.write(f, f"files/{f.name}")
        for rel, f in assignment.modules(graded=True).items():
            dst.write(f, f"files/{rel}")
        for rel, f in package_files(assignment).items():
            dst.write(f, rel)


def submit(notebook, work, edit=None, allow_errors=False, timeout=600, files=None):
    """Run `notebook` top to bottom in a fresh folder, as a student does, export cell included,
    and return the zip the export cell wrote. `edit(nb)` may change the notebook first
    (tests/catalogue makes its mistaken submissions so); `allow_errors` runs on past a failing
    cell, as a student with a bug would before submitting; `files` ({path in the folder: file or
    folder}) are put beside the notebook first."""
    notebook = Path(notebook)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for rel, f in (files or {}).items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if Path(f).is_dir() else shutil.copy)(f, work / rel)
    nb = nbformat.read(notebook, as_version=4)
    if edit:
        edit(nb)
    nbformat.write(nb, work / notebook.name)
    confine.steady_ports()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(work)}}).execute()
    [exported] = work.glob(f"{notebook.stem}_*.zip")
    return exported


def samples(out, build, release_dir, samples_dir, notebook, files):
    """reference.zip: the solution as a student would submit it, run beside `files` (the master's
    autograder_files: the data the build has verified, not fetched again); untouched-release.zip."""
    shutil.rmtree(samples_dir, ignore_errors=True)
    samples_dir.mkdir(parents=True)
    shutil.copy(submit(out / "autograder" / notebook, build / "reference-run", files=files), samples_dir / "reference.zip")
    with zipfile.ZipFile(samples_dir / "untouched-release.zip", "w") as zf:
        zf.write(release_dir / notebook, notebook)


def nbgrader_course(assignment, source, staged, extra, course):
    """The nbgrader course's source/<name>/ from the master, with the data the master gives the
    autograder (its autograder_files) and the lesson's release files."""
    master = for_platform(nbformat.read(source / assignment.notebook, as_version=4), "nbgrader")
    files = [staged / f for f in autograder_files(master)] + list(extra)
    return write_course(assignment, master, files, shipped_files(assignment), course)


def autograder_files(master):
    """The master's autograder_files: what otter puts beside the notebook when it grades it."""
    [config] = [c for c in master.cells if is_assignment_config_cell(c)]
    return get_cell_config(config).get("autograder_files", [])


def main(assignment=None, source=None, build=None, release_dir=None, zip_path=None, samples_dir=None, course=None,
         with_samples=True):
    """Build everything for `assignment` (default: get()) from the master in `source`;
    `with_samples=False` skips running the solution notebook. Paths default to the repository's
    (source/<name>/, release/<name>/, autograder/dist/)."""
    a = assignment or get()
    source, build = source or source_of(a), build or REPO / "build" / a.name
    release_dir, zip_path, samples_dir = release_dir or release_of(a), zip_path or a.zip, samples_dir or a.samples
    staged, extra = stage(a, build, source)
    out = build / "dist"
    assign(staged, out, a.notebook)
    release(out, extra, release_dir, a.notebook)
    autograder_zip(a, out, extra, zip_path)
    print(f"release:    {release_dir}/\nautograder: {zip_path}")
    print(f"nbgrader:   {nbgrader_course(a, source, staged, extra, course or COURSE)}/")
    if with_samples:
        given = autograder_files(nbformat.read(staged / a.notebook, as_version=4))
        samples(out, build, release_dir, samples_dir, a.notebook, {f: staged / f for f in given})
        print(f"samples:    {samples_dir}/")
