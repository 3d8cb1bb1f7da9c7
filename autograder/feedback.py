"""Feedback: every problem the grader can find, by code, with the message a student reads.

Each message names the lesson idea that was missed, so a student knows what to re-read. The
codes are the stable interface (README, `python -m autograder inspect`); the wording may improve.
"""

import base64
import html
import io
import itertools
from dataclasses import asdict, dataclass, field

MESSAGES = {
    # load safely
    "missing": "{name} is missing: {remedy}.",
    "empty": "{name} is empty (0 bytes): the save was interrupted or the file was created by hand.",
    "too_large": "{name} is {size:,} bytes, over the {cap:,}-byte limit; a checkpoint of this "
    "lesson's model is under 2 MB.",
    "not_torch_zip": "{name} is not a file written by torch.save (it is not a zip archive).",
    "legacy_format": "{name} uses torch's legacy (pre-1.6) format; save it with a current "
    "torch.save.",
    "corrupt": "{name} is damaged ({detail}); save it again.",
    "compressed": "{name} contains compressed entries, which torch.save never writes; save it "
    "again with torch.save.",
    "whole_model": "{name} holds a pickled model object ({detail}), not a state_dict. "
    "torch.save(model) stores a reference to your class's module and name, so the file breaks "
    "when the code moves, and weights_only=True refuses it. Save model.state_dict() instead.",
    "state_dict_method": "{name} holds the method model.state_dict, not its result: you wrote "
    "model.state_dict without the parentheses. Save model.state_dict().",
    "numpy_scalar": "{name} stores a NumPy number ({detail}); weights_only=True refuses NumPy "
    "objects. Store plain Python numbers: loss.item().",
    "payload": "{name} tries to call {detail} when loaded. The grader never runs code from a file.",
    "unknown_global": "{name} contains a {detail} object, which weights_only=True refuses. A "
    "checkpoint holds only tensors, dicts, lists and plain numbers.",
    "load_error": "{name} could not be loaded with torch.load(weights_only=True): {detail}",
    # inspect
    "not_a_dict": "{name} holds a {detail}, not a dictionary.",
    "missing_keys": "{name} is missing the key(s) {detail}. A checkpoint bundles 'epoch', "
    "'model_state_dict', 'optimizer_state_dict' and 'loss'.",
    "state_dict_keys": "{name}: the model state_dict does not match the lesson's MNISTModel "
    "({detail}).",
    "shape_mismatch": "{name}: size mismatch for {detail} — the same error as Check 1: a "
    "state_dict only loads into the architecture that produced it.",
    "bad_epoch": "{name}: 'epoch' should be the int {expected} (the last completed epoch), "
    "found {detail}.",
    "bad_loss": "{name}: 'loss' should be a finite Python float (loss.item()), found {detail}.",
    "tensor_loss": "{name}: 'loss' is a tensor; it loads, but store loss.item() so the "
    "checkpoint does not keep a graph-attached tensor.",
    "no_optimizer_state": "{name} has model weights but no Adam moments (exp_avg, exp_avg_sq). "
    "Resuming from it restarts Adam from zero: save optimizer.state_dict() after training steps.",
    "stale_optimizer_state": "{name}: the optimizer state is from step {found}, but a checkpoint "
    "of epoch {epoch} follows {expected} Adam steps. Save optimizer.state_dict() in the same "
    "epoch as the model, not from an earlier or later moment.",
    "optimizer_state": "{name}: the optimizer state is not Adam's for this model ({detail}).",
    "not_best": "{name} should hold the lowest validation loss of the run ({expected:.4f} at "
    "epoch {epoch}), found {detail}. Save 'best' only when the validation loss improves.",
    # verify
    "loss_mismatch": "{name}: the recorded {key} ({recorded:.4f}) does not match the loss of "
    "its own weights on the grading data ({recomputed:.4f}).",
    "not_reproduced": "{name}: re-running your notebook does not produce the file you submitted "
    "({detail}). Restart the kernel, run all cells once, then export, so the files come from the "
    "notebook you submit.",
    # resume
    "no_resume_advantage": "{name}: resuming with its optimizer state is no better than a fresh "
    "Adam (loss ratio {ratio:.2f}, expected at least {threshold:.2f}). The saved optimizer state "
    "is missing, stale or not from this run.",
    "discontinuous": "The first resumed epoch's loss ({after:.4f}) jumped above the last "
    "pre-crash loss ({before:.4f}) by more than {tolerance:.0%}: the resume did not restore the "
    "optimizer state (Adam restarted) or the model.",
    "optimizer_not_resumed": "resumed_optimizer ended the resumed training at step {found}; an "
    "Adam loaded with checkpoint['optimizer_state_dict'] continues from the checkpoint's {saved} "
    "steps and ends at {expected}. A fresh Adam restarts its moments from zero: load the "
    "optimizer state too.",
    "no_history": "The crash run recorded no loss history to compare ({detail}): fill "
    "history_before and history_after by running both cells.",
    "not_bit_identical": "Your checkpoint carries the RNG state, so on the CPU resuming must "
    "reproduce epoch {epoch} exactly: expected loss {expected!r}, found {found!r}. Restore it with "
    "torch.set_rng_state(checkpoint['rng_state']) right before the first resumed epoch.",
    "resume_epoch": "Training should resume at epoch {expected} (checkpoint['epoch'] + 1), "
    "found {detail}: one epoch is trained twice or skipped.",
    # early stopping
    "early_stopping": "EarlyStopping differs from the reference on {detail}.",
    "not_restored": "The final model does not hold the best checkpoint's weights: restore the "
    "best weights when early stopping ends.",
    # isolation
    "timeout": "The check of {name} ran longer than {seconds} s and was stopped.",
    "checker_crashed": "The checker stopped unexpectedly: {detail}",
}


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


