"""What a correct run of each exercise shows, printed under it so a student can tell a right
result from a wrong one before any test. No points depend on it: each function prints two lines,
a correct run's values and this run's, and returns nothing.

The ranges hold for the reference solution on the CPU and on 8 other dropout streams, which is
what a GPU run is (tests/benchmark_streams.py, 2026-12-01: Exercise 2's lowest validation loss
moved up to 8 % and its epoch between 9 and 10; early stopping's best epoch between 6 and 9, its
best validation loss up to 9 %; the first resumed epoch was 0.80-1.01x the last pre-crash one,
0.97-1.27x with a fresh Adam). tests/test_colab.py checks that the reference run is inside them.
"""

from . import CRASH_EPOCH, PATIENCE
from .live_run import CONTINUITY_TOLERANCE

EX2_EPOCHS = 10  # train_with_checkpoints' num_epochs
EX2_LOWEST = (0.075, 0.11)  # Exercise 2's lowest validation loss (0.0888 on the CPU)
EX2_BEST_EPOCHS = (7, 10)  # its epoch (9 on the CPU)
EX3_EPOCHS_AFTER = 10  # the notebook's resumed loop trains epochs start_epoch..20
EX3_RATIO = (0.75, 1 + CONTINUITY_TOLERANCE)  # first resumed epoch's loss over the last pre-crash one
EX4_BEST_EPOCHS = (5, 11)  # early stopping's best epoch (9 on the CPU, so it stops after 12)
EX4_BEST_LOSS = (0.075, 0.105)  # its validation loss (0.0870 on the CPU)

AS_EXPECTED = "as expected"
DIFFERS = "differs from a correct run"


def ex1(predictions_match):
    """Exercise 1: the loaded model reproduces the trained one."""
    _show("predictions_match is True (both models in eval mode, the same weights)",
          f"predictions_match is {predictions_match!r}", predictions_match is True)


def ex2(val_history):
    """Exercise 2: ten validation losses, falling to a lowest near the end."""
    if len(val_history or []) == 0:
        return _show(f"{EX2_EPOCHS} validation losses", "val_history is empty", False)
    lowest = min(val_history)
    epoch = val_history.index(lowest) + 1
    _show(f"{EX2_EPOCHS} validation losses, about 0.22 after epoch 1, the lowest {_range(EX2_LOWEST)} at epoch "
          f"{_range(EX2_BEST_EPOCHS, 'd')} (they wobble: not every epoch improves)",
          f"{len(val_history)} losses, the lowest {lowest:.4f} at epoch {epoch}",
          len(val_history) == EX2_EPOCHS and _within(lowest, EX2_LOWEST) and _within(epoch, EX2_BEST_EPOCHS))


def ex3(history_before, history_after):
    """Exercise 3: the resumed run continues the crashed one's curve."""
    if not history_before or not history_after:
        return _show("a loss for every epoch before and after the crash",
                     f"{len(history_before or [])} before, {len(history_after or [])} after", False)
    ratio = history_after[0] / history_before[-1]
    _show(f"{EX3_EPOCHS_AFTER} resumed epochs; the first one's loss is {_range(EX3_RATIO, '.2f')}x epoch "
          f"{CRASH_EPOCH}'s (a fresh Adam gives about 0.97-1.27x: the curve jumps)",
          f"{len(history_after)} resumed epochs, epoch {CRASH_EPOCH} {history_before[-1]:.4f}, then "
          f"{history_after[0]:.4f} ({ratio:.2f}x)",
          len(history_after) == EX3_EPOCHS_AFTER and _within(ratio, EX3_RATIO))


def ex4(stopper):
    """Exercise 4: early stopping ends `PATIENCE` epochs after its best epoch."""
    best, stop, loss = (getattr(stopper, k, None) for k in ("best_epoch", "epoch", "best_loss"))
    if not all(isinstance(v, (int, float)) for v in (best, stop, loss)):
        return _show("the stopper's best_epoch, epoch and best_loss set", f"{best!r}, {stop!r}, {loss!r}", False)
    _show(f"the best epoch {_range(EX4_BEST_EPOCHS, 'd')} with validation loss {_range(EX4_BEST_LOSS)}, "
          f"and the stop {PATIENCE} epochs later",
          f"best epoch {best}, validation loss {loss:.4f}, stopped after epoch {stop}",
                 _within(best, EX4_BEST_EPOCHS) and _within(loss, EX4_BEST_LOSS) and stop == best + PATIENCE)


def _show(correct, yours, ok):
    verdict = AS_EXPECTED if ok else f"{DIFFERS}: the tests below say what to fix"
    print(f"A correct run: {correct}.\nYours: {yours}: {verdict}.")


def _within(value, bounds):
    return bounds[0] <= value <= bounds[1]


def _range(bounds, fmt=".3f"):
    return f"{bounds[0]:{fmt}}-{bounds[1]:{fmt}}"
