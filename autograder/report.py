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


def feedback_summary(assignment, verdicts, notes=(), events=()):
    """The summary of one grading: `events` of the run, `notes` on the upload and the file
    checks' hints, then the lesson's picture of the `verdicts` (its picture module)."""
    hints = [n for v in verdicts.values() for n in v.get("notes", [])]
    return html_summary([*notes, *hints], assignment.lesson("picture").feedback_picture(verdicts), events)


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
