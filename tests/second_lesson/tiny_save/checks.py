"""The lesson's one file check: checkpoints/line.pth holds nn.Linear(1, 1)'s state_dict, trained
to fit y = 2x + 1."""

from autograder import load
from autograder.codes import CORE_MESSAGES, Found, problems_from

from . import ASSIGNMENT

SHAPES = {"weight": (1, 1), "bias": (1,)}
TOLERANCE = 0.05  # 500 steps of SGD at lr 0.1 on noise-free data fit both within 1e-3

MESSAGES = {
    **CORE_MESSAGES,
    "not_a_line": "{name} should hold nn.Linear(1, 1)'s state_dict (weight [1, 1], bias [1]); found {detail}.",
    "not_fitted": "{name} holds y = {w:.3f}x + {b:.3f}, not y = 2x + 1: save the state_dict after training, "
    "not before.",
}
problem = problems_from(MESSAGES)


def shapes(obj):
    return {k: tuple(v.shape) for k, v in obj.items() if hasattr(v, "shape")} if isinstance(obj, dict) else None


def line_problems(sd, name):
    if shapes(sd) != SHAPES or len(sd) != len(SHAPES):
        return [problem("not_a_line", name=name, detail=shapes(sd) or type(sd).__name__)]
    w, b = sd["weight"].item(), sd["bias"].item()
    if abs(w - 2) > TOLERANCE or abs(b - 1) > TOLERANCE:
        return [problem("not_fitted", name=name, w=w, b=b)]
    return []


def check_line(files):
    [spec] = ASSIGNMENT.files_of("line")
    sd, refused = files.get(spec.path)
    return Found(refused if sd is None else line_problems(sd, spec.path))


CHECKS = {"line": check_line}


def fingerprint(obj, saved_on):
    """The keys, and each one-number tensor's value (the weight and bias: the run's numbers)."""
    if not isinstance(obj, dict):
        return {"type": type(obj).__name__, "saved_on": saved_on}
    return {"keys": sorted(map(str, obj)), "saved_on": saved_on,
            **{k: float(v.flatten()[0]) for k, v in obj.items() if hasattr(v, "numel") and v.numel() == 1}}


def describe(path):
    """The TA's view: load safely, then the line's rules."""
    obj, refused = load.load(path)
    problems = [refused] if refused else line_problems(obj, str(path))
    return {"path": str(path), "ok": not problems, "problems": [p.code for p in problems]}
