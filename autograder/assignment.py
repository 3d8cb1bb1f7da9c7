"""The assignment, declared once: what the build, the checks, the plugin, the harness and the
tests read about lesson 2.3.1.

No torch here: otter's process, the harness and the bulk grader import it for nothing.
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ContractFile:
    """A file the student submits beside the notebook."""

    path: str  # where the notebook writes it, relative to the notebook
    exercise: str  # the question whose points it carries
    check: str  # the file check that grades it (filechecks.CHECKS)
    holds: str  # what it holds, in the README's words
    written_by: str  # the cell that writes it, named to a student whose file is missing
    epoch: int | None = None  # the epoch it must record, when the lesson fixes one
    extra_keys: tuple = ()  # keys beyond the four every checkpoint has


NAME = "saving-and-loading"
NOTEBOOK = f"{NAME}.ipynb"
# The graded questions, in notebook order, and their points (the master's `# BEGIN QUESTION`
# cells say the same; tests/test_build.py keeps the two equal).
QUESTIONS = {"check1": 1, "check2": 1, "map_location": 1, "ex1_save_load": 2, "ex2_checkpointing": 3,
             "ex3_resume": 4, "ex4_early_stopping": 4}
CRASH_EPOCH = 10  # the epoch Exercise 3's run crashes after

EX2 = "Exercise 2's cell that calls train_with_checkpoints"
CONTRACT = (
    ContractFile("checkpoints/mnist_model.pth", "ex1_save_load", "saved_model",
                 "model.state_dict() after training (Exercise 1)", "Exercise 1's cell that saves ex1_model"),
    ContractFile("checkpoints/epoch_5.pth", "ex2_checkpointing", "periodic",
                 "checkpoint after epoch 5, with 'val_loss' (Exercise 2)", EX2, 5, ("val_loss",)),
    ContractFile("checkpoints/epoch_10.pth", "ex2_checkpointing", "periodic",
                 "checkpoint after epoch 10, with 'val_loss' (Exercise 2)", EX2, 10, ("val_loss",)),
    ContractFile("checkpoints/best.pth", "ex2_checkpointing", "best",
                 "checkpoint of the lowest validation loss, with 'val_loss' (Exercise 2)", EX2, None, ("val_loss",)),
    ContractFile("checkpoints/crash.pth", "ex3_resume", "crash",
                 "checkpoint after epoch 10 of the crash run (Exercise 3)",
                 "Exercise 3's training cell (the one that ends in the crash)", CRASH_EPOCH),
    ContractFile("checkpoints/early_stopping_best.pth", "ex4_early_stopping", "early_stopping",
                 "best checkpoint of early stopping, with 'val_loss' and 'early_stopping' (Exercise 4)",
                 "Exercise 4's cell that calls train_with_early_stopping", None, ("val_loss", "early_stopping")),
)
DIST = Path(__file__).resolve().parent / "dist"  # build output: the autograder zip and the sample submissions
ZIP = DIST / f"{NAME}-autograder.zip"
SAMPLES = DIST / "samples"

FILE_CHECKS = tuple(dict.fromkeys(f.check for f in CONTRACT))  # in contract order, each once

SUBMITTED = "../submitted"  # where the plugin keeps the submitted originals, beside the notebook's folder
# The verdicts file the kernel's tests read is SUBMITTED/verdicts.json; the plugin's own fresh run of
# the kernel-free tests reads a private copy named by this variable instead, out of the kernel's reach.
VERDICTS_ENV = "AUTOGRADER_VERDICTS"
DATA_ENV = "MNIST_DATA_ROOT"  # the folder holding MNIST/raw/

# Grading limits. Run cell by cell on one core here, the solution notebook takes 28 s; its slowest
# cell (the with/without optimizer state comparison, 10 epochs) 4.3 s. Gradescope's default half
# CPU doubles that: a cell gets 60 s (7 times as long), the whole re-execution 5 minutes, so that
# the file checks, the re-run and the feedback end well inside Gradescope's default 10 minutes.
CELL_TIME_LIMIT_S = 60
RUN_TIME_LIMIT_S = 300
CELL_OUTPUT_LIMIT = 1_000_000  # characters one cell may print; more is cut with a note
KERNEL_DATA_LIMIT = 3 * 2**30  # the kernel's data segment (RLIMIT_DATA); torch's import alone maps 0.9 GB
