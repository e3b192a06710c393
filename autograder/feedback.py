"""Feedback a student can learn from, without handing the next student the answer.

One HTML page per submitted notebook (nbgrader's layout: feedback/<student>/<assignment>/<notebook>.html):
the score, then for each check its name, objective, points and the message the engine wrote for
it (a failed hidden check's message names what was checked, what came back and the likely
misconception, never the test's code, its inputs' construction or the expected value).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from pathlib import Path

from autograder.results import NotebookResult

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 52rem; margin: 2rem auto; line-height: 1.45; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: .4rem; vertical-align: top; text-align: left; }}
.passed {{ color: #1a7f37; }} .failed, .error {{ color: #cf222e; }} .not-run {{ color: #6e7781; }}
pre {{ white-space: pre-wrap; margin: 0; font-size: .9rem; }} .note {{ background: #fff8c5; padding: .5rem; }}
</style></head><body>
<h1>{title}</h1>
<p><b>Autograded score: {score:g} of {max_score:g} points.</b>{late}</p>
{notes}
<table><tr><th>check</th><th>objective</th><th>points</th><th>result</th></tr>
{rows}
</table>
{manual}
</body></html>
"""


def _row(check) -> str:
    message = f"<pre>{escape(check.message)}</pre>" if check.message else ""
    return (f'<tr><td>{escape(check.grade_id)}</td><td>{escape(check.objective or "")}</td>'
            f'<td>{check.points:g} / {check.max_points:g}</td>'
            f'<td><span class="{escape(check.status)}">{escape(check.status)}</span>{message}</td></tr>')


def page(result: NotebookResult, timestamp: datetime | None = None, duedate: datetime | None = None) -> str:
    late = ""
    if timestamp and duedate and timestamp > duedate:
        late = f" Submitted {timestamp:%Y-%m-%d %H:%M} UTC, after the due date {duedate:%Y-%m-%d %H:%M} UTC."
    notes = "".join(f'<p class="note">{escape(p)}</p>' for p in result.problems)
    if not result.sandboxed:
        notes += '<p class="note">Graded without the sandbox (the instructor opted out on this machine).</p>'
    manual = ""
    if result.manual:
        items = "".join(f"<li>{escape(g)}</li>" for g in result.manual)
        manual = f"<p>Graded by hand (not in the score above):</p><ul>{items}</ul>"
    return PAGE.format(title=escape(f"{result.assignment}: feedback for {result.student}"), score=result.score,
                       max_score=result.max_score, late=late, notes=notes,
                       rows="\n".join(_row(c) for c in result.checks), manual=manual)


def write_feedback(results: list[NotebookResult], out: Path, timestamps: dict, duedates: dict) -> list[Path]:
    """OUT/feedback/<student>/<assignment>/<notebook>.html for every result."""
    written = []
    for result in results:
        path = out / "feedback" / result.student / result.assignment / f"{result.notebook}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page(result, timestamps.get((result.student, result.assignment)),
                             duedates.get(result.assignment)))
        written.append(path)
    return written
