"""Observe in the kernel, judge in the grader: the notebook's variables, recorded where the tests
need them and read back as data by the grader's own interpreter.

otter runs each question's tests in the kernel that has just run the student's code, so a verdict
computed there can be forged by that code. A test case whose parameters are all observed variables
of the assignment (Assignment.observed_variables) is judged in the grader's interpreter instead: a
cell the grader puts into the notebook just before the question's tests (observation_cell) records
those variables, and the grader runs the case on them (integrity.run_in_grader). The kernel is
trusted with values only, the same values its variables hold; what they must be is decided where
no student code runs. A variable is recorded as
- plain data, in <question>.json: numbers, strings, lists of them, or an exception caught (its
  class and message);
- else, a torch object, in <question>.<name>.pt, read with weights_only=True (load.py): a tensor or
  a dict of them as it is; a module or an optimizer as what its state_dict() returned (and a
  module's `training`), which the grader's test sees as a Snapshot;
- a variable the lesson probes (Lesson.probes: a class, observed by what it does) as what its
  probe returned, plain data, on inputs the grader drew for this grading (`grading_seed`).

`record` runs in the kernel (imports nothing of the notebook's); `read` in the grader's
interpreter: it follows no link, reads at most OBSERVATION_BYTES of JSON and SAVED_BYTES of one .pt,
and keeps only plain values and what weights_only loads.
"""

import builtins
import importlib
import json
import os
import secrets
import stat
import sys
import tempfile
from pathlib import Path

FOLDER = ".observed"  # in the notebook's folder, where the kernel may write; removed before the run (arrange, nbgrader's SealSubmittedFiles)
OBSERVATION_BYTES = 256 * 1024  # one question's observations: a few histories of floats
MAX_ITEMS = 10_000  # elements of one list
MAX_CHARS = 10_000  # characters of one string
SAVED_BYTES = 16 * 2**20  # one torch object's file: a model of a lesson is a few MB
OPTIMIZER_ENTRIES = 100  # keys of one parameter's state or one param group (Adam has a dozen)
MAX_DEPTH = 6  # nested lists and dicts: a probe's runs of steps
SEED_ENV = "AUTOGRADER_SEED"  # a regrade draws a probe's inputs from the seed its grading logged


class NotObserved:
    """Stands for a variable the grader could not observe as plain data: the test then fails with
    its own message, as it would on a wrong value."""

    def __init__(self, why):
        self.why = why

    def __repr__(self):
        return f"<not observed: {self.why}>"


def plain(value, depth=0):
    """`value` as JSON-ready plain data, or a NotObserved: None, bool, int, float, str, lists (from
    lists or tuples) and str-keyed dicts of them; a NumPy number, or a number of a library (NumPy,
    torch) inside a list, becomes a float or int, as the tests compare it (a tensor alone or in a
    dict stays one: snapshot)."""
    if depth == 0 and type(value).__module__.split(".")[0] == "numpy":
        value = _number(value)
    if value is None or type(value) in (bool, int, str) or isinstance(value, float):
        return value if not isinstance(value, str) or len(value) <= MAX_CHARS else NotObserved("a string too long")
    if type(value) in (list, tuple, dict) and depth < MAX_DEPTH:  # not a subclass: nothing of the student's runs here
        if len(value) > MAX_ITEMS:
            return NotObserved(f"a {type(value).__name__} of {len(value)} items")
        if type(value) is dict and not all(type(k) is str and len(k) <= MAX_CHARS for k in value):
            return NotObserved("a dict with keys that are not strings")
        is_dict = type(value) is dict
        children = [plain(v if is_dict else _number(v), depth + 1) for v in (value.values() if is_dict else value)]
        bad = next((v for v in children if isinstance(v, NotObserved)), None)
        return bad or (dict(zip(value, children)) if is_dict else children)
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


class Snapshot:
    """A module or an optimizer as the grader sees it: `state_dict()` returns what the kernel's
    returned, and `training` is a module's flag (None for an optimizer)."""

    def __init__(self, kind, state, training=None):
        self.kind, self._state, self.training = kind, state, training

    def state_dict(self):
        return self._state

    def __repr__(self):
        return f"<the {self.kind} observed in the notebook>"


