"""Lesson 2.3.1, Saving, Loading, and Checkpoints: the assignment's declaration and its facts.

No torch here (see autograder/assignment.py). The notebook defines the same data split, batch
size and learning rate in its own cells; tests/test_model.py checks that they agree.
"""

from ..assignment import Assignment, ContractFile
from ..lesson import Lesson

SPLIT_SEED = 0  # fixed: the same 8k / 1k / 1k subsets of MNIST's test split for every student and the grader
SPLIT_SIZES = (8000, 1000, 1000)
BATCH_SIZE = 64
STEPS_PER_EPOCH = -(-SPLIT_SIZES[0] // BATCH_SIZE)  # 125 Adam steps in each epoch of the lesson
LR = 1e-3
DATA_ENV = "MNIST_DATA_ROOT"  # the folder holding MNIST/raw/
CRASH_EPOCH = 10  # the epoch Exercise 3's run crashes after
PATIENCE = 3  # Exercise 4's EarlyStopping

EX2 = "Exercise 2's cell that calls train_with_checkpoints"

ASSIGNMENT = Assignment(
    name="saving-and-loading",
    title="Saving, Loading, and Checkpoints",
    questions={"check1": 1, "check2": 1, "map_location": 1, "ex1_save_load": 2, "ex2_checkpointing": 3,
               "ex3_resume": 4, "ex4_early_stopping": 4},
    contract=(  # what each file holds: docs/maintainers.md's contract table
        ContractFile("checkpoints/mnist_model.pth", "saved_model", "Exercise 1's cell that saves ex1_model"),
        ContractFile("checkpoints/epoch_5.pth", "periodic", EX2, 5, ("val_loss",)),
        ContractFile("checkpoints/epoch_10.pth", "periodic", EX2, 10, ("val_loss",)),
        ContractFile("checkpoints/best.pth", "best", EX2, None, ("val_loss",)),
        ContractFile("checkpoints/crash.pth", "crash", "Exercise 3's training cell (the one that ends in the crash)",
                     CRASH_EPOCH),
        ContractFile("checkpoints/early_stopping_best.pth", "early_stopping",
                     "Exercise 4's cell that calls train_with_early_stopping", None, ("val_loss", "early_stopping")),
    ),
    # the grader's file checks and the public tests of the run (live_run), without the resume run,
    # the early-stopping sequences or the reproduction check, which stay with the grader
    shipped=("__init__", "messages", "model", "recorded", "inspection", "verification", "filechecks", "live_run",
             "expected", "stopper_runs"),
    # the 0-point bit-identical note still runs in the kernel; early_stopping.py (the reference)
    # and the core's reproduction check stay with the grader
    kernel_modules=("hidden", "resume"),
    data_env=DATA_ENV,
    observed_variables=("check1_error", "check2_answer", "gpu_state", "cpu_model", "predictions_match", "ex1_model",
                        "loaded_model", "val_history", "history_before", "history_after", "start_epoch",
                        "resumed_optimizer", "es_model", "EarlyStopping"),
)


class SavingAndLoading(Lesson):
    """This lesson's side of the lesson interface (autograder/lesson.py)."""

    def file_checks(self):
        """The student's checks (filechecks.py), with the crash checkpoint's replaced by the
        grader's, which adds its resume run (resume.py)."""
        from . import filechecks, resume
        return {**filechecks.CHECKS, "crash": resume.check_crash_resumes}

    def self_checks(self):
        from .filechecks import CHECKS
        return CHECKS

    def fingerprint(self, obj, saved_on):
        from .verification import fingerprint
        return fingerprint(obj, saved_on)

    def messages(self):
        from .messages import MESSAGES
        return MESSAGES

    def describe(self, path):
        from .inspection import describe
        return describe(path)

    def feedback_picture(self, verdicts):
        from .picture import feedback_picture
        return feedback_picture(verdicts)

    def probes(self, seed):
        """EarlyStopping is observed by its runs on the grader's sequences, drawn from `seed`."""
        from .early_stopping import runs
        return {"EarlyStopping": ("autograder.saving_and_loading.stopper_runs", runs(seed))}

    def stage(self, staged, build_dir, committed):
        from .build import stage
        return stage(staged, build_dir, committed)


LESSON = SavingAndLoading()
