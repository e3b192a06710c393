"""Recording: nbgrader's gradebook, written by the orchestrator alone.

nbgrader's SQLite gradebook is not safe for concurrent writers, so workers never open it: they hand
their `NotebookResult` back to the orchestrator, which records it here in one transaction. Every
write is an update-or-create keyed by (student, assignment, notebook, cell), so grading the same
submissions again replaces scores and adds no row; hand-entered manual scores are kept.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from autograder.results import NotebookResult
from mlcourse.lessons import Lesson


def default_db_url(out: Path) -> str:
    return f"sqlite:///{(out / 'gradebook.db').resolve()}"


def redacted(db_url: str) -> str:
    """The gradebook's URL as it may be printed or logged: any password replaced by ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: show nothing of it
        return "<a database URL SQLAlchemy cannot read>"


def define_assignment(gb: Gradebook, assignment: str, lessons: list[Lesson], duedate: datetime | None) -> None:
    """The assignment's structure as `nbgrader generate_assignment` would record it: notebooks,
    grade cells (autograded tests and written answers, with their points) and solution cells."""
    gb.update_or_create_assignment(assignment, **({"duedate": duedate} if duedate else {}))
    for lesson in lessons:
        gb.update_or_create_notebook(lesson.name, assignment)
        for cell in lesson.cells:  # in notebook order, as nbgrader records them
            if cell.kind in ("test", "written"):
                gb.update_or_create_grade_cell(cell.grade_id, lesson.name, assignment, max_score=cell.points,
                                               cell_type=cell.cell_type)
            if cell.kind in ("answer", "written"):
                gb.update_or_create_solution_cell(cell.grade_id, lesson.name, assignment)


def define_course(gb: Gradebook, course, students: list[str], duedates: dict[str, datetime]) -> None:
    """Every assignment of `course` (an autograder.course.Course) and every student, before any grade."""
    for assignment in course.assignments:
        define_assignment(gb, assignment, course.lessons(assignment), duedates.get(assignment))
    # In sorted order: nbgrader lists students by (empty) names, then in creation order.
    for student in sorted(students):
        gb.update_or_create_student(student)
    gb.db.commit()


def record(gb: Gradebook, result: NotebookResult, timestamp: datetime | None, plugin, missing: bool = False) -> None:
    """Write one notebook's result: auto scores, manual cells left for a human, late penalty (nbgrader's `plugin`)."""
    with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy's autoflush warning; harmless
        warnings.simplefilter("ignore", SAWarning)
        submission = gb.update_or_create_submission(result.assignment, result.student, timestamp=timestamp)
    for check in result.checks:
        grade = gb.find_grade(check.grade_id, result.notebook, result.assignment, result.student)
        grade.auto_score = check.points
        grade.needs_manual_grade = False
    for grade_id in result.manual:
        grade = gb.find_grade(grade_id, result.notebook, result.assignment, result.student)
        grade.auto_score = 0.0 if missing else None
        grade.needs_manual_grade = grade.manual_score is None and not missing
    notebook = gb.find_submission_notebook(result.notebook, result.assignment, result.student)
    notebook.flagged = bool(result.problems)
    notebook.late_submission_penalty = None
    gb.db.flush()
    if submission.total_seconds_late > 0:
        penalty = plugin.late_submission_penalty(result.student, notebook.score, submission.total_seconds_late)
        if penalty is not None:
            notebook.late_submission_penalty = min(max(penalty, 0.0), notebook.score)
    gb.db.commit()