def snapshot(value):
    """In the kernel: a torch object as what weights_only loads back ({"kind", ...}), or None when
    `value` is not one. Imports no torch: a notebook without torch has no such object."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if isinstance(value, torch.nn.Module):
        return {"kind": "module", "training": bool(value.training), "state_dict": value.state_dict()}
    if isinstance(value, torch.optim.Optimizer):
        return {"kind": "optimizer", "state_dict": value.state_dict()}
    if isinstance(value, (torch.Tensor, dict)):  # what the grader keeps of these: _tensors
        return {"kind": "value", "value": value}
    return None


def grading_seed():
    """The seed a grading draws its probes' inputs from: fresh for each grading, or SEED_ENV's."""
    given = os.environ.get(SEED_ENV, "").strip()
    if given and not given.isdigit():
        raise ValueError(f"{SEED_ENV} is the seed a grading logged, a whole number; found {given!r}")
    return int(given) if given else secrets.randbelow(2**31)


def record(key, names, namespace, folder=FOLDER, probes="{}"):
    """In the kernel: write folder/<key>.json, {name: {"value": plain value} or {"exception": ...}
    or {"saved": true} (folder/<key>.<name>.pt) or {"not observed": why}} for each of `names` in
    `namespace` (the notebook's globals); a name in `probes` (JSON: {name: [module, inputs]}) is
    recorded as {"value": module.probe(its value, inputs)}. Never raises: a failure to observe is
    the grader's to report."""
    found, probes = {}, json.loads(probes)
    try:
        Path(folder).mkdir(exist_ok=True)
    except OSError:
        return
    for name in names:
        if name not in namespace:
            found[name] = {"not observed": f"{name} is not defined"}
            continue
        try:
            if name in probes:
                module, inputs = probes[name]
                value = plain(importlib.import_module(module).probe(namespace[name], inputs))
            elif isinstance(namespace[name], BaseException):
                found[name] = {"exception": exception(namespace[name])}
                continue
            else:
                value = plain(namespace[name])
                saved = snapshot(namespace[name]) if isinstance(value, NotObserved) else None
                if saved is not None:
                    sys.modules["torch"].save(saved, Path(folder, f"{key}.{name}.pt"))
                    found[name] = {"saved": True}
                    continue
        except Exception as e:  # student objects may raise anywhere
            value = NotObserved(f"{type(e).__name__} while reading it")
        found[name] = {"not observed": value.why} if isinstance(value, NotObserved) else {"value": value}
    try:
        Path(folder, f"{key}.json").write_text(json.dumps(found, allow_nan=True))
    except (OSError, ValueError):
        pass


def observation_cell(key, names, folder=FOLDER, probes=None):
    """The source of the cell a grader puts just before the tests of `key`; `probes`: the lesson's
    (Lesson.probes), for this grading."""
    probes = json.dumps({name: probe for name, probe in (probes or {}).items() if name in names})
    return (f"from autograder import observe as _observe\n_observe.record({key!r}, {sorted(names)!r}, globals(), "
            f"{folder!r}, {probes!r})\ndel _observe")


def read(folder, key, names, probes=None):
    """In the grader: {name: value or NotObserved} for `names`, from folder/<key>.json as the kernel
    left it; None when the kernel wrote no observation for `key` (it stopped before). A probed
    name's value is module.observed(what the kernel recorded, inputs), on the grader's inputs."""
    found = _read_observation(folder, key, names)
    return None if found is None else probed(found, probes)


def probed(found, probes):
    """`found` ({name: what was observed, or NotObserved}) with each probed name's value as its
    module's observed(value, inputs) says: the grader's inputs, whatever the kernel ran."""
    for name, (module, inputs) in (probes or {}).items():
        if name in found:
            found[name] = importlib.import_module(module).observed(found[name], inputs)
    return found


def _read_observation(folder, key, names):
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        data = _read(dir_fd, f"{key}.json", OBSERVATION_BYTES)
        if data is None:
            return None
        try:
            found = json.loads(data) if isinstance(data, bytes) else None
        except (ValueError, RecursionError):
            found = None
        if not isinstance(found, dict):
            return {name: NotObserved(data.why if isinstance(data, NotObserved) else "the observation could not be read")
                    for name in names}
        return {name: _value(found.get(name), lambda: _saved(dir_fd, f"{key}.{name}.pt")) for name in names}
    finally:
        os.close(dir_fd)


def _read(dir_fd, filename, limit):
    """The bytes of the regular file `filename` in the folder, if no more than `limit`; None when
    there is none (or a link); else a NotObserved."""
    try:
        fd = os.open(filename, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return NotObserved("the observation is not a file")
        data = f.read(limit + 1)
    return data if len(data) <= limit else NotObserved(f"an observation over {limit:,} bytes")


def _saved(dir_fd, filename):
    """A torch object the kernel saved: loaded as a student's file is (load.py: weights_only=True,
    the archive checked first), on the devices it was saved from."""
    data = _read(dir_fd, filename, SAVED_BYTES)
    if not isinstance(data, bytes):
        return data or NotObserved("its file is missing")
    from .load import load  # torch: only in the grader's interpreter, which has it
    with tempfile.NamedTemporaryFile(suffix=".pt") as copy:  # what was read is what loads
        copy.write(data)
        copy.flush()
        saved, refused = load(copy.name, device=None, name=filename, limits=(SAVED_BYTES, SAVED_BYTES))
    if refused:
        return NotObserved(f"{refused.message} [{refused.code}]")
    if not isinstance(saved, dict):
        return NotObserved("an observation that is not one")
    kind, value, state = saved.get("kind"), saved.get("value"), saved.get("state_dict")
    if kind == "value" and (_tensor(value) or _tensors(value)):
        return value
    if kind == "module" and _tensors(state) and type(saved.get("training")) is bool:
        return Snapshot(kind, state, saved["training"])
    if kind == "optimizer" and _optimizer_state(state):
        return Snapshot(kind, state)
    return NotObserved("an observation that is not one")


def _tensor(value):
    """A plain dense tensor that holds its own elements: no subclass (Parameter included), no
    attributes set when it was unpickled, no stride-0 view that would expand into more memory
    than its file took."""
    import torch
    return (type(value) is torch.Tensor and value.layout == torch.strided and not value.is_meta and not value.__dict__
            and value.numel() * value.element_size() <= value.untyped_storage().nbytes())


def _tensors(value):
    """A state_dict: {str: tensor}, as a module's state_dict() (or a dict of tensors) holds."""
    return isinstance(value, dict) and len(value) <= MAX_ITEMS and all(
        type(k) is str and _tensor(v) for k, v in value.items())


def _optimizer_state(value):
    """An optimizer's state_dict(): {"state": {int: {str: tensor or number}}, "param_groups":
    [{str: plain value}]}, and nothing else."""
    if not (isinstance(value, dict) and set(value) == {"state", "param_groups"}):
        return False
    state, groups = value["state"], value["param_groups"]
    return (isinstance(state, dict) and len(state) <= MAX_ITEMS and isinstance(groups, list) and len(groups) <= MAX_ITEMS
            and all(type(k) is int and _entries(s, lambda v: _tensor(v) or type(v) in (int, float, bool))
                    for k, s in state.items())
            and all(_entries(g, lambda v: not isinstance(plain(v), NotObserved)) for g in groups))


def _entries(value, valid):
    """A dict of at most OPTIMIZER_ENTRIES str keys, each value `valid`: one parameter's state (its
    step, moments) or one param group's settings."""
    return isinstance(value, dict) and len(value) <= OPTIMIZER_ENTRIES and all(
        type(k) is str and valid(v) for k, v in value.items())


def _value(entry, saved):
    if isinstance(entry, dict) and "value" in entry:
        return plain(entry["value"])
    if isinstance(entry, dict) and entry.get("saved") is True:
        return saved()
    if isinstance(entry, dict) and isinstance(entry.get("exception"), dict):
        return as_exception(entry["exception"])
    why = entry.get("not observed") if isinstance(entry, dict) else None
    return NotObserved(why[:200] if isinstance(why, str) else "no observation")
