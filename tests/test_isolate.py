"""Isolation: a check that hangs or kills its interpreter costs only its own verdict."""

import sys
import textwrap

from autograder.isolate import run_checks

FAKE_CHECKER = textwrap.dedent("""
    import json, os, sys, time
    for name in sys.argv[1:sys.argv.index("--submitted")]:
        if name == "hang":
            time.sleep(60)
        if name == "die":
            print("Segmentation fault (simulated)", file=sys.stderr)
            os._exit(139)
        print("a stray line from a library")
        print(json.dumps({"check": name, "ok": True, "problems": [], "notes": [], "files": {}}), flush=True)
""")


def test_hang_and_crash_do_not_touch_other_checks(tmp_path):
    script = tmp_path / "fake_checker.py"
    script.write_text(FAKE_CHECKER)
    verdicts = run_checks(["a", "hang", "b", "die", "c"], tmp_path, time_limit=3,
                          checker=(sys.executable, str(script)))
    assert [verdicts[n]["ok"] for n in "abc"] == [True, True, True]
    assert verdicts["hang"]["problems"][0]["code"] == "timeout"
    assert verdicts["die"]["problems"][0]["code"] == "checker_crashed"
    assert "Segmentation fault (simulated)" in verdicts["die"]["problems"][0]["message"]


def test_real_checker_on_an_empty_submission(tmp_path):
    verdicts = run_checks(["saved_model", "crash"], tmp_path)
    assert {n: [p["code"] for p in v["problems"]] for n, v in verdicts.items()} == {
        "saved_model": ["missing"], "crash": ["missing"]}


def test_unknown_check_is_reported(tmp_path):
    [verdict] = run_checks(["no_such_check"], tmp_path).values()
    assert verdict["problems"][0]["code"] == "checker_crashed"
