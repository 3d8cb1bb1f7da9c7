"""The feedback's figure for this lesson: the crash checkpoint resumed by the grader, with its Adam
state and with a fresh Adam (the numbers come from resume.check_crash_resumes)."""

import io
import itertools

from ..report import Figure

CAPTION = ("Why the optimizer state matters: your crash checkpoint, resumed for one epoch twice on the "
           "grading data with the same data order and dropout masks.")
ALT = "loss curves after resuming from checkpoints/crash.pth"


def feedback_picture(verdicts):
    """The Figure for the top of the feedback, or None when the crash checkpoint was not resumed.

    Args:
        verdicts: {check name: verdict dict} of the file checks.
    """
    plot = verdicts.get("crash", {}).get("plot")
    return Figure(resume_picture(plot), CAPTION, ALT) if plot else None


def resume_picture(plot):
    """PNG bytes: the crash checkpoint's recorded loss, then the grader's first resumed epoch with
    the checkpoint's Adam state and with a fresh Adam, as the epoch's mean loss so far (its last
    point is the epoch loss the resume check compares), and a dotted line at the resume.

    `plot` holds 'epoch', 'loss' (as recorded), 'restored' and 'fresh' (batch losses)."""
    from matplotlib.figure import Figure as Canvas  # not pyplot: no global state in otter's process

    fig = Canvas(figsize=(6.4, 3.4), dpi=90, layout="constrained")
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
