"""The build: reproducible, matches the committed release, and leaks nothing to students."""

import ast
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import yaml

from autograder import build
from autograder.saving_and_loading import ASSIGNMENT, DATA_ENV
from autograder.saving_and_loading.model import MNIST

import leaks

NOTEBOOK = ASSIGNMENT.notebook
SOURCE, RELEASE = build.source_of(ASSIGNMENT), build.release_of(ASSIGNMENT)
MASTER = SOURCE / NOTEBOOK
REQUIREMENTS = build.REPO / "requirements.txt"


def test_committed_release_is_what_the_build_makes(built):
    fresh = sorted(p.name for p in built["release_dir"].iterdir())
    committed = sorted(p.name for p in RELEASE.iterdir())
    assert fresh == committed
    for name in fresh:
        assert (built["release_dir"] / name).read_bytes() == (RELEASE / name).read_bytes(), (
            f"release/{ASSIGNMENT.name}/{name} differs from a fresh build: run `python -m autograder build` and commit")


def test_build_on_a_fresh_machine_is_reproducible(built, mnist_mirror, tmp_path, monkeypatch):
    """No MNIST_DATA_ROOT and no data folder, online (a local mirror): the build downloads the
    files once, verifies them and makes the same release and the same data in the zip; the
    sample run of the solution uses them too (its kernel knows no mirror but the real ones,
    which this machine cannot reach)."""
    url, requests = mnist_mirror
    monkeypatch.setattr(MNIST, "mirrors", [url])
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    again = tmp_path / "release"
    build.main(build=tmp_path / "work", release_dir=again, zip_path=tmp_path / "ag.zip", course=tmp_path / "course",
               samples_dir=tmp_path / "samples")
    assert (tmp_path / "samples" / "reference.zip").is_file()
    assert set(requests) == {"/t10k-images-idx3-ubyte.gz", "/t10k-labels-idx1-ubyte.gz"}
    asked = len(requests)
    build.main(build=tmp_path / "work", release_dir=again, zip_path=tmp_path / "ag.zip", course=tmp_path / "course",
               with_samples=False)
    assert len(requests) == asked  # the second build reads ./data
    assert (again / NOTEBOOK).read_bytes() == (built["release_dir"] / NOTEBOOK).read_bytes()
    with zipfile.ZipFile(tmp_path / "ag.zip") as fresh, zipfile.ZipFile(built["zip_path"]) as first:
        data = [n for n in first.namelist() if n.startswith("files/data/")]
        assert len(data) == 2 and all(fresh.read(n) == first.read(n) for n in data)


def test_release_has_no_solution_and_no_hidden_test(built):
    assert not leaks.leaked((built["release_dir"] / NOTEBOOK).read_text())


def test_release_keeps_public_tests_in_the_notebook(built):
    nb = nbformat.read(built["release_dir"] / NOTEBOOK, as_version=4)
    tests = nb.metadata["otter"]["tests"]
    assert set(tests) == {"check1", "check2", "map_location", "ex1_save_load", "ex2_checkpointing",
                          "ex3_resume", "ex4_early_stopping"}
    assert not (built["release_dir"] / "tests").exists()


def test_autograder_zip_carries_data_package_and_harness(built):
    with zipfile.ZipFile(built["zip_path"]) as zf:
        names = set(zf.namelist())
        run_otter = zf.read("run_otter.py").decode()
    assert {"files/data/MNIST/raw/t10k-images-idx3-ubyte.gz", "files/data/MNIST/raw/t10k-labels-idx1-ubyte.gz",
            "files/gpu_checkpoint.pth", "autograder/plugin.py", "autograder/saving_and_loading/early_stopping.py",
            "environment.yml"} <= names
    assert run_otter == build.RUN_OTTER and "from autograder.harness import main" in run_otter


def test_the_kernel_gets_only_the_modules_it_imports(built):
    """otter copies files/ beside the notebook: the grader's references (early_stopping's reference
    stopper, the reproduction check, the plugin) stay at the zip's root, out of the kernel's reach."""
    with zipfile.ZipFile(built["zip_path"]) as zf:
        given = {n.removeprefix("files/") for n in zf.namelist() if n.startswith("files/autograder/")}
    assert given == set(ASSIGNMENT.modules(graded=True))
    assert {"autograder/observe.py", "autograder/guard.py", "autograder/saving_and_loading/hidden.py"} <= given
    assert not given & {"autograder/saving_and_loading/early_stopping.py", "autograder/reproduction.py",
                        "autograder/plugin.py", "autograder/checker.py"}


def test_the_kernels_python_imports_the_grader_from_its_copy_alone(tmp_path):
    """The kernel's Python is this venv's, where `pip install -e .` made the package importable:
    from a folder holding the kernel's copy, a module the copy lacks is not fetched from here."""
    for rel, source in ASSIGNMENT.modules(graded=True).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(source.read_bytes())
    probe = ("import importlib.util as u, autograder\n"
             "print(autograder.__file__, u.find_spec('autograder.reproduction'),"
             " u.find_spec('autograder.saving_and_loading.early_stopping'))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(tmp_path / "autograder" / "__init__.py"), "None", "None"], out


def pins(text):
    """{package: version} of the `name==version` lines, local version labels (+cpu) dropped."""
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^\s+]+)", text, re.M))


