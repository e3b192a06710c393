"""Shared machinery of the lesson tests.

`run_graded_cells` runs a lesson's graded cells in this process, fast: the `setup` cell, the answer
cells (optionally replaced by other answers) and the test cells, skipping the narrative. Lessons are
written so that this is enough (answer and test cells never depend on narrative cells).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlcourse.lessons import lesson_names, lesson_path, read_lesson

ROOT = Path(__file__).resolve().parents[1]
LESSONS = lesson_names(ROOT)

os.environ.setdefault("MPLBACKEND", "Agg")


def solution_path(lesson: str) -> Path:
    return lesson_path(ROOT, lesson)


def student_path(lesson: str) -> Path:
    return ROOT / "notebooks" / lesson / f"{lesson}.ipynb"


def run_graded_cells(path: Path, answers: dict[str, str] | None = None,
                     checks: dict | None = None) -> dict[str, BaseException | None]:
    """Outcome of every test cell of the notebook at `path` (None = passed) when the answer cells
    named in `answers` (by grade_id) hold the given sources instead of the notebook's own; `checks`
    ({name: function}) stand in for the setup's check functions in the test cells."""
    answers = answers or {}
    lesson = read_lesson(path)
    unknown = set(answers) - {c.grade_id for c in lesson.answers + lesson.written}
    assert not unknown, f"{path.name} has no answer cells {sorted(unknown)}"
    namespace: dict = {"__name__": "__main__"}
    outcomes: dict[str, BaseException | None] = {}
    for cell in lesson.steps:
        if cell.kind in ("setup", "answer"):
            try:
                exec(answers.get(cell.grade_id, cell.source), namespace)
            except Exception:  # an unanswered or broken answer shows up in the tests that use it
                pass
        else:
            namespace.update(checks or {})
            try:
                exec(cell.source, namespace)
                outcomes[cell.grade_id] = None
            except Exception as error:
                outcomes[cell.grade_id] = error
    return outcomes


def run_narrative(lesson: str) -> dict:
    """The namespace after running every code cell of the lesson's solution but the test cells, in
    order, in this process: where the numbers the lesson prints come from. The last cell, the honest
    local check (`autograder.local_check.check()`), runs only inside a notebook and is left out."""
    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": "__main__"}
    for cell in read_lesson(solution_path(lesson)).cells:
        local_check = "autograder.local_check" in cell.source
        if cell.cell_type == "code" and cell.kind != "test" and not local_check:
            exec(cell.source, namespace)
    plt.close("all")
    return namespace


@pytest.fixture(scope="module")
def narrative(request) -> dict:
    """`run_narrative` of the requesting test module's `LESSON`, once per module."""
    return run_narrative(request.module.LESSON)


@pytest.fixture
def graded_run():
    """`graded_run(lesson, answers=None)`: test outcomes of the solution with `answers` swapped
    in."""
    return lambda lesson, answers=None: run_graded_cells(solution_path(lesson), answers)


@pytest.fixture
def student_run():
    """`student_run(lesson)`: test outcomes of the student version as handed out."""
    return lambda lesson: run_graded_cells(student_path(lesson))
