"""Grading a class, stage by stage: intake, then each notebook graded (plan, execution, verdicts)
by the worker pool, then recording in the gradebook, then the outputs.

    intake.discover      SUBMISSIONS -> a Submission per (student, notebook), the problems found
    results.ResultStore  a result kept from an earlier run is reused when nothing it depends on changed
    pool.grade_all       the rest are graded in parallel (engine.grade_task in each worker)
    gradebook.record     each result, as it arrives, by this process alone
    outputs.write_outputs  grades.csv, feedback pages, the class report

A newcomer following one submission reads `grade_class` top to bottom.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook

from autograder import gradebook, intake, pool
from autograder.course import Course
from autograder.engine import Options, Task
from autograder.outputs import write_outputs
from autograder.results import NotebookResult, ResultStore, result_key
from mlcourse.lessons import read_lesson


@dataclass
class Graded:
    """What a run produced: every notebook's result in course order, and where the outputs are."""

    results: list[NotebookResult]
    outputs: dict[str, Path]


def grade_class(submissions: Path, out: Path, course: Course, options: Options, *, jobs: int = 1,
                db_url: str | None = None, duedates: dict[str, datetime] | None = None,
                regrade: bool = False) -> Graded:
    """Grade every notebook in SUBMISSIONS into the gradebook and OUT; write the outputs."""
    out.mkdir(parents=True, exist_ok=True)
    db_url = db_url or gradebook.default_db_url(out)
    store, results = ResultStore(out / "results"), {}
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp, Gradebook(db_url) as gb:
        found = intake.discover(submissions, course, Path(tmp) / "unpacked")
        for assignment in course.assignments:
            gradebook.define_assignment(gb, assignment, course.lessons(assignment), (duedates or {}).get(assignment))
        gradebook.add_students(gb, found.students)
        gb.db.commit()
        plugin = course.late_plugin()

        def keep(submission: intake.Submission, result: NotebookResult, key: str) -> None:
            store.put(submission.name, key, result)
            when = found.times.get((submission.student, submission.assignment))
            gradebook.record(gb, result, when, plugin, missing=submission.path is None)
            results[submission.name] = result

        to_grade: dict[str, tuple[intake.Submission, str]] = {}
        for submission in found.submissions:
            task, problem = _task(submission)
            if task is None:  # not submitted, or refused at intake: recorded without starting a kernel
                key = result_key(submission.source.read_bytes(), None, submission.student, options.__dict__)
                keep(submission, _ungraded(submission, problem, options), key)
                continue
            key = result_key(task.source, task.submission, task.student, options.__dict__)
            kept = None if regrade else store.get(submission.name, key)
            if kept is not None:
                keep(submission, kept, key)
            else:
                to_grade[submission.name] = submission, key
        if len(found.submissions) > len(to_grade):
            print(f"{len(found.submissions) - len(to_grade)} notebook(s) unchanged since an earlier run: "
                  "their results are kept (--regrade to redo)")
        tasks = (_task(submission)[0] for submission, _ in to_grade.values())
        for task, outcome in pool.grade_all(tasks, options, jobs, Path(tmp) / "logs", total=len(to_grade)):
            submission, key = to_grade[task.name]
            if isinstance(outcome, str):  # the worker failed: the notebook scores 0 with the reason
                lesson = read_lesson(submission.source)
                outcome = NotebookResult.blank(lesson, task.student, task.assignment).not_graded(outcome, outcome, "error")
            keep(submission, outcome, key)
    ordered = [results[s.name] for s in found.submissions]
    return Graded(ordered, write_outputs(ordered, out, course, db_url, found.problems))


def _task(submission: intake.Submission) -> tuple[Task | None, str | None]:
    """The task for a submission, read now (never all at once), or None and why it cannot be graded."""
    try:
        content = submission.read()
    except intake.IntakeError as error:
        return None, str(error)
    if content is None:
        return None, None
    return Task(submission.student, submission.assignment, submission.notebook, submission.source.read_bytes(),
                content), None


def _ungraded(submission: intake.Submission, problem: str | None, options: Options) -> NotebookResult:
    """The result of a notebook that was not submitted, or that intake refused (`problem` says why)."""
    result = NotebookResult.blank(read_lesson(submission.source), submission.student, submission.assignment,
                                  sandboxed=options.sandbox)
    if problem is None:
        return result.not_submitted(submission.source.name)
    return result.not_graded(problem, f"not graded: {problem}")
