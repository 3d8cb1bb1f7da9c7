"""The Submit cell, in the student's kernel: zip the notebook and the checkpoint files its
exercises wrote, on Jupyter, JupyterLab, VS Code or Colab (where otter's Notebook.export refuses to
run), unless the zip would hold stale work.

Two ways a student loses points without knowing it, both refused with what to do instead:
- the notebook as saved is not what this session ran (run all, then forgot to save; or a cell
  edited after it ran): each saved code cell with an execution count must hold the code this
  kernel ran under that count (IPython's `In`), or the grader's re-run differs from the files;
- a checkpoint file older than this kernel: left by an earlier session, not rewritten by this one.
Cells never run and files never written are not refused: an unfinished exercise costs its own
points only. Standard library only (it ships in the student notebook); psutil, when present (it
comes with ipykernel), tells when the kernel started.
"""

import datetime
import json
import os
import zipfile
from pathlib import Path

SHOWN = 3  # cells named in a refusal; the rest are counted


def export(name, notebook_name, written_by, shell):
    """Write <name>_<time>.zip (the notebook and the files of `written_by`, {path: the cell that
    writes it}) and say so, or say why not. `shell` is IPython's (get_ipython())."""
    on_colab = "google.colab" in str(shell)
    if on_colab:  # Colab keeps the notebook off disk: ask Colab for it
        from google.colab import _message
        notebook = json.dumps(_message.blocking_request("get_ipynb", timeout_sec=120)["ipynb"])
    else:  # the saved file; VS Code and JupyterLab say which one it is
        saved = Path(shell.user_ns.get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME") or notebook_name)
        if not saved.name or not Path(saved.name).is_file():
            print(f"Could not find {saved.name} in {Path.cwd()}: save the notebook (Ctrl+S / Cmd+S), then run this "
                  "cell again.")
            return None
        notebook = Path(saved.name).read_text()
    present = [f for f in written_by if Path(f).is_file()]
    refusals = _not_what_ran(notebook, shell, on_colab) + _older_than_this_session(present, written_by)
    if refusals:
        print("Not zipped yet, so that you do not upload stale work:\n" + "\n".join(f"- {r}" for r in refusals))
        return None
    zip_name = f"{name}_{datetime.datetime.now():%Y_%m_%dT%H_%M_%S}.zip"
    with zipfile.ZipFile(zip_name, "w") as zf:
        zf.writestr(notebook_name, notebook)
        for f in present:
            zf.write(f)
    missing = [f for f in written_by if f not in present]
    print(f"Wrote {zip_name}: this notebook and {len(present)} of {len(written_by)} checkpoint files"
          + (f" (not written yet: {', '.join(missing)})" if missing else "") + ". Upload this zip to Gradescope.")
    if on_colab:
        from google.colab import files
        files.download(zip_name)
        print(f"If no download started (a browser may block it), open the Files pane (the folder icon on the left), "
              f"find {zip_name}, and choose Download from its menu.")
    return zip_name


def _not_what_ran(notebook, shell, on_colab):
    """The notebook's code cells whose code is not what this kernel ran under their execution count."""
    ran = shell.user_ns.get("In", [])
    changed = []
    for number, cell in enumerate(json.loads(notebook).get("cells", []), start=1):
        count, source = cell.get("execution_count"), "".join(cell.get("source", ""))
        if cell.get("cell_type") != "code" or not count or not source.strip():
            continue
        try:
            same = count < len(ran) and shell.transform_cell(source).strip() == ran[count].strip()
        except Exception:  # a cell IPython cannot transform: it cannot have run as it is
            same = False
        if not same:
            changed.append(f"cell {number} (`{source.strip().splitlines()[0][:60]}`)")
    if not changed:
        return []
    cells = ", ".join(changed[:SHOWN]) + (f" and {len(changed) - SHOWN} more" if len(changed) > SHOWN else "")
    if on_colab:
        return [f"{cells} changed after it ran. Run the changed cells again (or Runtime → Restart session and "
                "run all), then run this cell."]
    return [f"the saved notebook is not what this session ran ({cells}: edited after it ran, or saved by an earlier "
            "session). Save the notebook (Ctrl+S / Cmd+S) after running all cells, then run this cell again."]


def _older_than_this_session(present, written_by):
    """The files written before this kernel started: an earlier session's, not this run's."""
    try:
        import psutil
        started = psutil.Process().create_time()
    except Exception:  # no psutil: nothing to compare with
        return []
    return [f"{f} was written before this session started, so it may not match your code now: run "
            f"{written_by[f]} (or restart and run all), then run this cell again."
            for f in present if os.stat(f).st_mtime < started]
