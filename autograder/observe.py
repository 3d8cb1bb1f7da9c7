"""Observe in the kernel, judge in the grader: the notebook's plain variables, recorded where the
tests need them and read back by the grader's own interpreter.

otter runs each question's tests in the kernel that has just run the student's code, so a verdict
computed there can be forged by that code. A test case whose parameters are all observed variables
of the assignment (Assignment.observed_variables: numbers, strings, lists of them, or an exception
caught) is judged in the grader's interpreter instead: a cell the grader puts into the notebook just before the question's
tests (observation_cell) writes those variables' values as JSON, and the grader runs the case on
them (integrity.run_in_grader). The kernel is trusted with values only, the same values its
variables hold; what they must be is decided where no student code runs.

`record` runs in the kernel (imports nothing of the notebook's); `read` in the grader's
interpreter: it follows no link, reads at most OBSERVATION_BYTES a file and keeps only plain values.
"""

import builtins
import json
import os
import stat
from pathlib import Path

FOLDER = ".observed"  # in the notebook's folder, where the kernel may write; removed before the run (arrange, nbgrader's SealSubmittedFiles)
OBSERVATION_BYTES = 256 * 1024  # one question's observations: a few histories of floats
MAX_ITEMS = 10_000  # elements of one list
MAX_CHARS = 10_000  # characters of one string


class NotObserved:
    """Stands for a variable the grader could not observe as plain data: the test then fails with
    its own message, as it would on a wrong value."""

    def __init__(self, why):
        self.why = why

    def __repr__(self):
        return f"<not observed: {self.why}>"


def plain(value, depth=0):
    """`value` as JSON-ready plain data, or a NotObserved: None, bool, int, float, str, and lists
    (from lists or tuples) of them; a number of a library (NumPy, torch) inside a list becomes a
    float or int, as the tests compare it."""
    if value is None or type(value) in (bool, int, str) or isinstance(value, float):
        return value if not isinstance(value, str) or len(value) <= MAX_CHARS else NotObserved("a string too long")
    if type(value) in (list, tuple) and depth < 3:  # not a subclass: nothing of the student's runs here
        if len(value) > MAX_ITEMS:
            return NotObserved(f"a {type(value).__name__} of {len(value)} items")
        items = [plain(_number(v), depth + 1) for v in value]
        bad = next((v for v in items if isinstance(v, NotObserved)), None)
        return bad or items
    return NotObserved(f"a {type(value).__module__}.{type(value).__qualname__}")


def _number(value):
    """A library's scalar (a NumPy number, a one-element tensor) as the Python number it holds."""
    if type(value).__module__.split(".")[0] in ("numpy", "torch") and hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, RuntimeError):  # more than one element
            return value
    return value


def exception(value):
    """An exception as plain data: its class's name, the built-in classes it derives from (most
    derived first) and its message."""
    return {"type": type(value).__name__[:200], "message": str(value)[:MAX_CHARS],
            "builtins": [c.__name__ for c in type(value).__mro__ if c.__module__ == "builtins"]}


def as_exception(seen):
    """In the grader: an exception that answers isinstance, type().__name__ and str() as the
    observed one did, or a NotObserved."""
    classes, name, message = seen.get("builtins"), seen.get("type"), seen.get("message")
    base = next((getattr(builtins, n, None) for n in classes if isinstance(n, str)), None) if type(classes) is list else None
    if not (isinstance(base, type) and issubclass(base, BaseException) and isinstance(name, str)
            and isinstance(message, str)):
        return NotObserved("an exception that could not be read")
    try:  # some built-in exceptions take other arguments (UnicodeDecodeError, ExceptionGroup)
        return type(name, (base,), {"__str__": lambda self: message, "__init__": lambda self, *args: None})()
    except Exception:
        return NotObserved(f"a {name} that could not be rebuilt")


def record(key, names, namespace, folder=FOLDER):
    """In the kernel: write folder/<key>.json, {name: {"value": plain value} or {"exception": ...}
    or {"not observed": why}} for each of `names` in `namespace` (the notebook's globals). Never
    raises: a failure to observe is the grader's to report."""
    found = {}
    for name in names:
        if name not in namespace:
            found[name] = {"not observed": f"{name} is not defined"}
            continue
        try:
            if isinstance(namespace[name], BaseException):
                found[name] = {"exception": exception(namespace[name])}
                continue
            value = plain(namespace[name])
        except Exception as e:  # student objects may raise anywhere
            value = NotObserved(f"{type(e).__name__} while reading it")
        found[name] = {"not observed": value.why} if isinstance(value, NotObserved) else {"value": value}
    try:
        Path(folder).mkdir(exist_ok=True)
        Path(folder, f"{key}.json").write_text(json.dumps(found, allow_nan=True))
    except (OSError, ValueError):
        pass


def observation_cell(key, names, folder=FOLDER):
    """The source of the cell a grader puts just before the tests of `key`."""
    return (f"from autograder import observe as _observe\n_observe.record({key!r}, {sorted(names)!r}, globals(), "
            f"{folder!r})\ndel _observe")


def read(folder, key, names):
    """In the grader: {name: value or NotObserved} for `names`, from folder/<key>.json as the kernel
    left it; None when the kernel wrote no observation for `key` (it stopped before)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fd = os.open(f"{key}.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return {name: NotObserved("the observation is not a file") for name in names}
        data = f.read(OBSERVATION_BYTES + 1)
    try:
        found = json.loads(data) if len(data) <= OBSERVATION_BYTES else None
    except (ValueError, RecursionError):
        found = None
    if not isinstance(found, dict):
        return {name: NotObserved("the observation could not be read") for name in names}
    return {name: _value(found.get(name)) for name in names}


def _value(entry):
    if isinstance(entry, dict) and "value" in entry:
        return plain(entry["value"])
    if isinstance(entry, dict) and isinstance(entry.get("exception"), dict):
        return as_exception(entry["exception"])
    why = entry.get("not observed") if isinstance(entry, dict) else None
    return NotObserved(why[:200] if isinstance(why, str) else "no observation")
