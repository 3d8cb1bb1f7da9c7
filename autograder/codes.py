"""Problem codes: what the grader can find, the message a student reads, and what one check found.

The codes are the stable interface (docs/maintainers.md, `python -m autograder inspect`); the wording may
improve. Here are the shared core's codes (loading a file safely, running a check, reproducing a
file); a lesson adds its own in its messages module (saving_and_loading/messages.py) and makes
its problems with `problems_from(its messages)`.
"""

from dataclasses import asdict, dataclass, field

CORE_MESSAGES = {
    "missing": "{name} is missing: {remedy}.",
    "empty": "{name} is empty (0 bytes): the save was interrupted or the file was created by hand.",
    "too_large": "{name} is {size:,} bytes, over the {cap:,}-byte limit: save state_dicts and numbers, "
    "not data sets or whole objects.",
    "not_torch_zip": "{name} is not a file written by torch.save (it is not a zip archive).",
    "legacy_format": "{name} uses torch's legacy (pre-1.6) format; save it with a current "
    "torch.save.",
    "corrupt": "{name} is damaged ({detail}); save it again.",
    "compressed": "{name} contains compressed entries, which torch.save never writes; save it "
    "again with torch.save.",
    "whole_model": "{name} holds a pickled model object ({detail}), not a state_dict. "
    "torch.save(model) stores a reference to your class's module and name, so the file breaks "
    "when the code moves, and weights_only=True refuses it. Save model.state_dict() instead.",
    "state_dict_method": "{name} holds the method model.state_dict, not its result: you wrote "
    "model.state_dict without the parentheses. Save model.state_dict().",
    "numpy_scalar": "{name} stores a NumPy number ({detail}); weights_only=True refuses NumPy "
    "objects. Store plain Python numbers: loss.item().",
    "payload": "{name} tries to call {detail} when loaded. The grader never runs code from a file.",
    "unknown_global": "{name} contains a {detail} object, which weights_only=True refuses. A "
    "checkpoint holds only tensors, dicts, lists and plain numbers.",
    "load_error": "{name} could not be loaded with torch.load(weights_only=True): {detail}",
    "not_a_dict": "{name} holds a {detail}, not a dictionary.",
    "not_reproduced": "{name}: re-running your notebook does not produce the file you submitted "
    "({detail}). Restart the kernel, run all cells once, then export, so the files come from the "
    "notebook you submit.",
    "changed": "{name} was changed or removed while your notebook ran for grading, so the grader "
    "cannot check the file you submitted. A notebook writes only inside its own folder.",
    "timeout": "The check of {name} ran longer than {seconds} s and was stopped.",
    "checker_crashed": "The checker stopped unexpectedly: {detail}",
}


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


def problems_from(messages):
    """problem(code, **details): a Problem with its student-facing message filled in from `messages`."""

    def problem(code, **details):
        return Problem(code, messages[code].format(**details))

    return problem


problem = problems_from(CORE_MESSAGES)


@dataclass
class Found:
    """What a check found: problems (they cost points), notes (hints that cost nothing) and the
    numbers for the feedback's picture, when the check has some."""

    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    plot: dict = field(default_factory=dict)

    def __add__(self, other):
        return Found(self.problems + other.problems, self.notes + other.notes, {**self.plot, **other.plot})

    @property
    def ok(self):
        return not self.problems


@dataclass
class Verdict:
    """The outcome of one check: ok when no problem was found."""

    check: str
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # hints that cost nothing
    files: dict = field(default_factory=dict)  # path -> fingerprint of each file that loaded
    plot: dict = field(default_factory=dict)  # numbers for the feedback's picture, if the check has some

    @classmethod
    def of(cls, check, found, files=None):
        """The verdict of `check` from what it Found; `files`: the fingerprints of the files it loaded."""
        return cls(check, found.problems, found.notes, files or {}, found.plot)

    @property
    def ok(self):
        return not self.problems

    def to_dict(self):
        return {"check": self.check, "ok": self.ok, "notes": self.notes, "files": self.files,
                "plot": self.plot, "problems": [asdict(p) for p in self.problems]}

    @classmethod
    def from_dict(cls, d):
        return cls(d["check"], [Problem(**p) for p in d["problems"]], d.get("notes", []), d.get("files", {}),
                   d.get("plot", {}))

    def render(self):
        """The text a student sees for this check."""
        lines = [f"- {p.message} [{p.code}]" for p in self.problems]
        lines += [f"- Hint: {n}" for n in self.notes]
        return "\n".join(lines) or "- OK"

    def assert_ok(self):
        """A test's verdict: AssertionError with what the student sees when a problem was found."""
        assert_ok([self])


def assert_ok(verdicts):
    """A test's verdict on several checks: AssertionError with each failed check's text (its
    problems, then its hints), one check after the other."""
    failed = [v for v in verdicts if not v.ok]
    assert not failed, "\n" + "\n".join(v.render() for v in failed)
