"""Benchmark: how far the graded numbers move when dropout draws from another random stream.

    MNIST_DATA_ROOT=... .venv/bin/python tests/benchmark_streams.py [STREAMS]

Why: a notebook run on a GPU draws its dropout masks from the CUDA generator, which
torch.manual_seed seeds but which yields other numbers than the CPU one. The initial weights
(built on the CPU) and the data order (a CPU generator) stay the same. So a GPU run is the CPU
run with another dropout stream, and that is what this script emulates on the CPU: it replays
the notebook's three training runs (Exercises 2, 3 and 4, same seeds, same code as
autograder/saving_and_loading/model.py) once with the CPU stream and once per extra stream, and prints, side
by side, the numbers the grader compares across a re-run (reproduction.same_run) and the ratios it
scores (live_run.continuity, resume.ADVANTAGE_THRESHOLD).
"""

import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder.saving_and_loading.early_stopping import ReferenceEarlyStopping  # noqa: E402
from autograder.saving_and_loading.model import MNISTModel, canonical_splits, evaluate, make_loader, train_one_epoch  # noqa: E402

TRAIN, VAL, _ = canonical_splits()
VAL_LOADER = make_loader(VAL)


def start(seed, stream):
    """The notebook's model and Adam for `seed`; dropout then draws from `stream` (None: the CPU's)."""
    torch.manual_seed(seed)
    model = MNISTModel()
    if stream is not None:
        torch.manual_seed(stream)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def exercise2(stream):
    """Periodic and best checkpoints: epoch -> (loss, val_loss), and the best epoch."""
    model, opt = start(2, stream)
    rows = {}
    for epoch in range(1, 11):
        rows[epoch] = (train_one_epoch(model, opt, make_loader(TRAIN, epoch)), evaluate(model, VAL_LOADER))
    best = min(rows, key=lambda e: rows[e][1])
    return rows, best


def exercise3(stream):
    """Crash run: last pre-crash loss, first resumed loss with the Adam state and with a fresh Adam."""
    model, opt = start(3, stream)
    for epoch in range(1, 11):
        before = train_one_epoch(model, opt, make_loader(TRAIN, epoch))
    weights, rng = copy.deepcopy(model.state_dict()), torch.get_rng_state()
    restored = train_one_epoch(model, opt, make_loader(TRAIN, 11))
    model.load_state_dict(weights)
    fresh_opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.set_rng_state(rng)
    fresh = train_one_epoch(model, fresh_opt, make_loader(TRAIN, 11))
    return before, restored, fresh


def exercise4(stream, patience=3, max_epochs=30):
    """Early stopping: best epoch, stop epoch, best val_loss."""
    model, opt = start(4, stream)
    stopper = ReferenceEarlyStopping(patience)
    for epoch in range(1, max_epochs + 1):
        train_one_epoch(model, opt, make_loader(TRAIN, epoch))
        if stopper.step(evaluate(model, VAL_LOADER), model):
            break
    return stopper.best_epoch, stopper.epoch, stopper.best_loss


def rel(a, b):
    return abs(a - b) / max(a, b)


def main(n_streams=8):
    torch.set_num_threads(1)
    streams = [None] + [1000 + k for k in range(n_streams)]
    runs = [(exercise2(s), exercise3(s), exercise4(s)) for s in streams]
    (ref2, ref_best), ref3, ref4 = runs[0]
    print(f"{'stream':>6} | ex2 best epoch  d(loss,val) e5 / e10 / best | ex3 after/before restored, fresh,"
          f" fresh/restored | ex4 best/stop epoch  d(val)")
    worst = {"loss": 0.0, "val": 0.0, "best_epoch_changed": 0, "es_epoch_changed": 0}
    ratios = {"restored": [], "fresh": [], "advantage": []}
    for s, ((rows, best), (before, restored, fresh), (es_best, es_stop, es_val)) in zip(streams, runs):
        d = [(rel(rows[e][0], ref2[e][0]), rel(rows[e][1], ref2[e][1])) for e in (5, 10)]
        d_best = (rel(rows[best][0], ref2[ref_best][0]), rel(rows[best][1], ref2[ref_best][1]))
        d_es = rel(es_val, ref4[2])
        worst["loss"] = max(worst["loss"], *(x for x, _ in d), d_best[0])
        worst["val"] = max(worst["val"], *(y for _, y in d), d_best[1], d_es)
        worst["best_epoch_changed"] += best != ref_best
        worst["es_epoch_changed"] += (es_best, es_stop) != ref4[:2]
        for key, value in zip(ratios, (restored / before, fresh / before, fresh / restored)):
            ratios[key].append(value)
        print(f"{str(s or 'cpu'):>6} | {best:>2} " + " / ".join(f"{a:.1%},{b:.1%}" for a, b in [*d, d_best])
              + f" | {restored / before:.3f}, {fresh / before:.3f}, {fresh / restored:.3f}"
              f" | {es_best:>2}/{es_stop:>2}  {d_es:.1%}")
    print(f"\nover {n_streams} other streams: largest loss difference {worst['loss']:.1%}, largest val_loss"
          f" difference {worst['val']:.1%}; best epoch of Exercise 2 differs in {worst['best_epoch_changed']},"
          f" early stopping's best/stop epoch in {worst['es_epoch_changed']}")
    print("over all streams, first resumed epoch / last pre-crash epoch: "
          + "; ".join(f"{k} {min(v):.3f}-{max(v):.3f}" for k, v in ratios.items())
          + " (advantage: fresh-Adam over restored-Adam epoch, one shared stream)")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
