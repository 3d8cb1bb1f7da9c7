"""Arrange a submission the way the export cell lays it out, however it was uploaded.

Gradescope puts what a student uploads into the submission folder: the export zip unpacked;
the notebook and the .pth files dragged in one by one (flat, no checkpoints/ folder); a zip of
the whole working folder (everything one folder down); or, on some platforms, the uploaded zip
itself. This finds the notebook and each contract file by name and leaves exactly

    <name>.ipynb
    checkpoints/<each contract file found>

in the folder, as the assignment's contract names them. Everything else moves to ../ignored/
(kept, never graded) and is named in the notes; files the grader provides itself (`keep`) are left
alone. Imports no torch.
"""

import shutil
import stat
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import COPY_IGNORE


JUNK = ("__MACOSX", ".ipynb_checkpoints", "__pycache__", ".DS_Store", ".OTTER_LOG", "__zip_filename__")


class SubmissionError(Exception):
    """The upload cannot be graded at all; the message tells the student what to upload."""


@dataclass
class Arranged:
    notebook: str  # where the notebook was in the upload (it is graded under the assignment's name)
    found: dict = field(default_factory=dict)  # contract path -> where it was in the upload
    notes: list = field(default_factory=list)


def arrange(folder, assignment, keep=()):
    """Lay out `folder` as the export cell does.

    Args:
        folder: the submission folder, as the platform filled it.
        assignment: the Assignment whose notebook and contract files to look for.
        keep: top-level names in `folder` the grader put there itself.

    Returns:
        Arranged: where each file was found, and notes for the student.

    Raises:
        SubmissionError: there is no notebook, or more than one.
    """
    folder, notebook_name = Path(folder), assignment.notebook
    ignored = folder.parent / "ignored"
    notes = [*_unpack_zips(folder, ignored, assignment)]  # a zip not unpacked is why a notebook is missing, if one is
    files = [p for p in _walk(folder, keep) if not set(p.relative_to(folder).parts) & set(JUNK)]
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    if not notebooks:
        raise SubmissionError(" ".join([*notes, f"No notebook in the submission: upload {notebook_name} with your "
                                        "checkpoint files (the zip the notebook's last cell writes has both)."]))
    if len(notebooks) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in notebooks)
        raise SubmissionError(f"{len(notebooks)} notebooks in the submission ({names}): upload only {notebook_name}, "
                              "with your checkpoint files.")
    [notebook] = notebooks
    base = notebook.parent
    placed = {folder / notebook_name: notebook}  # the notebook's setup cell reads itself by this name
    found = {}
    for rel in (f.path for f in assignment.contract):
        source = _find(rel, files, base)
        if source is not None:
            placed[folder / rel] = source
            found[rel] = str(source.relative_to(folder))
            same_name = [p for p in files if p.name == source.name]
            if len(same_name) > 1:
                notes.append(f"{len(same_name)} files are named {source.name}; graded {found[rel]}.")
    staged = folder.parent / "arranging"
    shutil.rmtree(staged, ignore_errors=True)
    for target, source in placed.items():  # out of the way first: a target may be another's source
        (staged / target.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, staged / target.relative_to(folder))
    leftovers = [p for p in _walk(folder, keep)]
    for p in leftovers:
        dest = ignored / p.relative_to(folder)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(p, dest)
    _prune_empty(folder, keep)
    shutil.copytree(staged, folder, dirs_exist_ok=True)
    shutil.rmtree(staged)
    named = [p.relative_to(base if base in p.parents else folder) for p in leftovers
             if not set(p.relative_to(folder).parts) & set(JUNK)]
    if named:
        notes.append("Not graded (not part of the submission): " + _summarize(named) + ".")
    return Arranged(str(notebook.relative_to(folder)), found, notes)


def _walk(folder, keep):
    """Every file under `folder`, except what the grader put there itself."""
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if rel.parts[0] not in keep and (p.is_file() or p.is_symlink()):
            yield p


