"""The lesson interface: what a lesson package gives the shared core beside its declaration
(assignment.Assignment). The core calls only these methods; it never imports a lesson's modules
by name.

A lesson package, autograder/<package>/, declares in its __init__ an `Assignment`, ASSIGNMENT, and
an instance of its `Lesson` subclass, LESSON. The __init__ imports no torch (otter's process, the
harness and the bulk grader read the declaration and pay nothing for it), so each method imports
the lesson's torch-heavy modules when it is called.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .codes import Found

if TYPE_CHECKING:  # files.py loads with torch, which the declaration never imports
    from .files import Files

Check = Callable[["Files"], Found]


class Lesson(ABC):
    """What a lesson provides the core: its file checks (the grader's and the student's), a file's
    fingerprint, its messages, the TA's view of a file, the feedback's picture and its build step."""

    @abstractmethod
    def file_checks(self) -> Mapping[str, Check]:
        """{file check name: check}, the grader's, for every check the contract names. The checker
        (checker.py) runs them on the submitted files as sealed before the notebook ran, in the
        grader's own interpreter; a check returns what it Found, its figures for the feedback's
        picture included."""

    @abstractmethod
    def self_checks(self) -> Mapping[str, Check]:
        """The same checks as a student runs them (selfcheck.py, shipped in the notebook): the
        grader's rules, codes and messages, without what only the grader runs."""

    @abstractmethod
    def fingerprint(self, obj: Any, saved_on: list[str]) -> dict:
        """What a re-run must reproduce of a loaded file (reproduction.py says what the entries
        mean), with `saved_on`, the device types its tensors were saved from."""

    @abstractmethod
    def messages(self) -> Mapping[str, str]:
        """{problem code: message template}, the core's and the lesson's: what a student reads for
        each code, naming the lesson idea that was missed."""

    @abstractmethod
    def describe(self, path: Path) -> dict[str, Any]:
        """The TA's view of one file (python -m autograder inspect): JSON-ready, with "ok"."""

    @abstractmethod
    def feedback_picture(self, verdicts: dict) -> Any:
        """The matplotlib Figure at the top of a student's feedback, from the file checks'
        verdicts (dicts), or None."""

    def probes(self, seed: int) -> Mapping[str, tuple[str, Any]]:
        """{observed variable: (module, inputs)} for the variables observed by what they do rather
        than what they hold (a class): in the kernel, the observation records
        module.probe(variable, inputs), plain data; in the grader, the tests get
        module.observed(that data, inputs). The inputs (plain data) are drawn from `seed`, chosen
        for each grading, so a notebook cannot know them before it runs."""
        return {}

    @abstractmethod
    def stage(self, staged: Path, build_dir: Path, committed: Path) -> list[Path]:
        """Build step: put what only this lesson's autograder gets beside the staged master (its
        autograder_files), and return the files the release, the zip's files/ and the nbgrader
        course get. `committed` is the release folder in the repository."""