def problem(code, **details):
    """A Problem with its student-facing message filled in."""
    return Problem(code, MESSAGES[code].format(**details))


@dataclass
class Verdict:
    """The outcome of one check: ok when no problem was found."""

    check: str
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # hints that cost nothing
    files: dict = field(default_factory=dict)  # path -> fingerprint of each file that loaded
    plot: dict = field(default_factory=dict)  # numbers for the feedback's picture (see resume_picture)

    @property
    def ok(self):
        return not self.problems

    def to_dict(self):
        return {"check": self.check, "ok": self.ok, "notes": self.notes, "files": self.files,
                "plot": self.plot, "problems": [asdict(p) for p in self.problems]}

    @classmethod
    def from_dict(cls, d):
        return cls(d["check"], [Problem(**p) for p in d["problems"]], d.get("notes", []), d.get("files", {}),
                   d.get("plot", {}))

    def render(self):
        """The text a student sees for this check."""
        lines = [f"- {p.message} [{p.code}]" for p in self.problems]
        lines += [f"- Hint: {n}" for n in self.notes]
        return "\n".join(lines) or "- OK"


def resume_picture(plot):
    """PNG bytes: the crash checkpoint's recorded loss, then the grader's first resumed epoch with
    the checkpoint's Adam state and with a fresh Adam, as the epoch's mean loss so far (its last
    point is the epoch loss the resume check compares), and a dotted line at the resume.

    `plot` holds 'epoch', 'loss' (as recorded), 'restored' and 'fresh' (batch losses)."""
    from matplotlib.figure import Figure  # not pyplot: no global state in otter's process

    fig = Figure(figsize=(6.4, 3.4), dpi=90, layout="constrained")
    ax = fig.subplots()
    epoch = plot["epoch"]
    for key, label, color in (("restored", "resumed with your optimizer state", "tab:blue"),
                              ("fresh", "resumed with a fresh Adam (weights only)", "tab:orange")):
        batches = plot[key]
        x = [epoch + (i + 1) / len(batches) for i in range(len(batches))]
        running = [total / (i + 1) for i, total in enumerate(itertools.accumulate(batches))]
        ax.plot(x, running, color=color, label=label)
    if plot.get("loss") is not None:
        ax.plot([epoch], [plot["loss"]], "ko", label=f"'loss' recorded at epoch {epoch}")
    ax.axvline(epoch, color="gray", linestyle=":")
    ax.annotate("Resume", (epoch, 0), xycoords=("data", "axes fraction"), xytext=(3, 4),
                textcoords="offset points", color="gray")
    ax.set(xlabel="epoch", ylabel="training loss (mean so far)",
           title="Your checkpoints/crash.pth, resumed by the grader")
    ax.legend(fontsize="small")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def html_summary(notes, plot, events=()):
    """The top of a student's feedback, as HTML (Gradescope shows it with output_format 'html'):
    what happened when the grader ran the notebook, notes on the files, the resume picture."""
    parts = []
    for title, items in (("When the grader ran your notebook:", events), ("Notes on your submission:", notes)):
        if items:
            lis = "".join(f"<li>{html.escape(n, quote=False)}</li>" for n in items)
            parts.append(f"<p>{title}</p><ul>{lis}</ul>")
    if plot:
        png = base64.b64encode(resume_picture(plot)).decode()
        parts.append("<p>Why the optimizer state matters: your crash checkpoint, resumed for one epoch "
                     "twice on the grading data with the same data order and dropout masks.</p>"
                     f'<img alt="loss curves after resuming from checkpoints/crash.pth" '
                     f'src="data:image/png;base64,{png}">')
    return "\n".join(parts)
