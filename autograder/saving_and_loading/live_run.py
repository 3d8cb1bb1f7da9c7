"""The public tests of the notebook's own run: Exercise 1's two models, Exercise 2's best
checkpoint against its `val_history`, Exercise 3's resumed run, Exercise 4's restored model.
Shipped in the student notebook, so a student runs the same rules, codes and messages before
submitting; when grading, the grader's interpreter runs them on what the kernel was observed to
hold (observe.py) and on the files the re-run left. Those files are the notebook's to rewrite: a
forgery that passes here rewrites them to match (a checkpoint's moments as well as Adam's step
count), which is more than the line that solves the exercise.

Each `require_*` is one public test cell: it raises AssertionError with one line a problem.
"""

import torch

from ..codes import Verdict
from ..load import load
from . import ASSIGNMENT, BATCH_SIZE, CRASH_EPOCH, STEPS_PER_EPOCH
from .messages import problem
from .model import MNISTModel
from .recorded import adam_steps, loss_value

# First resumed epoch over last pre-crash epoch (tests/benchmark_streams.py, the notebook's crash
# run with 9 dropout streams, as a GPU would draw): 0.80-1.01 when model and Adam are restored,
# 0.97-1.27 with a fresh Adam. The two overlap, so the loss alone cannot tell them apart: a jump
# over 5 % flags a model that was not restored (strict=False, wrong weights), and
# `optimizer_continued` checks the Adam state: its step count exactly, its moments by a bound.
CONTINUITY_TOLERANCE = 0.05
# A resumed Adam's second moments never fall below the checkpoint's decayed by beta2 each step
# (each step adds (1 - beta2) * grad**2 >= 0); float32 rounding over 1,250 steps moves them by
# about 1e-4. Measured (the lesson's run, 10 epochs resumed): 0 of 235,914 moments below the bound
# with the checkpoint's state loaded, 17.8 % with a fresh Adam, so a step count written by hand
# onto a fresh Adam does not pass.
MOMENT_TOLERANCE = 0.99
ADAM_BETA2 = 0.999  # the notebook's Adam (PyTorch's default betas); not read from a file the notebook writes
MOMENTS_BELOW_LIMIT = 0.01  # the share of moments under the bound that shows a restart


def require_predictions_match(predictions_match: bool, ex1_model: torch.nn.Module,
                              loaded_model: torch.nn.Module) -> None:
    """Exercise 1's comparison: predictions_match is True, and it is so: the two models, with the
    weights and modes the notebook left them in, give identical outputs on one batch. The grader
    recomputes it, so a True the notebook merely wrote does not pass.

    Args:
        predictions_match: the notebook's answer.
        ex1_model, loaded_model: the trained model and the one its saved file was loaded into.

    Raises:
        AssertionError: the grader's messages and codes, one line a problem (as do all the
        require_* here).
    """
    problems = [] if predictions_match is True else [problem("predictions_claimed")]
    if not problems and (why := outputs_differ(ex1_model, loaded_model)):
        problems.append(problem("predictions_differ", detail=why))
    Verdict("predictions match", problems).assert_ok()


def require_loaded(loaded_model: torch.nn.Module, ex1_model: torch.nn.Module) -> None:
    """Both models in eval mode, loaded_model holding ex1_model's weights and buffers, and those
    are the weights the saved file holds (when it loads as this model's state_dict; when it does
    not, its own file check says why).

    Args:
        loaded_model, ex1_model: as for require_predictions_match.
    """
    problems = []
    if getattr(loaded_model, "training", True) or getattr(ex1_model, "training", True):
        problems.append(problem("not_eval"))
    trained, loaded = (getattr(m, "state_dict", dict)() for m in (ex1_model, loaded_model))
    [spec] = ASSIGNMENT.files_of("saved_model")
    saved, refused = load(spec.path, limits=ASSIGNMENT.checkpoint_limits)
    if not trained or not same_weights(trained, loaded):
        problems.append(problem("not_loaded"))
    elif not refused and isinstance(saved, dict) and saved.keys() == trained.keys() and not same_weights(trained, saved):
        problems.append(problem("not_the_saved_weights", name=spec.path))
    Verdict("loaded", problems).assert_ok()


def require_best_of(val_history: list[float]) -> None:
    """This run's best.pth holds the lowest validation loss of its own history.

    Args:
        val_history: the notebook's validation losses of Exercise 2, one per epoch.
    """
    [spec] = ASSIGNMENT.files_of("best")
    best, refused = load(spec.path, limits=ASSIGNMENT.checkpoint_limits)
    problems = [refused] if refused else []
    if not _epochs(val_history):
        problems.append(problem("no_val_history", detail=repr(val_history)[:200]))
    elif best is not None:
        i = min(range(len(val_history)), key=val_history.__getitem__)
        saved = best if isinstance(best, dict) else {}
        if saved.get("epoch") != i + 1 or loss_value(saved.get("val_loss")) != float(val_history[i]):
            detail = (f"{saved.get('val_loss')!r} at epoch {saved.get('epoch')!r}" if saved is best
                      else f"a {type(best).__name__}, not a checkpoint dict")
            problems.append(problem("not_best", name=spec.path, expected=float(val_history[i]), epoch=i + 1,
                                    detail=detail))
    Verdict("best of the run", problems).assert_ok()


