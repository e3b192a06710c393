"""Exports: the gradebook's grades as files another system imports.

Every export reads the gradebook (scores, late penalties, the roster's names) and, where it shows
feedback, the results kept in OUT/results/ (the messages the grader wrote, which never hold a
hidden check's expected value). The formats are the table FORMATS, which `autograder export OUT
--format F --to FILE` offers, and nbgrader's own `nbgrader export --db URL --to FILE
--exporter=autograder.exports.<Name>Exporter` reaches too (NbgraderExporter, CanvasExporter,
MoodleExporter, GradescopeExporter: the same file). They are:

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
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from nbgrader.api import Gradebook
from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

from autograder.gradebook import graded_assignments, nbgrader_rows
from autograder.results import ResultStore

NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                    "email", "raw_score", "late_submission_penalty", "score", "max_score"]
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["First name", "Last name", "Username", "User ID", "Email address"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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


@dataclass(frozen=True)
class Format:
    """An export format: `write(gb, to, assignments, out)` writes the export of `assignments` to
    `to` (a file, or a folder), `out` being the folder graded into (it holds results/)."""

    description: str  # one line: `autograder export --help` lists it
    write: Callable[[Gradebook, Path, list[str], Path], object]
    # nbgrader's CSV covers every assignment of the gradebook, graded or not, as `nbgrader export`
    # does; the others only the graded ones
    every_assignment: bool = False


# The export formats, which `autograder export --format` offers and `nbgrader export
# --exporter=autograder.exports.<Name>Exporter` reaches: a new format is an entry here and its
# Exporter class below.
FORMATS = {
    "nbgrader": Format("nbgrader's CSV: a row per student and assignment, `nbgrader export`'s "
                       "columns",
                       lambda gb, to, assignments, out: export_nbgrader(gb, to, assignments),
                       every_assignment=True),
    "canvas": Format("Canvas's gradebook import CSV: a row per student, a column per assignment",
                     lambda gb, to, assignments, out: export_canvas(gb, to, assignments)),
    "moodle": Format("Moodle's CSV grade import: a row per student, a column per assignment",
                     lambda gb, to, assignments, out: export_moodle(gb, to, assignments)),
    "gradescope": Format("Gradescope's results.json per submission: TO/<student>/<assignment>/"
                         "results.json",
                         lambda gb, to, assignments, out: export_gradescope(
                             gb, to, assignments, ResultStore(out / "results").every())),
}


def export(gb: Gradebook, fmt: str, to: Path, out: Path,
           assignments: list[str] | None = None) -> list[str]:
    """Write the `fmt` export (a name in FORMATS) of the gradebook to `to`; the assignments it
    covers.

    Raises ValueError for an unknown assignment or when nothing is graded."""
    graded = graded_assignments(gb, assignments)
    if not graded:
        raise ValueError("nothing is graded in this gradebook"
                         + (f" for {', '.join(assignments)}" if assignments else "")
                         + ": run `autograder grade` first")
    form = FORMATS[fmt]
    covered = ([a.name for a in gb.assignments if assignments is None or a.name in assignments]
               if form.every_assignment else graded)
    to.parent.mkdir(parents=True, exist_ok=True)
    form.write(gb, to, covered, out)
    return covered


class AutograderExporter(ExportPlugin):
    """An export of FORMATS as nbgrader's export plugin: `nbgrader export
    --exporter=autograder.exports.CanvasExporter --to FILE` (with --db, --assignment) writes what
    `autograder export OUT --format canvas --to FILE` writes."""

    format = ""  # its name in FORMATS, set by each subclass
    out = Unicode("", help="the folder graded into, whose results/ hold the grader's messages (the "
                  "Gradescope export shows them); default: the folder of a SQLite gradebook"
                  ).tag(config=True)

    def export(self, gradebook: Gradebook) -> None:
        # nbgrader's own CSV exporter writes grades.csv when no --to is given: none of ours guesses
        # a name
        if not self.to:
            self._fail(f"give the file to write: --to FILE ({self.format})")
        if self.student:
            self._fail("--student: autograder's exporters write the whole class")
        url = gradebook.engine.url
        if self.out:
            out = Path(self.out)
        elif url.get_backend_name() == "sqlite" and url.database:
            out = Path(url.database).parent
        else:
            self._fail("give the folder graded into: --AutograderExporter.out=OUT")
        try:
            covered = export(gradebook, self.format, Path(self.to).resolve(), out.resolve(),
                             [str(a) for a in self.assignment] or None)
        except ValueError as error:
            self._fail(str(error))
        self.log.info("%s: %s (%s)", self.format, self.to, ", ".join(covered))

    def _fail(self, message: str) -> NoReturn:
        """As nbgrader's apps fail: the message logged, exit status 1, no traceback."""
        self.log.error("%s", message)
        raise SystemExit(1)


class NbgraderExporter(AutograderExporter):
    format = "nbgrader"


class CanvasExporter(AutograderExporter):
    format = "canvas"


class MoodleExporter(AutograderExporter):
    format = "moodle"


class GradescopeExporter(AutograderExporter):
    format = "gradescope"
