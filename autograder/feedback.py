"""Feedback a student can learn from, without handing the next student the answer.

One HTML page per submitted notebook (nbgrader's layout:
feedback/<student>/<assignment>/<notebook>.html), made from the templates in autograder/templates/
(Jinja2, which escapes everything a student wrote): the score, then for each check its name, its
objective's text, points and the message the engine wrote for it (a failed hidden check's message
names what was checked, what came back and the likely misconception, never the test's code, its
inputs' construction or the expected value), and beside a failed check the student's own code of the
answers it used, once a page (a later failed check of the same answer links to it). Math is typeset
offline by the MathJax copied into feedback/.mathjax (hand it back with a student's pages).

`write_student_pages` writes OUT/feedback/<student>/index.html for each student graded into OUT:
every graded assignment with its score, maximum and late penalty, links to the feedback pages, and
the misconceptions named most often in the student's failed checks (templates/student.html.j2).
"""

from __future__ import annotations

import functools
import shutil
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import jinja2
import jupyter_server_mathjax
from nbgrader.api import Assignment, Gradebook, SubmittedAssignment

from autograder.gradebook import graded_assignments, nbgrader_rows, submissions_with_grades
from autograder.results import NotebookResult, ResultStore, misconception_counts

TEMPLATES = Path(__file__).parent / "templates"
MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"
TOP_MISCONCEPTIONS = 5


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
        objectives=objectives, late=late, mathjax=mathjax, code=code_shown(result))


def code_shown(result: NotebookResult) -> dict[str, dict[str, str | None]]:
    """Where the page shows the student's code of each answer a failed check used: {check: {answer:
    None where that check shows it, else the earlier check that does}}. Code is shown once a page:
    several failed checks of one function would otherwise each reprint it."""
    first: dict[str, str] = {}
    shown: dict[str, dict[str, str | None]] = {}
    for check in result.checks:
        if check.status == "passed":
            continue
        shown[check.grade_id] = {}
        for answer in check.answers:
            if result.answers.get(answer):
                earlier = first.setdefault(answer, check.grade_id)
                shown[check.grade_id][answer] = None if earlier == check.grade_id else earlier
    return shown


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


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def _late(seconds: float) -> str:
    days, hours = int(seconds // 86400), round(seconds % 86400 / 3600)
    return " ".join(part for part in (f"{days} day{'s' * (days != 1)}" if days else "",
                                      f"{hours} h" if hours or not days else "") if part) + " late"


def _feedback_link(out: Path, student: str, assignment: str, notebook: str) -> str | None:
    """The link from OUT/feedback/<student>/index.html to a notebook's feedback page, if it was
    written."""
    if (out / "feedback" / student / assignment / f"{notebook}.html").is_file():
        return f"{quote(assignment)}/{quote(notebook)}.html"
    return None


def student_page(student, out: Path, own: list[NotebookResult], assignments: list[Assignment],
                 submissions: dict[tuple[str, str], SubmittedAssignment],
                 scores: dict[tuple[str, str], dict]) -> str:
    """A student's grades across `assignments` (graded ones) as HTML, from the gradebook's
    `submissions` and `scores` (rows of `nbgrader_rows`), both by (student id, assignment), and the
    student's `own` kept results."""
    rows, kept = [], {(r.assignment, r.notebook): r for r in own}
    for assignment in assignments:
        name = assignment.name
        row = {"name": name, "due": _when(assignment.duedate), "max": assignment.max_score,
               "score": 0.0, "raw": 0.0, "penalty": 0.0, "late": "", "pending": 0,
               "submitted": None, "links": []}
        submission = submissions.get((student.id, name))
        if submission is None:
            rows.append(row)
            continue
        scored = scores[student.id, name]
        row.update(raw=scored["raw_score"], penalty=scored["late_submission_penalty"],
                   score=scored["score"], submitted=_when(submission.timestamp) or "time unknown",
                   late=(_late(submission.total_seconds_late)
                         if submission.total_seconds_late > 0 else ""),
                   # not graded: its checks wait for the grader
                   pending=0 if scored["score"] is None
                   else sum(g.needs_manual_grade for n in submission.notebooks for g in n.grades))
        for notebook in submission.notebooks:
            result = kept.get((name, notebook.name))
            if result is not None and not result.submitted:
                row["submitted"] = "not submitted"
            link = _feedback_link(out, student.id, name, notebook.name)
            if link:
                row["links"].append({"href": link, "text": notebook.name})
        rows.append(row)
    pages = {(r.assignment, c.grade_id): _feedback_link(out, student.id, r.assignment, r.notebook)
             for r in own for c in r.checks}
    by_phrase: dict[str, list] = {}
    for (assignment, check, phrase), count in misconception_counts(own).items():
        by_phrase.setdefault(phrase, []).append({"text": f"{assignment}, {check}", "count": count,
                                                 "href": pages[assignment, check]})
    misconceptions = sorted(({"phrase": p, "count": sum(w["count"] for w in where), "where": where}
                             for p, where in by_phrase.items()),
                            key=lambda m: -m["count"])[:TOP_MISCONCEPTIONS]
    full_name = " ".join(n for n in (student.first_name, student.last_name) if n)
    return environment().get_template("student.html.j2").render(
        title=f"Grades of {full_name or student.id}", student=student, full_name=full_name,
        rows=rows, total=sum(r["score"] or 0.0 for r in rows), top=sum(r["max"] for r in rows),
        misconceptions=misconceptions, more=len(by_phrase) - len(misconceptions),
        failed=any(c.status != "passed" for r in own for c in r.checks), mathjax="../.mathjax")


def write_student_pages(gb: Gradebook, out: Path) -> list[Path]:
    """OUT/feedback/<student>/index.html for every student with results in OUT, over every graded
    assignment."""
    own: dict[str, list[NotebookResult]] = {}
    for (student, _, _), result in ResultStore(out / "results").every().items():
        own.setdefault(student, []).append(result)
    graded = set(graded_assignments(gb))
    assignments = [a for a in gb.assignments if a.name in graded]
    # The whole gradebook in a few queries, not a few per student: a class of thousands has
    # thousands of pages (nbgrader's scores are correlated subqueries, one query each per submission
    # when read from the objects).
    submissions = submissions_with_grades(gb)
    scores = {(row["student_id"], row["assignment"]): row
              for row in nbgrader_rows(gb, sorted(graded))}
    copy_mathjax(out / "feedback")
    written = []
    for student in gb.students:
        if student.id in own:
            path = out / "feedback" / student.id / "index.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(student_page(student, out, own[student.id], assignments, submissions,
                                         scores))
            written.append(path)
    return written
