"""The student's self-check: the grader's own file checks, shipped inside the notebook.

It must run from the notebook alone (as on Colab, without the autograder zip), keep the grader's
hidden parts out, and name, for every catalogue submission, the codes the grader's feedback names
for the same files.
"""

import json
import os
import re
import subprocess
import sys
import zipfile

import nbformat
import pytest

from autograder import build, grade
from autograder.saving_and_loading import ASSIGNMENT
from autograder.saving_and_loading.messages import MESSAGES

FILE_CHECKS, NOTEBOOK = ASSIGNMENT.file_checks, ASSIGNMENT.notebook
from test_catalogue import ENTRIES

# Codes only the file checks produce (load, inspect, verify); `not_best` is left out because the
# public best-of-this-run test (live_run.py), which needs the notebook's val_history, uses it too.
FILE_ONLY = {"missing", "empty", "too_large", "not_torch_zip", "legacy_format", "corrupt", "compressed", "whole_model",
             "state_dict_method", "numpy_scalar", "payload", "unknown_global", "load_error", "not_a_dict",
             "missing_keys", "state_dict_keys", "shape_mismatch", "bad_epoch", "bad_loss", "no_optimizer_state",
             "optimizer_state", "stale_optimizer_state", "loss_mismatch", "early_stopping_state"}


def codes(text):
    return set(re.findall(r"\[(\w+)\]", text)) & set(MESSAGES)


@pytest.fixture(scope="module")
def shipped(built, tmp_path_factory):
    """The modules the release notebook carries, written out as its setup cell writes them."""
    root = tmp_path_factory.mktemp("shipped")
    files = nbformat.read(built["release_dir"] / NOTEBOOK, as_version=4).metadata["autograder"]["files"]
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_the_notebook_ships_the_file_checks_and_not_the_hidden_rules(shipped):
    assert sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*.py")) == sorted(build.shipped_files(ASSIGNMENT))
    assert not {"resume", "early_stopping", "hidden", "checks", "plugin", "reproduction"} & {p.stem for p in shipped.rglob("*.py")}


def test_the_shipped_self_check_runs_alone_on_the_reference(shipped, built, tmp_path):
    with zipfile.ZipFile(built["samples_dir"] / "reference.zip") as zf:
        zf.extractall(tmp_path)
    run = run_shipped(shipped, "import sys\nfrom autograder import selfcheck\n"
                      "sys.exit(0 if selfcheck.report('saving-and-loading') else 1)", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("- OK") == len(FILE_CHECKS)


def test_the_shipped_tests_of_the_run_and_expected_values_run_alone(shipped, built, tmp_path):
    """live_run (public tests of the notebook's objects) and expected (a correct run's numbers)
    run with the shipped modules only: on the reference's best.pth, a val_history whose lowest is
    that file's passes and one whose lowest is elsewhere fails with `not_best`; wrong values are
    told apart from right ones."""
    with zipfile.ZipFile(built["samples_dir"] / "reference.zip") as zf:
        zf.extractall(tmp_path)
    script = """
import torch
from autograder.saving_and_loading import expected, live_run
best = torch.load("checkpoints/best.pth", weights_only=True)
history = [1.0] * 10
history[best["epoch"] - 1] = best["val_loss"]
live_run.require_best_of(history)
print("right history passes")
expected.ex2([0.22, 0.16, 0.14, 0.11, 0.11, 0.1, 0.1, 0.1, 0.09, 0.1])
expected.ex2([0.3] * 10)
expected.ex3([0.1] * 10, [0.12] * 10)
expected.ex4(None)
expected.ex1(False)
history[best["epoch"] - 1], history[0] = 1.0, best["val_loss"] / 2
live_run.require_best_of(history)
"""
    run = run_shipped(shipped, script, tmp_path)
    said = run.stdout
    assert "right history passes" in said and said.count(": as expected.") == 1, said + run.stderr
    assert said.count("differs from a correct run") == 4, said
    assert run.returncode == 1 and "[not_best]" in run.stderr.splitlines()[-1], run.stderr


def run_shipped(shipped, script, cwd):
    """Run `script` with the modules the notebook ships and no other copy of autograder (-P: not
    the working directory's either); returns its completed process."""
    script = (f"import autograder\nassert autograder.__file__.startswith({str(shipped)!r}), autograder.__file__\n"
              + script)
    env = {**os.environ, "PYTHONPATH": str(shipped)}
    return subprocess.run([sys.executable, "-P", "-c", script], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def shipped_codes(shipped, catalogue, tmp_path_factory):
    """{entry: the codes the shipped self-check names} for every catalogue submission made, each
    unpacked as the student's folder, all in one interpreter."""
    folder, graded = catalogue
    root = tmp_path_factory.mktemp("selfcheck")
    for name in graded:
        with zipfile.ZipFile(folder / f"{name}.zip") as zf:
            zf.extractall(root / name)
    script = ("import json, pathlib\nfrom autograder.selfcheck import verdicts\n"
              "print(json.dumps({d.name: sorted({p.code for v in verdicts('saving-and-loading', folder=d) for p in v.problems})"
              " for d in pathlib.Path('.').iterdir()}))")
    run = run_shipped(shipped, script, root)
    assert run.returncode == 0, run.stdout + run.stderr
    return {name: set(found) for name, found in json.loads(run.stdout.splitlines()[-1]).items()}


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_the_self_check_names_what_the_grader_names(catalogue, shipped_codes, name):
    """On the files a catalogue submission sends, every code the shipped self-check reports is one
    the grader's feedback names, and every file-only code the feedback names the self-check reports."""
    feedback = codes(grade.feedback(catalogue[1][name]))
    mine = shipped_codes[name]
    assert mine <= feedback, f"the self-check says {sorted(mine - feedback)}, the grader does not"
    assert feedback & FILE_ONLY <= mine, f"the grader says {sorted(feedback & FILE_ONLY - mine)}, the self-check does not"