def _find(rel, files, base):
    """The upload's file for contract path `rel`: at its place beside the notebook, else the one
    by that name in a checkpoints/ folder, else the shallowest by that name."""
    name = PurePosixPath(rel).name
    candidates = [p for p in files if p.name == name and not p.is_symlink()]
    if not candidates:
        return None
    exact = [p for p in candidates if p == base / rel]
    in_checkpoints = [p for p in candidates if p.parent.name == "checkpoints"]
    return (exact or in_checkpoints or sorted(candidates, key=lambda p: (len(p.parts), str(p))))[0]


def _unpack_zips(folder, ignored, assignment):
    """Unpack each zip at the top of `folder` in place (a platform may hand the upload over as a
    zip); the zip itself moves to `ignored`. Yields a note for each zip, or member, not unpacked."""
    for zpath in sorted(folder.glob("*.zip")):
        try:
            with zipfile.ZipFile(zpath) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                refused = _refused(zf, members, assignment)
                if refused:
                    yield f"{zpath.name} was not unpacked: {refused}."
                    continue
                links = [m.filename for m in members if _is_link(m) or _through_link(folder, m.filename)]
                zf.extractall(folder, [m for m in members if m.filename not in links])
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError) as e:
            # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks
            yield f"{zpath.name} was not unpacked: it could not be read ({e})."
            continue
        if links:
            yield f"Not unpacked from {zpath.name}, as links are not followed: {', '.join(links)}."
        ignored.mkdir(parents=True, exist_ok=True)
        shutil.move(zpath, ignored / zpath.name)


def _refused(zf, members, assignment):
    """Why nothing of the zip is unpacked, or None. Checked before anything is written: where and
    how much it would write, and each member's data read once (its CRC fails if it is damaged or
    longer than its header says, the header's size being what extraction writes), within the
    assignment's upload_files_limit and upload_unpacked_limit."""
    outside = [m.filename for m in members if PurePosixPath(m.filename).is_absolute()
               or ".." in PurePosixPath(m.filename).parts]
    size = sum(m.file_size for m in members)
    if outside:
        return f"it names a path outside itself ({outside[0]})"
    if len(members) > assignment.upload_files_limit:
        return f"it holds {len(members)} files, more than the {assignment.upload_files_limit} allowed"
    if size > assignment.upload_unpacked_limit:
        return f"it unpacks to {size:,} bytes, more than the {assignment.upload_unpacked_limit:,} allowed"
    damaged = zf.testzip()
    if damaged:
        return f"{damaged} in it is damaged"
    return None


def _is_link(member):
    """A symbolic link, as zip tools on Unix store one (its target is the member's data)."""
    return stat.S_ISLNK(member.external_attr >> 16)


def _through_link(folder, name):
    """Whether writing member `name` under `folder` would follow a link already there (put there
    by the platform's own unzip) to somewhere else."""
    path = folder
    for part in PurePosixPath(name).parts:
        path = path / part
        if path.is_symlink():
            return True
    return False


def _prune_empty(folder, keep):
    for d in sorted((p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()), key=lambda p: -len(p.parts)):
        if d.relative_to(folder).parts[0] not in keep and not any(d.iterdir()):
            d.rmdir()


def _summarize(paths, shown=8):
    """'data/ (2 files), model.pth': one entry per top-level folder or file."""
    tops = Counter(f"{p.parts[0]}/" if len(p.parts) > 1 else p.parts[0] for p in paths)
    items = [f"{top} ({n} files)" if top.endswith("/") and n > 1 else top for top, n in tops.items()]
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")


def remove(target):
    """Remove whatever the student left at `target`: a file, a folder, a link (not what it points to)."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()


def replace(source, target):
    """Put the grader's copy of `source` at `target`, whatever the student left there."""
    remove(target)
    if source.is_dir():
        shutil.copytree(source, target, ignore=COPY_IGNORE)
    else:
        shutil.copy(source, target)
