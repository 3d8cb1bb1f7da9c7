"""Build: master notebook -> student release, Gradescope autograder zip, sample submissions.

    python -m autograder build

1. Stage source/saving-and-loading with what only the autograder gets: this package and the
   two MNIST test-split files (1.6 MB, so grading never touches the network); write the
   notebook's export cell from the submission contract (assignment.py), and put the self-check's
   modules (SHIPPED) into the notebook's metadata.
2. `otter assign` the staged master (solutions and hidden tests stripped for students).
3. Copy the student notebook and gpu_checkpoint.pth to release/ (committed; CI rebuilds and
   compares).
4. Write the autograder zip to autograder/dist/: otter's, with this package also at the zip's
   root, where the grading process (and so otter's plugin loader) imports it, and run_otter.py
   replaced by this assignment's harness (harness.py: any upload form, results even when the
   notebook kills its kernel).
5. Run the solution notebook like a student would, export cell included, and keep its zip as
   the reference sample submission; the untouched release is the other sample.
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

from . import COPY_IGNORE
from .assignment import CONTRACT, NAME, NOTEBOOK, SAMPLES, ZIP
from .reference import MNISTModel, data_root, mnist_split

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent
SOURCE = REPO / "source" / NAME
RELEASE = REPO / "release" / NAME
GPU_CHECKPOINT = "gpu_checkpoint.pth"  # the lesson's map_location example, shipped with the notebook
EXPORT_MARKER = "# SUBMIT"  # the master's last cell; the build writes the export cell there
# The modules the student notebook carries (in its metadata; its setup cell writes them out) for
# its self-check: the grader's own file checks, without the resume run, the early-stopping
# sequences or the reproduction check, which stay with the grader.
SHIPPED = ("__init__", "assignment", "feedback", "load", "inspect", "verify", "reference", "filechecks", "selfcheck")
RUN_OTTER = '''"""Gradescope runs this (run_autograder activates the image's environment first): the
assignment's harness around otter's autograder, autograder/harness.py."""
import sys

from autograder.harness import main

if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
'''


def save_as_on_gpu(obj, f):
    """torch.save(obj, f) with every storage tagged cuda:0, as a GPU run saves it, on any machine."""
    real_tag = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(obj, f)
    finally:
        torch.serialization.location_tag = real_tag


def write_gpu_checkpoint(path):
    """The lesson's map_location example: an untrained state_dict saved as on a GPU."""
    torch.manual_seed(0)
    save_as_on_gpu(MNISTModel().state_dict(), path)


def same_state_dict(a, b):
    """Equal tensors and device tags: torch.save output differs byte-wise between runs."""
    if not (Path(a).exists() and Path(b).exists()):
        return False
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        tags = lambda z: z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
        if tags(za) != tags(zb):
            return False
    x, y = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def stage(build):
    """The master and everything otter assign should see, in a fresh folder."""
    shutil.rmtree(build, ignore_errors=True)
    shutil.copytree(SOURCE, build / "stage", ignore=shutil.ignore_patterns("checkpoints", "data", "*.pth"))
    staged = build / "stage"
    shutil.copytree(PACKAGE, staged / "autograder", ignore=COPY_IGNORE)
    mnist_split("t10k", data_root(), cache=build / "cache")  # verifies md5, fails with a clear message
    raw = staged / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data_root() / "MNIST" / "raw" / f, raw / f)
    # Keep the committed file when equal: torch.save embeds a random id, and the release is
    # compared with a fresh build byte for byte.
    write_gpu_checkpoint(build / "fresh.pth")
    keep = RELEASE / GPU_CHECKPOINT
    shutil.copy(keep if same_state_dict(keep, build / "fresh.pth") else build / "fresh.pth", build / GPU_CHECKPOINT)
    master = nbformat.read(staged / NOTEBOOK, as_version=4)
    [cell] = [c for c in master.cells if c.source.startswith(EXPORT_MARKER)]
    cell.source = export_cell()
    master.metadata["autograder"] = {"files": {f"autograder/{m}.py": (PACKAGE / f"{m}.py").read_text() for m in SHIPPED}}
    nbformat.write(master, staged / NOTEBOOK)
    return staged


