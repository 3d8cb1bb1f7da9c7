"""The hidden tests of the notebook's own objects, one call per hidden-test cell: the grader's
interpreter judges them on what the kernel was observed to hold (observe.py; only the 0-point
bit-identical note runs in the kernel), and every message goes through Verdict.render, as the
file checks' do. (The hidden file tests are the core's reproduction.require_files, which the grader
runs in its own interpreter; the public tests of the run are in live_run.py.)

Each raises AssertionError with the grader's messages and codes, one line a problem.
"""

import torch

from ..codes import Verdict
from . import resume, stopper_runs
from .live_run import same_weights
from .messages import problem
from .model import gpu_example


def require_map_location(gpu_state: dict, cpu_model: torch.nn.Module) -> None:
    """gpu_state is gpu_checkpoint.pth loaded onto the CPU (the grader knows its tensors without
    reading the file, which the notebook could rewrite), and cpu_model holds it.

    Args:
        gpu_state: what the notebook loaded from gpu_checkpoint.pth.
        cpu_model: the MNISTModel it loaded gpu_state into.
    """
    state = gpu_state if isinstance(gpu_state, dict) else {}
    problems = []
    if not state or not all(isinstance(t, torch.Tensor) and t.device.type == "cpu" for t in state.values()):
        problems.append(problem("not_on_cpu"))
    elif not same_weights(state, gpu_example()):
        problems.append(problem("not_gpu_example"))
    if state and not same_weights(getattr(cpu_model, "state_dict", dict)(), state):
        problems.append(problem("cpu_model_not_loaded"))
    Verdict("map_location", problems).assert_ok()


def require_bit_identical(history_after: list[float], train_set: torch.utils.data.Dataset) -> None:
    """With the optional RNG extension, the resume is bit-identical on the CPU (a 0-point note).

    Args:
        history_after: the training losses after resuming, one per epoch.
        train_set: the notebook's training split, which its resumed run trained on.
    """
    Verdict("bit-identical resume", resume.bit_identical_resume(history_after, train_set),
            ["the optional extension: no points depend on it"]).assert_ok()


def require_early_stopping(stopper: "type | stopper_runs.Runs") -> None:
    """The notebook's EarlyStopping follows the reference on the grader's sequences, and resumes
    from its state_dict() as if it had never stopped.

    Args:
        stopper: the notebook's EarlyStopping class, or its runs as the grader observed them
            (stopper_runs.py) on the scripted sequences and random ones drawn for this grading.
    """
    from . import early_stopping  # the grader's only: the kernel's copy of the package leaves the reference out

    runs = stopper_runs.runs_of(stopper, early_stopping.runs())
    Verdict("early stopping", early_stopping.problems(runs)).assert_ok()
