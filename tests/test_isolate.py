"""Isolation: a check that hangs or kills its interpreter costs only its own verdict, the
kernel-free cases run after the checks in the last interpreter, and a sealed file that changes
while the notebook runs is not checked."""

import sys
import textwrap

from autograder.assignment import get
from autograder.isolate import grade_files, run_checks, seal

FAKE_CHECKER = textwrap.dedent("""
    import json, os, sys, time
    args = sys.argv[1:]
    given = json.load(sys.stdin)
    for name in args[:args.index("--submitted")]:
        if name == "hang":
            time.sleep(60)
        if name == "die":
            print("Segmentation fault (simulated)", file=sys.stderr)
            os._exit(139)
        print("a stray line from a library")
        given["verdicts"][name] = {"check": name, "ok": True, "problems": [], "notes": [], "files": {}}
        print(json.dumps(given["verdicts"][name]), flush=True)
    if "--kernel-free" in args:
        if "hang" in given["tests"]:
            time.sleep(60)
        print(json.dumps({"kernel_free": {"seen": sorted(given["verdicts"])}}), flush=True)
""")


def fake(tmp_path):
    script = tmp_path / "fake_checker.py"
    script.write_text(FAKE_CHECKER)
    return (sys.executable, str(script))


def test_hang_and_crash_do_not_touch_other_checks(tmp_path):
    verdicts, outcome = run_checks(["a", "hang", "b", "die", "c"], tmp_path, tests={}, time_limit=3,
                                   checker=fake(tmp_path))
    assert [verdicts[n]["ok"] for n in "abc"] == [True, True, True]
    assert verdicts["hang"]["problems"][0]["code"] == "timeout"
    assert verdicts["die"]["problems"][0]["code"] == "checker_crashed"
    assert "Segmentation fault (simulated)" in verdicts["die"]["problems"][0]["message"]
    # the kernel-free cases ran last, with every verdict, those of earlier interpreters too
    assert outcome == ({"seen": ["a", "b", "c", "die", "hang"]}, None)


def test_kernel_free_cases_that_hang_are_reported(tmp_path):
    verdicts, outcome = run_checks(["a"], tmp_path, tests={"hang": ""}, kernel_free_limit=2, checker=fake(tmp_path))
    assert verdicts["a"]["ok"] and outcome == (None, "ran past 2 s")


def test_real_checker_on_an_empty_submission(tmp_path):
    verdicts, outcome = run_checks(["saved_model", "crash"], tmp_path)
    assert {n: [p["code"] for p in v["problems"]] for n, v in verdicts.items()} == {
        "saved_model": ["missing"], "crash": ["missing"]}
    assert outcome == (None, None)


def test_unknown_check_is_reported(tmp_path):
    [verdict] = run_checks(["no_such_check"], tmp_path)[0].values()
    assert verdict["problems"][0]["code"] == "checker_crashed"


def test_a_sealed_file_changed_while_the_notebook_ran_is_not_checked(tmp_path):
    assignment = get()
    folder, private = tmp_path / "submission", tmp_path / "private"
    private.mkdir()
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "epoch_5.pth").write_bytes(b"not a checkpoint")
    sealed = seal(assignment, folder, private)
    assert not (folder / "checkpoints").exists() and sealed["checkpoints/epoch_5.pth"] is not None
    (private / "checkpoints" / "epoch_5.pth").write_bytes(b"rewritten by the notebook")
    (private / "checkpoints" / "best.pth").write_bytes(b"planted by the notebook")
    verdicts, _, flags = grade_files(assignment, private, sealed, None, folder)
    assert flags == [f"{path} was sealed before the notebook ran and changed while it ran"
                     for path in ("checkpoints/epoch_5.pth", "checkpoints/best.pth")]
    codes = {n: [p["code"] for p in v["problems"]] for n, v in verdicts.items()}
    assert codes["periodic"] == ["changed"] and codes["best"] == ["changed"]
    assert codes["saved_model"] == ["missing"]  # unchanged (never submitted): checked as usual
    assert "checkpoints/epoch_5.pth was changed or removed" in verdicts["periodic"]["problems"][0]["message"]
