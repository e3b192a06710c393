"""Outputs, the last stage: what the instructor and the students get from a graded class.

OUT/grades.csv (nbgrader's export columns, read from the gradebook, safe for spreadsheets), OUT/feedback/ (a page per notebook),
OUT/report.md with its figures, and OUT/intake.json (the files that were not graded, and why).
"""

from __future__ import annotations

import json
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.course import Course
from autograder.exports import export_nbgrader
from autograder.feedback import write_feedback
from autograder.intake import Intake
from autograder.report import write_report
from autograder.results import NotebookResult


def write_outputs(results: list[NotebookResult], out: Path, course: Course, db_url: str,
                  found: Intake) -> dict[str, Path]:
    """Every output of a graded class; {name: path} of what was written."""
    with Gradebook(db_url) as gb:
        export_nbgrader(gb, out / "grades.csv")
        duedates = {a.name: a.duedate for a in gb.assignments}
        timestamps = {(s.student.id, a.name): s.timestamp for a in gb.assignments
                      for s in gb.assignment_submissions(a.name)}
    write_feedback(results, out, timestamps, duedates)
    sources = {f"{student}/{assignment}": t.source for (student, assignment), t in sorted(found.times.items())}
    (out / "intake.json").write_text(json.dumps({"problems": found.problems, "time_sources": sources}, indent=1))
    objectives = {a: lesson.objectives for a in course.assignments for lesson in course.lessons(a)}
    report = write_report(results, out, objectives, intake_problems=found.problems, timestamps=timestamps,
                          duedates=duedates, time_sources={k: t.source for k, t in found.times.items()})
    return {"grades": out / "grades.csv", "feedback": out / "feedback", "report": report}
