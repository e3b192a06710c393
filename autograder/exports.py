"""Exports: the gradebook's grades as files another system imports, and a page per student.

Every export reads the gradebook (scores, late penalties, the roster's names) and, where it shows
feedback, the results kept in OUT/results/ (the messages the grader wrote, which never hold a
hidden check's expected value). `autograder export OUT --format F --to FILE` writes one of:

- `nbgrader`: nbgrader's own CSV (`nbgrader export`'s columns, one row per student and assignment).
- `canvas`: Canvas's gradebook import (a row per student, a column per graded assignment), in the
  layout Canvas's own importer reads (app/models/gradebook_importer.rb): Student, ID, SIS User ID,
  SIS Login ID, Section, then one column per assignment named by its title, and a second row
  starting "Points Possible" with each assignment's maximum. Student is the roster's "Last, First"
  (Canvas's sortable name) or the student id, ID the roster's `lms_user_id` (Canvas's numeric user
  id), SIS Login ID the grader's student id; Canvas matches a row by ID, then SIS ids, then name.
- `moodle`: Moodle's CSV grade import (grade/import/csv): any columns, the instructor maps one of
  them to a user field ("Identify user by") and each other one to a grade item. Its columns:
  First name, Last name, Username (the student id), User ID (`lms_user_id`), Email address, then
  one per graded assignment.
- `gradescope`: Gradescope's autograder results, TO/<student>/<assignment>/results.json (the format
  of gradescope-autograders.readthedocs.io/en/latest/specs/): a test per graded cell with its name,
  score, max_score, the grader's message as output and visibility; the score after the late penalty.

Scores are nbgrader's: autograded plus hand-graded points, minus the late penalty, 0 when nothing
was submitted. CSV is written with real quoting (nbgrader joins fields with commas, so an id holding
a comma would shift every later column), each cell on one line, and every text cell made safe for
spreadsheets: one starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a
formula by Excel, LibreOffice or Google Sheets, so it gets a leading apostrophe. Gradescope renders
a test's output as HTML unless told otherwise, so every results.json says its texts are plain text.

`write_student_pages` writes OUT/feedback/<student>/index.html for each student graded into OUT:
every graded assignment with its score, maximum and late penalty, links to the feedback pages, and
the misconceptions named most often in the student's failed checks (templates/student.html.j2).
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from nbgrader.api import (
    Assignment,
    Grade,
    Gradebook,
    GradeCell,
    SolutionCell,
    Student,
    SubmittedAssignment,
    SubmittedNotebook,
)
from sqlalchemy import func, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from autograder.feedback import copy_mathjax, environment
from autograder.report import misconception_counts
from autograder.results import NotebookResult, ResultStore

NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                    "email", "raw_score", "late_submission_penalty", "score", "max_score"]
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["First name", "Last name", "Username", "User ID", "Email address"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TOP_MISCONCEPTIONS = 5


def cell(value) -> str:
    """A CSV cell: '' for None, numbers as nbgrader writes them, text on one line that cannot start
    a formula."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    # One row, one line: importers that read a file line by line (Canvas sniffs its delimiter so)
    # see every row whole.
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def nbgrader_rows(gb: Gradebook, assignments: list[str] | None = None,
                  students: list[str] | None = None) -> list[dict]:
    """One row per (assignment, student) of the gradebook (of `assignments` and `students` only,
    when given), as `nbgrader export` computes it, in its order on SQLite (assignments by due date,
    none first, then name; students by last and first name, then id). Three queries whatever the
    size of the class, where nbgrader's export makes three per row."""
    scope = None if students is None else set(students)
    chosen = [a for a in gb.db.execute(select(Assignment.id, Assignment.name, Assignment.duedate,
                                              Assignment.max_score))
              if assignments is None or a.name in assignments]
    chosen.sort(key=lambda a: (a.duedate is not None, a.duedate or datetime.min, a.name))
    roster = [s for s in gb.db.execute(select(Student.id, Student.last_name, Student.first_name,
                                              Student.email))
              if scope is None or s.id in scope]
    roster.sort(key=lambda s: (s.last_name or "", s.first_name or "", s.id))
    submitted = {(s.assignment_id, s.student_id): s
                 for s in gb.db.execute(_submission_scores([a.id for a in chosen]))}
    rows = []
    for assignment in chosen:
        for student in roster:
            row = {"assignment": assignment.name, "duedate": assignment.duedate,
                   "student_id": student.id, "last_name": student.last_name,
                   "first_name": student.first_name, "email": student.email,
                   "max_score": assignment.max_score}
            submission = submitted.get((assignment.id, student.id))
            if submission is None:  # nothing submitted: nbgrader exports a zero
                row.update(timestamp=None, raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            # the grader failed on it: an empty score, never a 0 that reads as a grade
            elif submission.not_graded:
                row.update(timestamp=submission.timestamp, raw_score=None,
                           late_submission_penalty=submission.penalty, score=None)
            else:
                row.update(timestamp=submission.timestamp, raw_score=submission.score,
                           late_submission_penalty=submission.penalty,
                           score=max(0.0, submission.score - submission.penalty))
            rows.append(row)
    return rows


def _submission_scores(assignment_ids: list[str]):
    """Each submission of these assignments with nbgrader's SubmittedAssignment.score (the sum of
    its grades' scores) and late_submission_penalty (the sum of its notebooks'), summed per
    submission in grouped queries rather than nbgrader's correlated subquery per row; and
    `not_graded`, its autograded cells (grade cells that are no answer's) that have no score at all,
    which only a notebook the grader failed on leaves (gradebook._scores)."""
    # both are rows of nbgrader's base_cell table: one needs its own alias
    solution = aliased(SolutionCell)
    answers = select(solution.id).where(solution.name == GradeCell.name,
                                        solution.notebook_id == GradeCell.notebook_id).exists()
    ungraded = (select(SubmittedNotebook.assignment_id.label("submission"),
                       func.count().label("cells"))
                .join(Grade, Grade.notebook_id == SubmittedNotebook.id)
                .join(GradeCell, GradeCell.id == Grade.cell_id)
                .where(Grade.auto_score.is_(None), Grade.manual_score.is_(None), ~answers)
                .group_by(SubmittedNotebook.assignment_id).subquery())
    scores = (select(SubmittedNotebook.assignment_id.label("submission"),
                     func.sum(Grade.score).label("score"))
              .join(Grade, Grade.notebook_id == SubmittedNotebook.id)
              .group_by(SubmittedNotebook.assignment_id)
              .subquery())
    penalties = (select(SubmittedNotebook.assignment_id.label("submission"),
                        func.sum(SubmittedNotebook.late_submission_penalty).label("penalty"))
                 .group_by(SubmittedNotebook.assignment_id).subquery())
    return (select(SubmittedAssignment.assignment_id, SubmittedAssignment.student_id,
                   SubmittedAssignment.timestamp, func.coalesce(scores.c.score, 0.0).label("score"),
                   func.coalesce(penalties.c.penalty, 0.0).label("penalty"),
                   (func.coalesce(ungraded.c.cells, 0) > 0).label("not_graded"))
            .outerjoin(scores, scores.c.submission == SubmittedAssignment.id)
            .outerjoin(penalties, penalties.c.submission == SubmittedAssignment.id)
            .outerjoin(ungraded, ungraded.c.submission == SubmittedAssignment.id)
            .where(SubmittedAssignment.assignment_id.in_(assignment_ids)))


def write_csv(rows: list[dict], columns: list[str], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell(row[c]) for c in columns] for row in rows)
    return path


