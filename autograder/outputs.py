"""Outputs, the last stage: what the instructor and the students get from a graded class.

OUT/grades.csv (nbgrader's export columns, read from the gradebook, safe for spreadsheets; the score
of an assignment with a notebook the grader failed on is left empty), OUT/feedback/ (a page per
notebook, and OUT/feedback/<student>/index.html across every graded assignment), OUT/autograded/
(nbgrader's layout, for its formgrader), OUT/report.md with its figures, and OUT/intake.json (the
files that were not graded, and why).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from autograder.course import Course
from autograder.exports import NBGRADER_COLUMNS, write_csv
from autograder.feedback import write_feedback, write_student_pages
from autograder.gradebook import due_dates, late_penalties, nbgrader_rows, submission_times
from autograder.intake import Intake
from autograder.report import write_report
from autograder.results import NotebookResult
from autograder.sanitise import safe_notebook
from mlcourse.lessons import parse_lesson


def write_outputs(results: list[NotebookResult], out: Path, course: Course, db_url: str,
                  found: Intake,
                  done: Callable[[str], None] = lambda part: None) -> dict[str, Path]:
    """Every output of a graded class; {name: path} of what was written. `done(part)` is called as
    each part is written (the pipeline's clock: the benchmark's figures)."""
    with Gradebook(db_url) as gb:
        # Exactly what this run graded; a notebook the grader failed on has an empty score
        # (nbgrader_rows).
        write_csv(nbgrader_rows(gb, course.assignments, found.students), NBGRADER_COLUMNS,
                  out / "grades.csv")
        duedates, timestamps = due_dates(gb), submission_times(gb)
        penalties = late_penalties(gb)
    done("grades.csv")
    objectives = {a: lesson.objectives for a in course.assignments for lesson in course.lessons(a)}
    write_feedback(results, out, timestamps, duedates, objectives, penalties)
    done("feedback")
    # every graded assignment, earlier runs' included: after this run's feedback
    with Gradebook(db_url) as gb:
        write_student_pages(gb, out)
    write_release_files(out, found)
    done("student pages")
    write_autograded(results, out, course)
    done("autograded")
    sources = {f"{student}/{assignment}": t.source
               for (student, assignment), t in sorted(found.times.items())}
    (out / "intake.json").write_text(json.dumps({"problems": found.problems,
                                                 "time_sources": sources}, indent=1))
    report = write_report(results, out, objectives, intake_problems=found.problems,
                          timestamps=timestamps, duedates=duedates,
                          time_sources={k: t.source for k, t in found.times.items()})
    done("report")
    return {"grades": out / "grades.csv", "feedback": out / "feedback",
            "autograded": out / "autograded", "report": report}


def write_release_files(out: Path, found: Intake) -> None:
    """Beside the feedback pages of each submission collected from nbgrader's exchange, the two
    files nbgrader's release_feedback reads there (its generate_feedback copies them the same way):
    timestamp.txt and submission_secret.txt. So `nbgrader release_feedback
    --CourseDirectory.root=OUT` hands these pages back."""
    for (student, assignment), secret in found.secrets.items():
        folder = out / "feedback" / student / assignment
        if folder.is_dir():
            when = found.times[student, assignment].when
            (folder / "timestamp.txt").write_text(f"{when:%Y-%m-%d %H:%M:%S.%f} UTC" if when
                                                  else "")
            (folder / "submission_secret.txt").write_text(secret)


def write_autograded(results: list[NotebookResult], out: Path, course: Course) -> None:
    """OUT/autograded/<student>/<assignment>/<notebook>.ipynb, nbgrader's layout, for its
    formgrader.

    Each is the instructor's notebook (hidden tests included: formgrader is the instructor's) with
    the student's answers in the answer cells, and the verdict of each test as the test cell's
    output."""
    sources = {(a, s.stem): s for a in course.assignments for s in course.sources(a)}
    read = {}  # each source read and parsed once; each notebook written is a fresh copy of its JSON
    for result in results:
        key = (result.assignment, result.notebook)
        if not result.submitted or key not in sources:
            continue
        if key not in read:
            source = nbformat.read(sources[key], as_version=4)
            read[key] = (json.dumps(source), parse_lesson(source, result.notebook).cells)
        text, kinds = read[key]
        notebook = nbformat.from_dict(json.loads(text))
        checks = {c.grade_id: c for c in result.checks}
        for cell, meta in zip(notebook.cells, kinds):
            if meta.grade_id in result.answers and meta.kind in ("answer", "written"):
                cell.source = result.answers[meta.grade_id]
            elif meta.kind == "test" and meta.grade_id in checks:
                check = checks[meta.grade_id]
                text = (f"{check.status}: {check.points:g} of {check.max_points:g} points\n"
                        f"{check.message}".strip())
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]
        safe_notebook(notebook)  # a student's Markdown and any output can hold script: made inert
        path = out / "autograded" / result.student / result.assignment / f"{result.notebook}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        # as nbformat writes it
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
