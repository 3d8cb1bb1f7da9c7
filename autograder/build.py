"""Build: master notebook -> student release, Gradescope autograder zip, sample submissions.

    python -m autograder build

1. Stage source/saving-and-loading with what only the autograder gets: this package and the
   two MNIST test-split files (1.6 MB, so grading never touches the network).
2. `otter assign` the master (solutions and hidden tests stripped for students).
3. Copy the student notebook and support files to release/ (committed; CI rebuilds and compares).
4. Write the autograder zip to autograder/dist/, with this package also at the zip's root,
   beside run_otter.py, where the grading process (and so otter's plugin loader) imports it.
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
from .reference import MNISTModel, data_root, mnist_split

REPO = Path(__file__).resolve().parent.parent
NAME = "saving-and-loading"
SOURCE = REPO / "source" / NAME
RELEASE = REPO / "release" / NAME
DIST = REPO / "autograder" / "dist"
ZIP = DIST / f"{NAME}-autograder.zip"
SAMPLES = DIST / "samples"
PACKAGE = Path(__file__).resolve().parent


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
    write_gpu_checkpoint(build / "gpu_checkpoint.pth")
    keep = RELEASE / "gpu_checkpoint.pth"
    shutil.copy(keep if same_state_dict(keep, build / "gpu_checkpoint.pth") else build / "gpu_checkpoint.pth",
                staged / "gpu_checkpoint.pth")
    return staged


def normalize(nb_path):
    """Stable cell ids and no execution residue, so two builds give the same bytes."""
    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"
        if cell.cell_type == "code":
            cell.execution_count, cell.outputs = None, []
    nbformat.write(nb, nb_path)


def assign(staged, out):
    subprocess.run([sys.executable, "-m", "otter", "assign", "-v", str(staged / f"{NAME}.ipynb"), str(out)],
                   check=True, cwd=staged)


def release(out, release_dir):
    shutil.rmtree(release_dir, ignore_errors=True)
    shutil.copytree(out / "student", release_dir)
    normalize(release_dir / f"{NAME}.ipynb")


def autograder_zip(out, zip_path):
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    [built] = (out / "autograder").glob("*.zip")
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
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
    shutil.copy(Path(notebook).parent / "gpu_checkpoint.pth", work)
    nb = nbformat.read(notebook, as_version=4)
    if edit:
        edit(nb)
    nbformat.write(nb, work / f"{NAME}.ipynb")
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(work)}}).execute()
    [exported] = work.glob(f"{NAME}_*.zip")
    return exported


def samples(out, build, release_dir, samples_dir):
    """reference.zip: the solution as a student would submit it; untouched-release.zip."""
    shutil.rmtree(samples_dir, ignore_errors=True)
    samples_dir.mkdir(parents=True)
    shutil.copy(submit(out / "autograder" / f"{NAME}.ipynb", build / "reference-run"), samples_dir / "reference.zip")
    with zipfile.ZipFile(samples_dir / "untouched-release.zip", "w") as zf:
        zf.write(release_dir / f"{NAME}.ipynb", f"{NAME}.ipynb")


def main(build=REPO / "build", release_dir=RELEASE, zip_path=ZIP, samples_dir=SAMPLES):
    """Build everything; `samples_dir=None` skips running the solution notebook."""
    staged = stage(build)
    out = build / "dist"
    assign(staged, out)
    release(out, release_dir)
    autograder_zip(out, zip_path)
    print(f"release:    {release_dir}/\nautograder: {zip_path}")
    if samples_dir:
        samples(out, build, release_dir, samples_dir)
        print(f"samples:    {samples_dir}/")