def export_nbgrader(gb: Gradebook, path: Path, assignments: list[str] | None = None,
                    students: list[str] | None = None) -> Path:
    """nbgrader's CSV export of the gradebook (of `assignments` and `students` only, when given)."""
    return write_csv(nbgrader_rows(gb, assignments, students), NBGRADER_COLUMNS, path)


def graded_assignments(gb: Gradebook, assignments: list[str] | None = None) -> list[str]:
    """The gradebook's assignments with a recorded submission (of `assignments` only, when given),
    in its order.

    Raises ValueError naming the gradebook's assignments when one of `assignments` is not among
    them."""
    known = [a.name for a in gb.assignments]
    unknown = sorted(set(assignments or ()) - set(known))
    if unknown:
        raise ValueError(f"no assignment {', '.join(unknown)} in the gradebook "
                         f"(there are: {', '.join(known) or 'none'})")
    return [a.name for a in gb.assignments if a.num_submissions
            and (assignments is None or a.name in assignments)]


def _wide(gb: Gradebook, assignments: list[str]) -> tuple[list, dict, dict]:
    """(students, {(student id, assignment): score}, {assignment: max score}) of the graded
    `assignments`."""
    rows = nbgrader_rows(gb, assignments)
    scores = {(r["student_id"], r["assignment"]): None if r["score"] is None
              else round(r["score"], 2)
              for r in rows}
    return gb.students, scores, {r["assignment"]: r["max_score"] for r in rows}


def canvas_name(student) -> str:
    """The Student column: Canvas's sortable name ("Last, First") when the roster has one, else the
    id.

    Canvas reads any row whose first cell contains "Points Possible" as the maxima, so a name
    holding it is written with a lower-case p (Canvas still finds the student by SIS Login ID)."""
    name = ", ".join(n for n in (student.last_name, student.first_name) if n) or student.id
    return name.replace("Points Possible", "Points possible")