def export_cell():
    """The notebook's last cell: zip this notebook and the contract's files, on Jupyter,
    JupyterLab, VS Code or Colab (where otter's Notebook.export refuses to run)."""
    files = "".join(f"\n    {f.path!r}," for f in CONTRACT)
    return f'''# Submit: a zip of this notebook and the checkpoint files your exercises wrote.
import datetime, json, zipfile

submission_files = [{files}
]
zip_name = f"{NAME}_{{datetime.datetime.now():%Y_%m_%dT%H_%M_%S}}.zip"
on_colab = "google.colab" in str(get_ipython())
if on_colab:  # Colab keeps the notebook off disk: ask Colab for it
    from google.colab import _message, files
    notebook = json.dumps(_message.blocking_request("get_ipynb", timeout_sec=120)["ipynb"])
else:  # the saved file; VS Code and JupyterLab say which one it is
    saved = Path(globals().get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME") or "{NOTEBOOK}").name
    notebook = Path(saved).read_text() if Path(saved).is_file() else None
present = [f for f in submission_files if Path(f).is_file()]
missing = [f for f in submission_files if f not in present]
if notebook is None:
    print(f"Could not find {{saved}} in {{Path.cwd()}}: save the notebook (Ctrl+S / Cmd+S), then run this cell again.")
else:
    with zipfile.ZipFile(zip_name, "w") as zf:
        zf.writestr("{NOTEBOOK}", notebook)
        for f in present:
            zf.write(f)
    print(f"Wrote {{zip_name}}: this notebook and {{len(present)}} of {{len(submission_files)}} checkpoint files"
          + (f" (not written yet: {{', '.join(missing)}})" if missing else "") + ". Upload this zip to Gradescope.")
    if on_colab:
        files.download(zip_name)'''


def normalize(nb_path):
    """Stable cell ids and no execution residue, so two builds give the same bytes."""
    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"
        if cell.cell_type == "code":
            cell.execution_count, cell.outputs = None, []
    nbformat.write(nb, nb_path)


def assign(staged, out):
    subprocess.run([sys.executable, "-m", "otter", "assign", "-v", str(staged / NOTEBOOK), str(out)],
                   check=True, cwd=staged)


def release(out, build, release_dir):
    shutil.rmtree(release_dir, ignore_errors=True)
    shutil.copytree(out / "student", release_dir)
    shutil.copy(build / GPU_CHECKPOINT, release_dir)
    normalize(release_dir / NOTEBOOK)


def autograder_zip(out, build, zip_path):
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    [built] = (out / "autograder").glob("*.zip")
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, RUN_OTTER if item.filename == "run_otter.py" else src.read(item))
        dst.write(build / GPU_CHECKPOINT, f"files/{GPU_CHECKPOINT}")
        for f in sorted(PACKAGE.rglob("*.py")):
            if "dist" not in f.parts:
                dst.write(f, Path("autograder") / f.relative_to(PACKAGE))


def submit(notebook, work, edit=None, allow_errors=False, timeout=600):
    """Run `notebook` top to bottom in a fresh folder, as a student does, export cell included,
    and return the zip the export cell wrote. `edit(nb)` may change the notebook first
    (tests/catalogue makes its mistaken submissions so); `allow_errors` runs on past a failing
    cell, as a student with a bug would before submitting."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    nb = nbformat.read(notebook, as_version=4)
    if edit:
        edit(nb)
    nbformat.write(nb, work / NOTEBOOK)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(work)}}).execute()
    [exported] = work.glob(f"{NAME}_*.zip")
    return exported


def samples(out, build, release_dir, samples_dir):
    """reference.zip: the solution as a student would submit it; untouched-release.zip."""
    shutil.rmtree(samples_dir, ignore_errors=True)
    samples_dir.mkdir(parents=True)
    shutil.copy(submit(out / "autograder" / NOTEBOOK, build / "reference-run"), samples_dir / "reference.zip")
    with zipfile.ZipFile(samples_dir / "untouched-release.zip", "w") as zf:
        zf.write(release_dir / NOTEBOOK, NOTEBOOK)


def main(build=REPO / "build", release_dir=RELEASE, zip_path=ZIP, samples_dir=SAMPLES):
    """Build everything; `samples_dir=None` skips running the solution notebook."""
    staged = stage(build)
    out = build / "dist"
    assign(staged, out)
    release(out, build, release_dir)
    autograder_zip(out, build, zip_path)
    print(f"release:    {release_dir}/\nautograder: {zip_path}")
    if samples_dir:
        samples(out, build, release_dir, samples_dir)
        print(f"samples:    {samples_dir}/")