def require_resumed(history_before: list[float], history_after: list[float], start_epoch: int,
                    resumed_optimizer: torch.optim.Optimizer) -> None:
    """Exercise 3's resumed run continues the crashed one: it starts at the next epoch, its first
    loss does not jump, and its Adam continued from the checkpoint's steps.

    Args:
        history_before: the training losses up to the crash, one per epoch.
        history_after: the training losses after resuming, one per epoch.
        start_epoch: the epoch training resumed at.
        resumed_optimizer: the Adam that trained the resumed run.
    """
    [spec] = ASSIGNMENT.files_of("crash")
    crash, _ = load(spec.path, limits=ASSIGNMENT.checkpoint_limits)  # its file check reports a refusal
    problems = continuity(history_before, history_after, start_epoch, crash_epoch=CRASH_EPOCH)
    problems += optimizer_continued(resumed_optimizer, _epochs(history_after), crash_epoch=CRASH_EPOCH,
                                    saved_state=crash.get("optimizer_state_dict") if isinstance(crash, dict) else None)
    Verdict("resumed run", problems).assert_ok()


def require_restored(model: torch.nn.Module) -> None:
    """The model early stopping returned holds this run's best checkpoint's weights.

    Args:
        model: es_model, after train_with_early_stopping.
    """
    [spec] = ASSIGNMENT.files_of("early_stopping")
    best, refused = load(spec.path, limits=ASSIGNMENT.checkpoint_limits)
    problems = [refused] if refused else []
    if best is not None and not (isinstance(best, dict) and same_weights(getattr(model, "state_dict", dict)(),
                                                                         best.get("model_state_dict"))):
        problems.append(problem("not_restored"))
    Verdict("restored", problems).assert_ok()


def same_weights(a, b):
    """Two state_dicts with the same keys and equal tensors, wherever each tensor is."""
    try:
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(isinstance(a[k], torch.Tensor) and isinstance(b[k], torch.Tensor)
                        and torch.equal(a[k].cpu(), b[k].cpu()) for k in a))
    except Exception:  # tensors that cannot be compared (sparse, quantized, meta) are not equal
        return False


def outputs_differ(a, b):
    """How the outputs of two models (live modules, or the grader's observations of them) on one
    batch differ, or None when they are identical: each rebuilt as the lesson's MNISTModel on the
    CPU with its weights, buffers and mode; in train mode, dropout draws as in the notebook."""
    unobserved = [m.why for m in (a, b) if isinstance(getattr(m, "why", None), str)]  # observe.NotObserved
    if unobserved:
        return f"not observed: {unobserved[0]}"
    try:
        rebuilt = []
        for model in (a, b):
            rebuilt.append(MNISTModel())
            rebuilt[-1].load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
            rebuilt[-1].train(bool(model.training))
    except Exception as e:  # not a model of the lesson: anything may be wrong with it
        return f"{type(e).__name__} rebuilding them as MNISTModel"
    batch = torch.rand(BATCH_SIZE, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        first, second = (m(batch) for m in rebuilt)
    return None if torch.equal(first, second) else f"up to {(first - second).abs().max().item():.3g} apart"


def _epochs(history):
    """How many epochs a loss history holds (0 for what is not a list of them)."""
    return len(history) if isinstance(history, (list, tuple)) else 0


def continuity(before, after, start_epoch, crash_epoch):
    """Problems with the student's loss history around the crash."""
    if not _epochs(before) or not _epochs(after):
        return [problem("no_history", detail=f"{_epochs(before)} epochs before the crash, {_epochs(after)} after")]
    problems = []
    if start_epoch != crash_epoch + 1:
        problems.append(problem("resume_epoch", expected=crash_epoch + 1, detail=repr(start_epoch)))
    if not after[0] <= before[-1] * (1 + CONTINUITY_TOLERANCE):  # a NaN loss fails too
        problems.append(problem("discontinuous", before=before[-1], after=after[0],
                                tolerance=CONTINUITY_TOLERANCE))
    return problems


def optimizer_continued(optimizer, epochs_after, crash_epoch, saved_state=None):
    """Problems when the resumed Adam did not continue from the checkpoint's state. Exact on any
    device: Adam counts its steps, and a restored one starts from the crash checkpoint's; and, with
    the checkpoint's optimizer state (`saved_state`), its second moments are at least the saved
    ones decayed over the resumed steps (moments_restarted)."""
    saved = crash_epoch * STEPS_PER_EPOCH
    expected = saved + epochs_after * STEPS_PER_EPOCH
    try:
        state = optimizer.state_dict()
        steps = adam_steps(state)
    except Exception as e:  # anything an odd optimizer or value raises (an infinite step count included)
        return [problem("optimizer_not_resumed", found=f"no Adam step count ({type(e).__name__})",
                        saved=saved, expected=expected)]
    if steps != [expected]:
        found = ", ".join(map(str, steps)) or "no steps"
        return [problem("optimizer_not_resumed", found=found, saved=saved, expected=expected)]
    below = moments_restarted(state, saved_state, expected - saved)
    if below > MOMENTS_BELOW_LIMIT:
        return [problem("moments_restarted", share=below, steps=expected - saved)]
    return []


def moments_restarted(state, saved_state, steps):
    """The share of the checkpoint's second moments (exp_avg_sq) that the resumed Adam holds
    below their value decayed over `steps` steps (NaN included), or does not hold at all; 0 when
    the saved state has none to compare (its file check says why)."""
    try:
        saved = {k: s["exp_avg_sq"] for k, s in saved_state["state"].items()}
        saved = {k: v.cpu() * (ADAM_BETA2 ** steps * MOMENT_TOLERANCE) for k, v in saved.items()
                 if isinstance(v, torch.Tensor) and v.is_floating_point()}
    except Exception:  # a crafted or broken file: nothing to compare
        return 0.0
    below = 0
    for k, bound in saved.items():
        try:
            now = state["state"][k]["exp_avg_sq"].cpu()
            below += int((~(now >= bound)).sum()) if now.shape == bound.shape else bound.numel()
        except Exception:  # no moment, or one that is not a tensor, where the checkpoint has one
            below += bound.numel()
    total = sum(v.numel() for v in saved.values())
    return below / total if total else 0.0
