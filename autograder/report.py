"""The top of a student's feedback, as HTML (Gradescope shows it with output_format 'html'): what
happened when the grader ran the notebook, notes on the submission, and the lesson's figure."""

import base64
import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """A picture for the feedback, drawn by the lesson (its picture module)."""

    png: bytes
    caption: str
    alt: str


def first_line(source, width=60):
    """A cell named by its first non-blank line, cut to `width` characters."""
    return next((line.strip() for line in source.splitlines() if line.strip()), "")[:width]


def describe_cell(number, source):
    """A student's cell as the feedback names it: its number in the notebook and first line."""
    return f"cell {number} (`{first_line(source)}`)" if number else "a cell the grader added"


def cell_events(number, source, outputs, stop_error, time_limit, output_limit):
    """What the grader's bounds did to one executed cell (its `outputs`), in the feedback's words:
    stopped at the time limit (the error `stop_error` names), output cut, out of memory."""
    found, cell = [], describe_cell(number, source)
    for out in outputs:
        if out.get("ename") == stop_error:
            found.append(f"{cell} ran past the grader's limit of {time_limit} s and was stopped; the notebook went "
                         "on with the next cell.")
        elif out.get("output_type") == "stream" and "[output cut by the grader" in out.get("text", ""):
            found.append(f"{cell} printed over {output_limit:,} characters; the rest of its output was dropped.")
        elif out.get("ename") == "MemoryError" or "can't allocate memory" in out.get("evalue", ""):
            found.append(f"{cell} ran out of memory.")
    return found


def feedback_summary(assignment, verdicts, notes=(), events=()):
    """The summary of one grading: `events` of the run, `notes` on the upload and the file
    checks' hints, then the lesson's picture of the `verdicts`."""
    hints = [n for v in verdicts.values() for n in v.get("notes", [])]
    return html_summary([*notes, *hints], assignment.lesson.feedback_picture(verdicts), events)


def html_summary(notes, figure=None, events=()):
    """The HTML summary: `events` of the run and `notes`, each escaped, then `figure`, if any."""
    parts = []
    for title, items in (("When the grader ran your notebook:", events), ("Notes on your submission:", notes)):
        if items:
            lis = "".join(f"<li>{html.escape(n, quote=False)}</li>" for n in items)
            parts.append(f"<p>{title}</p><ul>{lis}</ul>")
    if figure:
        png = base64.b64encode(figure.png).decode()
        parts.append(f'<p>{html.escape(figure.caption, quote=False)}</p><img alt="{html.escape(figure.alt)}" '
                     f'src="data:image/png;base64,{png}">')
    return "\n".join(parts)