def test_the_image_uses_the_python_and_the_versions_ci_tests(built):
    with zipfile.ZipFile(built["zip_path"]) as zf:
        env = yaml.safe_load(zf.read("environment.yml"))
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python == f"python={sys.version_info.major}.{sys.version_info.minor}"
    [pip] = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    image, dev = pins("\n".join(pip)), pins(REQUIREMENTS.read_text())
    assert set(image) == {"torch", "torchvision", "matplotlib", "psutil", "otter-grader"}
    assert {k: dev[k] for k in image} == image
    autograder_reqs = (SOURCE / "requirements-autograder.txt").read_text()
    assert pins(autograder_reqs) == image and "download.pytorch.org/whl/cpu" in autograder_reqs


def test_questions_and_points_are_the_masters():
    master = nbformat.read(MASTER, as_version=4)
    declared = [yaml.safe_load(c.source.removeprefix("# BEGIN QUESTION")) for c in master.cells
                if c.cell_type == "raw" and c.source.startswith("# BEGIN QUESTION")]
    assert {q["name"]: q["points"] for q in declared} == ASSIGNMENT.questions
    assert [q["name"] for q in declared] == list(ASSIGNMENT.questions)


def test_the_practice_table_gives_each_questions_public_and_hidden_points():
    """The table students read before submitting (the Practice cell) names every question with
    the points its public and hidden tests carry in the master, and the total."""
    master = nbformat.read(MASTER, as_version=4)
    split, question = {}, None
    for cell in master.cells:
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION"):
            question = yaml.safe_load(cell.source.removeprefix("# BEGIN QUESTION"))["name"]
        elif cell.cell_type == "code" and "# BEGIN TEST CONFIG" in cell.source:
            config = yaml.safe_load(cell.source.split('"""')[1].removeprefix(" # BEGIN TEST CONFIG"))
            public, hidden = split.get(question, (0, 0))
            split[question] = (public, hidden + config["points"]) if config["hidden"] else (public + config["points"], hidden)
    [practice] = [c.source for c in master.cells if c.cell_type == "markdown" and c.source.startswith("## Practice")]
    rows = re.findall(r"^\| (.+?) \| .* \| \**([\d.]+) / ([\d.]+)(?:, of (\d+))?\**\s*\|$", practice, re.M)
    table = [(label, float(public), float(hidden)) for label, public, hidden, _ in rows]
    assert table[:-1] == [(label, *split[q]) for label, q in zip(
        ["Check 1", "Check 2", "map_location", "Exercise 1", "Exercise 2", "Exercise 3", "Exercise 4"], ASSIGNMENT.questions)]
    public, hidden = map(sum, zip(*split.values()))
    assert table[-1][1:] == (public, hidden) and int(rows[-1][3]) == sum(ASSIGNMENT.questions.values()) == public + hidden


class Shell:
    """IPython's shell as the Submit cell uses it: the code it ran (In), how it transforms a cell."""

    def __init__(self, ran):
        self.user_ns = {"In": ["", *ran]}

    def transform_cell(self, source):
        return source

    def __str__(self):
        return "<ipykernel.zmqshell.ZMQInteractiveShell object>"


def run_submit_cell(built, folder, saved_cells, ran, written, monkeypatch):
    """The release's last cell, run on Jupyter in `folder` where the saved notebook holds
    `saved_cells` [(execution count, source)], the kernel ran `ran`, and the contract files
    `written` exist; the zip it wrote, if any."""
    release = nbformat.read(built["release_dir"] / NOTEBOOK, as_version=4)
    monkeypatch.chdir(folder)
    cells = [{"cell_type": "code", "execution_count": n, "source": source} for n, source in saved_cells]
    (folder / NOTEBOOK).write_text(json.dumps({"cells": cells}))
    for path in written:
        Path(path).parent.mkdir(exist_ok=True)
        Path(path).write_bytes(b"weights")
    exec(release.cells[-1].source, {"get_ipython": lambda: Shell(ran)})
    return next(folder.glob(f"{ASSIGNMENT.name}_*.zip"), None)


