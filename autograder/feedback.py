"""Feedback a student can learn from, without handing the next student the answer.

One HTML page per submitted notebook (nbgrader's layout:
feedback/<student>/<assignment>/<notebook>.html), made from the templates in autograder/templates/
(Jinja2, which escapes everything a student wrote): the score, then for each check its name, its
objective's text, points and the message the engine wrote for it (a failed hidden check's message
names what was checked, what came back and the likely misconception, never the test's code, its
inputs' construction or the expected value), and beside a failed check the student's own code of the
answers it used. Math is typeset offline by the MathJax copied into feedback/.mathjax (hand it back
with a student's pages).
"""

from __future__ import annotations

import functools
import shutil
from datetime import datetime
from pathlib import Path

import jinja2
import jupyter_server_mathjax

from autograder.results import NotebookResult

TEMPLATES = Path(__file__).parent / "templates"
MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"


@functools.cache
def environment() -> jinja2.Environment:
    """The grader's page templates, autoescaped: text a student controls cannot become markup (one
    per process: Jinja2 compiles each template once in it)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              trim_blocks=True)


def copy_mathjax(folder: Path) -> None:
    """MathJax beside the pages, once (the pages load it by a relative path, with no network)."""
    if not (folder / ".mathjax" / "MathJax.js").exists():
        shutil.copytree(MATHJAX, folder / ".mathjax", dirs_exist_ok=True)


def page(result: NotebookResult, objectives: dict[str, str], timestamp: datetime | None = None,
         duedate: datetime | None = None, penalty: float | None = None,
         mathjax: str = "../../.mathjax") -> str:
    late = None
    # never a notebook not handed in
    if result.submitted and timestamp and duedate and timestamp > duedate:
        late = {"when": f"{timestamp:%Y-%m-%d %H:%M}", "due": f"{duedate:%Y-%m-%d %H:%M}",
                "penalty": penalty}
    return environment().get_template("feedback.html.j2").render(
        title=f"{result.assignment}: feedback for {result.student}", result=result,
        objectives=objectives, late=late, mathjax=mathjax)


def write_feedback(results: list[NotebookResult], out: Path, timestamps: dict, duedates: dict,
                   objectives: dict[str, dict[str, str]],
                   penalties: dict | None = None) -> list[Path]:
    """OUT/feedback/<student>/<assignment>/<notebook>.html for every result, and
    OUT/feedback/.mathjax. `penalties`: {(student, assignment, notebook): late penalty in points},
    as the gradebook holds them."""
    copy_mathjax(out / "feedback")
    written = []
    for result in results:
        path = out / "feedback" / result.student / result.assignment / f"{result.notebook}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page(result, objectives.get(result.assignment, {}),
                             timestamps.get((result.student, result.assignment)),
                             duedates.get(result.assignment),
                             (penalties or {}).get((result.student, result.assignment,
                                                    result.notebook))))
        written.append(path)
    return written
