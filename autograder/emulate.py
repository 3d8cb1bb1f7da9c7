"""Gradescope's harness, emulated: the autograder zip and a student's upload laid out as
Gradescope lays them out, and the zip's own entry point run on them.

    python -m autograder gradescope UPLOAD [--zip ZIP] [--as-zip-file]

Gradescope unpacks the autograder zip into /autograder/source, puts the upload into
/autograder/submission (an uploaded zip unpacked; files uploaded one by one flat), writes
/autograder/submission_metadata.json, runs /autograder/source/run_autograder, and reads
/autograder/results/results.json. `run_in_private_autograder` does exactly that at the real
path /autograder, in a mount namespace of its own (as root: `unshare -m` and a bind mount of a
temporary folder), with the image's mamba activation replaced by this Python, so nothing on the
machine changes. The bulk grader uses `lay_out` on a temporary folder instead (any user).
Not emulated: setup.sh (its downloads build the image), the CPU-only wheels, and Gradescope's
own limits (memory, CPU, the overall timeout).
"""

import contextlib
import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .assignment import get


def assignment_of(autograder):
    """The Assignment an autograder zip grades (its otter_config.json names it)."""
    with zipfile.ZipFile(autograder) as zf:
        return get(json.loads(zf.read("otter_config.json"))["assignment_name"])


def metadata(assignment):
    """submission_metadata.json as Gradescope writes it, with what otter reads."""
    return {"id": 1, "created_at": "2026-01-01T00:00:00.000000-08:00", "submission_method": "upload",
            "assignment": {"title": assignment.title, "due_date": "2026-12-31T23:59:00.000000-08:00",
                           "total_points": f"{sum(assignment.questions.values()):.1f}"},
            "users": [{"email": "student@example.com", "id": 1, "name": "Student"}], "previous_submissions": []}


def lay_out(root, autograder, upload, as_zip_file=False):
    """Gradescope's folders under `root`. `upload` is the export zip (unpacked, as Gradescope
    does, unless `as_zip_file`), a folder (its files arrive flat, as files dragged in one by one
    do), or a single file."""
    root, upload = Path(root), Path(upload)
    for sub in ("source", "submission", "results"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)
    if upload.is_dir():
        for f in (p for p in upload.rglob("*") if p.is_file()):
            shutil.copy(f, root / "submission" / f.name)
    elif upload.suffix == ".zip" and not as_zip_file:
        try:
            with zipfile.ZipFile(upload) as zf:
                zf.extractall(root / "submission")
        except zipfile.BadZipFile:  # Gradescope keeps an upload it cannot unpack as it is
            shutil.copy(upload, root / "submission")
    else:
        shutil.copy(upload, root / "submission")
    (root / "submission_metadata.json").write_text(json.dumps(metadata(assignment_of(autograder))))
    return root


def run_in_private_autograder(upload, autograder=None, as_zip_file=False, timeout=900):
    """(results.json, stdout) of grading `upload` as Gradescope does, at /autograder in a private
    mount namespace: the zip's own run_autograder, with `sys.executable`'s environment for the
    image's. `autograder` defaults to the built zip of the default assignment."""
    autograder = autograder or get().zip
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # as Gradescope's /autograder: the kernel's user passes through it
        lay_out(tmp, autograder, upload, as_zip_file)
        script = Path(tmp, "source", "run_autograder")
        lines = script.read_text().splitlines()
        env_lines = [line for line in lines if "mamba" in line or "miniforge3" in line]
        kept = [line for line in lines if line not in env_lines]
        path = f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH"
        script.write_text("\n".join([kept[0], path, *kept[1:]]) + "\n")
        with mount_point():
            run = subprocess.run(["unshare", "-m", "sh", "-c", "mount --make-rprivate / && mount --bind \"$0\" "
                                  "/autograder && cd /autograder && ./source/run_autograder", tmp],
                                 timeout=timeout, capture_output=True, text=True,
                                 env=grading_environment(autograder))
        if not Path(tmp, "results", "results.json").exists():
            raise RuntimeError(f"run_autograder wrote no results (exit {run.returncode}): {run.stderr[-2000:]}")
        return json.loads(Path(tmp, "results", "results.json").read_text()), run.stdout


MOUNT_POINT = Path("/autograder")


@contextlib.contextmanager
def mount_point():
    """/autograder exists while any emulation on this machine runs, in any process, and not after
    if an emulation made it: removing it while another run's namespace mounts on it unmounts that
    run (CI lost a grading so when each process counted only its own runs). Each run holds a
    shared lock on the folder; the run that ends alone gets the exclusive lock and removes it."""
    made_here = MOUNT_POINT / ".made-by-an-emulation"  # under the mounts, seen only outside them
    while True:
        try:
            MOUNT_POINT.mkdir()
            made_here.touch()
        except FileExistsError:
            pass
        held = os.open(MOUNT_POINT, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(held, fcntl.LOCK_SH)
        try:
            if os.path.samestat(os.fstat(held), os.stat(MOUNT_POINT)):
                break  # not removed by a run that ended before this one's lock
        except FileNotFoundError:
            pass
        os.close(held)
    try:
        yield
    finally:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if made_here.exists():
                made_here.unlink()
                MOUNT_POINT.rmdir()
        except BlockingIOError:
            pass  # another run holds it: the last one removes it
        finally:
            os.close(held)


def grading_environment(autograder):
    """This process's environment without what would let a grading run use local code or data
    instead of the zip's: PYTHONPATH and the assignment's data variable."""
    unset = {"PYTHONPATH", assignment_of(autograder).data_env}
    return {k: v for k, v in os.environ.items() if k not in unset}


def main(upload, autograder=None, as_zip_file=False):
    if os.geteuid() != 0:
        print("python -m autograder gradescope needs root: it mounts a private /autograder (unshare -m). "
              "As any user, `python -m autograder grade UPLOAD` grades with the same zip and harness.", file=sys.stderr)
        return 2
    results, _ = run_in_private_autograder(upload, autograder, as_zip_file)
    for test in results["tests"]:
        score = f"{test['score']:g} / {test['max_score']:g}" if "max_score" in test else ""
        print(f"{test['name']:30} {score:>10}  {test.get('visibility', '')}")
    print(f"output_format: {results.get('output_format', 'text')}")
    return 0