def test_export_cell_zips_the_saved_notebook_and_the_files_present(built, tmp_path, monkeypatch, capsys):
    """Two of the contract's files written, the saved notebook what the kernel ran (a cell never
    run is fine): the zip holds the saved notebook and those two, and the cell names the others."""
    present = [f.path for f in ASSIGNMENT.contract[:2]]
    exported = run_submit_cell(built, tmp_path, [(1, "x = 1"), (None, "never_run()"), (2, "y = x")],
                               ["x = 1", "y = x"], present, monkeypatch)
    with zipfile.ZipFile(exported) as zf:
        assert sorted(zf.namelist()) == sorted([NOTEBOOK, *present])
        assert zf.read(NOTEBOOK) == (tmp_path / NOTEBOOK).read_bytes()
    said = capsys.readouterr().out
    n = len(ASSIGNMENT.contract)
    assert f"this notebook and 2 of {n} checkpoint files (not written yet: " in said
    assert all(f.path in said for f in ASSIGNMENT.contract[2:]) and not any(p in said for p in present)


def test_export_cell_refuses_a_notebook_saved_before_the_run(built, tmp_path, monkeypatch, capsys):
    """Run all, then export without saving: the saved cells are not what the kernel ran."""
    exported = run_submit_cell(built, tmp_path, [(1, "x = 1"), (2, "lr = 0.1")], ["x = 1", "lr = 0.001"],
                               [ASSIGNMENT.contract[0].path], monkeypatch)
    said = capsys.readouterr().out
    assert exported is None and "Not zipped yet" in said
    assert "the saved notebook is not what this session ran (cell 2 (`lr = 0.1`)" in said and "Ctrl+S" in said


def test_export_cell_refuses_a_checkpoint_from_an_earlier_session(built, tmp_path, monkeypatch, capsys):
    """A file older than the kernel (here: this process) was not written by this run."""
    import psutil

    stale, fresh = ASSIGNMENT.contract[-1], ASSIGNMENT.contract[0]
    monkeypatch.chdir(tmp_path)
    Path(stale.path).parent.mkdir()
    Path(stale.path).write_bytes(b"old weights")
    before = psutil.Process().create_time() - 3600
    os.utime(stale.path, (before, before))
    exported = run_submit_cell(built, tmp_path, [(1, "x = 1")], ["x = 1"], [fresh.path], monkeypatch)
    said = capsys.readouterr().out
    assert exported is None and f"{stale.path} was written before this session started" in said
    assert stale.written_by in said and fresh.path not in said


def test_export_cell_on_colab_refuses_a_cell_changed_after_it_ran(built, tmp_path, monkeypatch, capsys):
    """On Colab the notebook comes from the browser (get_ipynb): a cell edited after it ran."""
    import types

    colab = types.ModuleType("google.colab")
    colab._message = types.SimpleNamespace(blocking_request=lambda kind, timeout_sec: {"ipynb": {"cells": [
        {"cell_type": "code", "execution_count": 1, "source": "epochs = 20"}]}})
    for name, module in {"google": types.ModuleType("google"), "google.colab": colab}.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(Shell, "__str__", lambda self: "<google.colab._shell.Shell object>")
    exported = run_submit_cell(built, tmp_path, [], ["epochs = 10"], [], monkeypatch)
    said = capsys.readouterr().out
    assert exported is None and "cell 1 (`epochs = 20`) changed after it ran" in said and "Restart session" in said


def test_otter_assign_on_the_master_stops_at_once_naming_the_build(tmp_path):
    run = subprocess.run([sys.executable, "-m", "otter", "assign", str(MASTER), str(tmp_path / "dist")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("otter assign: autograder and data are staged by the build; "
                                                          "run `python -m autograder build`")


def test_otter_run_as_otter_documents_it(built, graded, tmp_path):
    """`otter run -a ZIP -o OUT SUBMISSION` in a fresh shell: the plugin imports with nothing set."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MNIST_DATA_ROOT")}
    otter = Path(sys.executable).with_name("otter")
    subprocess.run([str(otter), "run", "-a", str(built["zip_path"]), "-o", str(tmp_path), "--no-logo",
                    str(built["samples_dir"] / "reference.zip")], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=600)
    results = json.loads((tmp_path / "results.json").read_text())
    assert {t["name"]: t["score"] for t in results["tests"] if "max_score" in t} == {
        q: s for q, (s, _) in graded["reference"].scores.items()}
    assert results["output_format"] == "html"


def _names(source):
    """(names a cell defines, names it reads)."""
    defined, read = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.alias):
            defined.add((node.asname or node.name).split(".")[0])
    return defined, read


def test_only_demonstrations_are_skipped_when_graded(built):
    """Cells tagged otter_ignore (otter does not run them when it grades) only demonstrate: none is
    a question's cell or writes a contract file, and no graded cell reads a name only they define."""
    nb = nbformat.read(built["release_dir"] / NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    skipped = [c for c in code if "otter_ignore" in c.metadata.get("tags", [])]
    assert len(skipped) == 7
    for cell in skipped:
        assert "otter_answer_cell" not in cell.metadata.get("tags", []) and "checkpoints/" not in cell.source
    graded = [_names(c.source) for c in code if c not in skipped and not c.source.lstrip().startswith("%")]
    only_skipped = set().union(*(_names(c.source)[0] for c in skipped)) - set().union(*(d for d, _ in graded))
    assert not only_skipped & set().union(*(r for _, r in graded))
