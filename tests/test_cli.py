"""The TA command: python -m autograder inspect PATH ..."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crafted import CANARY, write_all


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("crafted"))


REPO = Path(__file__).resolve().parent.parent


def inspect(*paths, cwd=None):
    out = subprocess.run([sys.executable, "-m", "autograder", "inspect", *map(str, paths)],
                         capture_output=True, text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)})
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


def test_all_ok_exits_0(files):
    code, reports = inspect(files["state_dict"], files["checkpoint"], files["gpu_tagged"])
    assert code == 0
    assert [(r["ok"], r["kind"]) for r in reports] == [(True, "state_dict"), (True, "checkpoint"), (True, "state_dict")]


def test_problems_exit_1_and_never_run_code(files, tmp_path):
    code, reports = inspect(files["payload"], files["whole_model"], files["weights_only_checkpoint"],
                            files["nan_loss"], tmp_path / "absent.pth", cwd=tmp_path)
    assert code == 1
    assert [r["problems"][0]["code"] for r in reports] == ["payload", "whole_model", "no_optimizer_state",
                                                            "bad_loss", "missing"]
    assert all(set(r) >= {"path", "ok", "kind", "problems"} for r in reports)
    assert not (tmp_path / CANARY).exists()


def test_usage_error_exits_2():
    assert subprocess.run([sys.executable, "-m", "autograder", "inspect"], capture_output=True).returncode == 2
