"""Load safely: a student's file reaches torch.load(weights_only=True) only after the archive
itself has been checked, and every refusal becomes a named problem.

Why the pre-checks: torch.load accepts DEFLATE-compressed entries that torch.save never writes
(a 195 KB file can inflate to 200 MB) and does not verify the CRC32s torch.save writes (a
flipped byte loads silently with wrong values). zipfile checks both.
"""

import pickle
import pickletools
import re
import zipfile
from pathlib import Path

import torch

from .assignment import Assignment
from .codes import problem


def device():
    """Where the grader and the self-check load files and run models: the GPU when there is one."""
    return "cuda" if torch.cuda.is_available() else "cpu"

CODE_RUNNERS = ("os.", "posix.", "nt.", "subprocess.", "sys.", "shutil.", "socket.", "runpy.", "importlib.",
                "io.open", "_io.open")  # open() pickles as io.open
CODE_BUILTINS = ("eval", "exec", "compile", "__import__", "open", "breakpoint")


def globals_in_pickle(data):
    """Every module.name global a pickle refers to, read with pickletools (nothing executes)."""
    found, strings = [], []
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name == "GLOBAL":
            found.append(arg.replace(" ", "."))
        elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
            found.append(f"{strings[-2]}.{strings[-1]}")
        elif isinstance(arg, str):
            strings.append(arg)
    return found


def _refusal(name, data_pkl):
    """Explain why weights_only=True refused the file, from the globals the pickle names."""
    names = globals_in_pickle(data_pkl)
    blocked = [n for n in names if n.startswith(CODE_RUNNERS)
               or (n.split(".")[0] in ("builtins", "__builtin__") and n.split(".")[-1] in CODE_BUILTINS)]
    if blocked:  # first: whatever else a file holds, one that tries to run code is named so
        return problem("payload", name=name, detail=blocked[0])
    if any(n.split(".")[-1] == "getattr" for n in names):  # a bound method pickles as getattr(obj, name)
        return problem("state_dict_method", name=name)
    if any(n.startswith("torch.nn.modules.") for n in names):
        user = [n for n in names if not n.startswith(("torch.", "collections.", "__builtin__."))]
        return problem("whole_model", name=name, detail=(user or names)[0])
    numpy = [n for n in names if n.startswith("numpy")]
    if numpy:
        return problem("numpy_scalar", name=name, detail=numpy[0])
    allowed = ("torch.", "collections.OrderedDict", "_codecs.encode")
    unknown = [n for n in names if not n.startswith(allowed)]
    return problem("unknown_global", name=name, detail=(unknown or names or ["unknown"])[0])


def check_archive(path, name, limits=None):
    """Problems found before loading, and the pickle bytes of the archive (None if refused)."""
    path = Path(path)
    if not path.is_file():
        return problem("missing", name=name, remedy="there is no file at this path"), None
    size = path.stat().st_size
    if size == 0:
        return problem("empty", name=name), None
    max_bytes, max_unpacked = limits or (Assignment.checkpoint_bytes_limit, Assignment.checkpoint_unpacked_limit)
    if size > max_bytes:
        return problem("too_large", name=name, size=size, cap=max_bytes), None
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            legacy = f.read(2) == b"\x80\x02"  # torch's pre-zip format starts with a pickle
        return problem("legacy_format" if legacy else "not_torch_zip", name=name), None
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
                return problem("compressed", name=name), None
            if sum(i.file_size for i in infos) > max_unpacked:
                return problem("too_large", name=name, size=size, cap=max_unpacked), None
            bad = zf.testzip()  # reads every entry and checks its CRC32
            if bad:
                return problem("corrupt", name=name, detail=f"CRC mismatch in {bad}"), None
            pickles = [i.filename for i in infos if i.filename.endswith("/data.pkl")]
            if len(pickles) != 1:
                return problem("not_torch_zip", name=name), None
            return None, zf.read(pickles[0])
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        return problem("corrupt", name=name, detail=str(e)), None


def load(path, device="cpu", name=None, limits=None):
    """(object, problem): the file's content via torch.load(weights_only=True), or a problem.
    `limits`: (the file's bytes, its entries' unpacked bytes), an assignment's
    checkpoint_limits; by default the Assignment's defaults."""
    name = name or Path(path).name
    refused, data_pkl = check_archive(path, name, limits)
    if refused:
        return None, refused
    try:
        return torch.load(path, weights_only=True, map_location=device), None
    except pickle.UnpicklingError:
        return None, _refusal(name, data_pkl)
    except Exception as e:  # torch's message has ANSI codes and unsafe advice: keep one line
        detail = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip().splitlines()[0][:200]
        return None, problem("load_error", name=name, detail=detail)


def saved_on(path):
    """The device types a file's tensors were saved from (['cuda'] for a Colab GPU run): torch
    hands each storage's location tag to a callable map_location; mmap leaves the tensor data
    unread. Only for a file `load` accepted."""
    devices = set()
    torch.load(path, weights_only=True, mmap=True,
               map_location=lambda storage, location: devices.add(location.split(":")[0]) or storage)
    return sorted(devices)
