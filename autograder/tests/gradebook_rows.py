"""Reading a gradebook back, for tests: every grade as plain tuples, and rows per table."""

from __future__ import annotations

from nbgrader.api import Gradebook


def rows(db_url: str) -> list[tuple]:
    """Every grade in the gradebook as plain tuples, sorted: what two gradings must agree on."""
    out = []
    with Gradebook(db_url) as gb:
        for assignment in gb.assignments:
            for submission in gb.assignment_submissions(assignment.name):
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        out.append((submission.student.id, assignment.name, str(assignment.duedate),
                                    str(submission.timestamp), notebook.name, grade.name,
                                    grade.auto_score,
                                    grade.manual_score, grade.needs_manual_grade, notebook.flagged,
                                    notebook.late_submission_penalty))
    return sorted(out, key=repr)


def count_rows(db_url: str) -> dict[str, int]:
    """Rows per gradebook table (grading twice must not add any)."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url)
    with engine.connect() as db:
        return {t: db.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar()
                for t in inspect(engine).get_table_names()}