def export_canvas(gb: Gradebook, path: Path, assignments: list[str]) -> Path:
    """Canvas's gradebook import: a row per student, a column per assignment, and the Points
    Possible row."""
    students, scores, maxima = _wide(gb, assignments)
    points = {"Student": "Points Possible", **dict.fromkeys(CANVAS_COLUMNS[1:]), **maxima}
    rows = [{"Student": canvas_name(s), "ID": s.lms_user_id, "SIS User ID": None,
             "SIS Login ID": s.id, "Section": None, **{a: scores[s.id, a] for a in assignments}}
            for s in students]
    return write_csv([points, *rows], CANVAS_COLUMNS + assignments, path)


def export_moodle(gb: Gradebook, path: Path, assignments: list[str]) -> Path:
    """Moodle's CSV grade import: the user fields it can identify a student by, then a column per
    assignment."""
    students, scores, _ = _wide(gb, assignments)
    rows = [{"First name": s.first_name, "Last name": s.last_name, "Username": s.id,
             "User ID": s.lms_user_id, "Email address": s.email,
             **{a: scores[s.id, a] for a in assignments}}
            for s in students]
    return write_csv(rows, MOODLE_COLUMNS + assignments, path)


def _points(value: float | None) -> float:
    return round(value or 0.0, 2)


def gradescope_results(submission, kept: dict) -> dict:
    """Gradescope's results.json of one submission (an nbgrader SubmittedAssignment)."""
    tests = []
    for notebook in submission.notebooks:
        result = kept.get((submission.student.id, submission.assignment.name, notebook.name))
        checks = {c.grade_id: c for c in result.checks} if result else {}
        order = [*checks, *(result.manual if result else [])]
        for grade in sorted(notebook.grades,
                            key=lambda g: order.index(g.name) if g.name in order else len(order)):
            if grade.name in checks:
                output = checks[grade.name].message
            elif result is not None and not result.submitted:
                output = "not graded: the notebook was not submitted"
            elif grade.needs_manual_grade:
                output = "a written answer, not graded yet"
            else:
                output = "graded by hand" if grade.manual_score is not None else ""
            name = (grade.name if len(submission.notebooks) == 1
                    else f"{notebook.name}: {grade.name}")
            tests.append({"name": name, "score": _points(grade.score),
                          "max_score": _points(grade.max_score), "output": output,
                          "output_format": "text", "visibility": "visible"})
    penalty = submission.late_submission_penalty or 0.0
    score = max(0.0, submission.score - penalty)
    summary = f"{score:g} of {submission.max_score:g} points"
    if penalty:
        summary += f" ({submission.score:g} before a late penalty of {penalty:g})"
    return {"score": _points(score), "output": summary, "output_format": "text",
            "test_output_format": "text", "test_name_format": "text", "visibility": "visible",
            "tests": tests}


def export_gradescope(gb: Gradebook, folder: Path, assignments: list[str], kept: dict) -> Path:
    """FOLDER/<student>/<assignment>/results.json for every recorded submission of `assignments`,
    but those the grader failed on (no score to report: Gradescope would show a 0)."""
    not_graded = {(r["student_id"], r["assignment"]) for r in nbgrader_rows(gb, assignments)
                  if r["score"] is None}
    for assignment in assignments:
        for submission in gb.assignment_submissions(assignment):
            if (submission.student.id, assignment) in not_graded:
                continue
            path = folder / submission.student.id / assignment / "results.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(gradescope_results(submission, kept), indent=1,
                                       ensure_ascii=False))
    return folder


def export(gb: Gradebook, fmt: str, to: Path, out: Path,
           assignments: list[str] | None = None) -> list[str]:
    """Write the `fmt` export ("nbgrader", "canvas", "moodle" or "gradescope") of the gradebook to
    `to`; the assignments it covers.

    nbgrader's covers the gradebook's assignments as `nbgrader export` does; the others those
    graded. Raises ValueError for an unknown assignment or when nothing is graded."""
    graded = graded_assignments(gb, assignments)
    if not graded:
        raise ValueError("nothing is graded in this gradebook"
                         + (f" for {', '.join(assignments)}" if assignments else "")
                         + ": run `autograder grade` first")
    if fmt == "gradescope":
        export_gradescope(gb, to, graded, ResultStore(out / "results").every())
        return graded
    to.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "nbgrader":
        export_nbgrader(gb, to, assignments)
        return [a.name for a in gb.assignments if assignments is None or a.name in assignments]
    {"canvas": export_canvas, "moodle": export_moodle}[fmt](gb, to, graded)
    return graded


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
    query = gb.db.query(SubmittedAssignment).options(
        joinedload(SubmittedAssignment.assignment), joinedload(SubmittedAssignment.student),
        selectinload(SubmittedAssignment.notebooks).selectinload(SubmittedNotebook.grades))
    submissions = {(s.student.id, s.assignment.name): s for s in query}
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
