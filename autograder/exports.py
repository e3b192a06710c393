"""Exports: the gradebook's grades as files another system imports.

`nbgrader`: nbgrader's own CSV (`nbgrader export`'s columns, one row per student and assignment),
written with real CSV quoting (nbgrader joins the fields with commas, so an id holding a comma
would shift every later column) and with every text cell made safe for spreadsheets: a cell a
student controls that starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a
formula by Excel, LibreOffice or Google Sheets, so it gets a leading apostrophe.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    """A CSV cell: '' for None, numbers as nbgrader writes them, text that cannot start a formula."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def nbgrader_rows(gb: Gradebook, assignments: list[str] | None = None) -> list[dict]:
    """One row per (assignment, student) of the gradebook (of `assignments` only, when given), as
    `nbgrader export` computes it."""
    rows = []
    for assignment in gb.assignments:
        if assignments is not None and assignment.name not in assignments:
            continue
        for student in gb.students:
            row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                   "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                   "max_score": assignment.max_score}
            try:
                submission = gb.find_submission(assignment.name, student.id)
            except MissingEntry:  # nothing submitted: nbgrader exports a zero
                row.update(timestamp=None, raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            else:
                penalty = submission.late_submission_penalty
                row.update(timestamp=submission.timestamp, raw_score=submission.score,
                           late_submission_penalty=penalty, score=max(0.0, submission.score - penalty))
            rows.append(row)
    return rows


def write_csv(rows: list[dict], columns: list[str], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell(row[c]) for c in columns] for row in rows)
    return path


def export_nbgrader(gb: Gradebook, path: Path, assignments: list[str] | None = None) -> Path:
    """nbgrader's CSV export of the gradebook (of `assignments` only, when given)."""
    return write_csv(nbgrader_rows(gb, assignments), NBGRADER_COLUMNS, path)
