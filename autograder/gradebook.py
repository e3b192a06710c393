"""nbgrader's gradebook, written by the orchestrator alone.

nbgrader's SQLite gradebook is not safe for concurrent writers, so workers never open it: they hand
their `NotebookResult` back to the orchestrator, which records it here in one transaction. Every
write is an update-or-create keyed by (student, assignment, notebook, cell), so grading the same
submissions again replaces scores and adds no row; hand-entered manual scores are kept.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.plugins import LateSubmissionPlugin
from sqlalchemy.exc import SAWarning
from traitlets.config.loader import PyFileConfigLoader

from autograder.course import is_answer, is_test, nbgrader
from autograder.results import NotebookResult


def default_db_url(out: Path) -> str:
    return f"sqlite:///{(out / 'gradebook.db').resolve()}"


def late_plugin(root: Path) -> LateSubmissionPlugin:
    """nbgrader's late-submission penalty as the course's nbgrader_config.py sets it (default: none)."""
    config_file = root / "nbgrader_config.py"
    config = PyFileConfigLoader(config_file.name, str(root)).load_config() if config_file.exists() else None
    return LateSubmissionPlugin(config=config) if config is not None else LateSubmissionPlugin()


def define_assignment(gb: Gradebook, assignment: str, sources: list[Path], duedate: datetime | None) -> None:
    """The assignment's structure as `nbgrader generate_assignment` would record it: notebooks,
    grade cells (autograded tests and written answers, with their points) and solution cells."""
    kwargs = {"duedate": duedate} if duedate else {}
    gb.update_or_create_assignment(assignment, **kwargs)
    for source in sources:
        gb.update_or_create_notebook(source.stem, assignment)
        for cell in nbformat.read(source, as_version=4).cells:
            meta = nbgrader(cell)
            if is_test(cell) or (is_answer(cell) and meta.get("grade")):
                gb.update_or_create_grade_cell(meta["grade_id"], source.stem, assignment,
                                               max_score=float(meta.get("points", 0)), cell_type=cell.cell_type)
            if is_answer(cell):
                gb.update_or_create_solution_cell(meta["grade_id"], source.stem, assignment)


def add_students(gb: Gradebook, students: list[str]) -> None:
    """Create students in sorted order: nbgrader lists them by (empty) names, then in creation order."""
    for student in sorted(students):
        gb.update_or_create_student(student)


def record(gb: Gradebook, result: NotebookResult, timestamp: datetime | None, plugin: LateSubmissionPlugin,
           missing: bool = False) -> None:
    """Write one notebook's result: auto scores, manual cells left for a human, late penalty."""
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


def rows(db_url: str) -> list[tuple]:
    """Every grade in the gradebook as plain tuples, sorted: what two gradings must agree on."""
    out = []
    with Gradebook(db_url) as gb:
        for assignment in gb.assignments:
            for submission in gb.assignment_submissions(assignment.name):
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        out.append((submission.student.id, assignment.name, str(assignment.duedate),
                                    str(submission.timestamp), notebook.name, grade.name, grade.auto_score,
                                    grade.manual_score, grade.needs_manual_grade, notebook.flagged,
                                    notebook.late_submission_penalty))
    return sorted(out, key=repr)


def count_rows(db_url: str) -> dict[str, int]:
    """Rows per gradebook table (grading twice must not add any)."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url)
    with engine.connect() as db:
        return {t: db.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in inspect(engine).get_table_names()}

