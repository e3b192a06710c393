"""Exports: nbgrader's columns, real CSV quoting, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
from datetime import datetime

from nbgrader.api import Gradebook

from autograder.exports import cell, export_nbgrader


def test_a_cell_a_student_controls_cannot_be_a_formula():
    assert [cell(v) for v in ("=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "ada", None, 1.5)] == [
        "'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "ada", "", "1.5"]


def test_nbgrader_csv_quotes_ids_with_commas_and_escapes_formulas(tmp_path):
    with Gradebook(f"sqlite:///{tmp_path / 'gb.db'}") as gb:
        gb.update_or_create_assignment("01_a", duedate=datetime(2026, 1, 1))
        for student in ("=cmd|' /C calc'!A0", "smith, jane"):
            gb.update_or_create_student(student)
        gb.db.commit()
        export_nbgrader(gb, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                             "raw_score", "late_submission_penalty", "score", "max_score"]
    assert sorted(r["student_id"] for r in rows) == ["'=cmd|' /C calc'!A0", "smith, jane"]
    assert {r["score"] for r in rows} == {"0.0"} and {r["duedate"] for r in rows} == {"2026-01-01 00:00:00"}
