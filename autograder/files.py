"""The contract's files of one folder, as a lesson's file checks read them: each loaded once,
safely (load.load, within the assignment's limits), and fingerprinted by the lesson, so that the
grader can compare the notebook's re-run with what was submitted (reproduction.py)."""

from pathlib import Path

from . import load
from .codes import problem


class Files:
    """The contract's files under `folder`, loaded on `device` when a check first reads them."""

    def __init__(self, assignment, folder, device="cpu"):
        self.assignment, self.folder, self.device = assignment, Path(folder), device
        self.fingerprints = {}  # path -> what a re-run must reproduce (the lesson's fingerprint)
        self._loaded = {}

    def get(self, rel):
        """(object or None, problems) for the contract file at `rel`."""
        if rel not in self._loaded:
            path, a = self.folder / rel, self.assignment
            if not path.is_file():
                written_by = next(f.written_by for f in a.contract if f.path == rel)
                self._loaded[rel] = None, [problem("missing", name=rel, remedy=f"run {written_by}, then export again")]
            else:
                obj, refused = load.load(path, self.device, name=rel, limits=a.checkpoint_limits)
                if refused is None:
                    self.fingerprints[rel] = a.lesson.fingerprint(obj, load.saved_on(path))
                self._loaded[rel] = obj, [refused] if refused else []
        return self._loaded[rel]
