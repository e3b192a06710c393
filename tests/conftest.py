"""Shared machinery of the lesson tests.

`run_graded_cells` runs a lesson's graded cells in this process, fast: the `setup` cell, the answer cells
(optionally replaced by other answers) and the test cells, skipping the narrative. Lessons are
written so that this is enough (answer and test cells never depend on narrative cells).
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import nbformat
import pytest

from autograder.course import is_answer, is_setup, is_test, lessons, nbgrader

ROOT = Path(__file__).resolve().parents[1]
LESSONS = lessons(ROOT)

os.environ.setdefault("MPLBACKEND", "Agg")


def solution_path(lesson: str) -> Path:
    return ROOT / "solutions" / lesson / f"{lesson}.ipynb"


def student_path(lesson: str) -> Path:
    return ROOT / "notebooks" / lesson / f"{lesson}.ipynb"


def run_graded_cells(path: Path, answers: dict[str, str] | None = None) -> dict[str, BaseException | None]:
    """Outcome of every test cell of the notebook at `path` (None = passed) when the answer cells
    named in `answers` (by grade_id) hold the given sources instead of the notebook's own."""
    answers = answers or {}
    notebook = nbformat.read(path, as_version=4)
    unknown = set(answers) - {nbgrader(c).get("grade_id") for c in notebook.cells if is_answer(c)}
    assert not unknown, f"{path.name} has no answer cells {sorted(unknown)}"
    namespace: dict = {"__name__": "__main__"}
    outcomes: dict[str, BaseException | None] = {}
    for cell in notebook.cells:
        grade_id = nbgrader(cell).get("grade_id")
        if cell.cell_type == "code" and (is_setup(cell) or is_answer(cell)):
            try:
                exec(answers.get(grade_id, cell.source), namespace)
            except Exception:  # an unanswered or broken answer shows up in the tests that use it
                pass
        elif is_test(cell):
            try:
                exec(cell.source, namespace)
                outcomes[grade_id] = None
            except Exception as error:
                outcomes[grade_id] = error
    return outcomes


def run_narrative(lesson: str) -> dict:
    """The namespace after running every code cell of the lesson's solution but the test cells, in
    order, in this process: where the numbers the lesson prints come from."""
    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": "__main__"}
    for cell in nbformat.read(solution_path(lesson), as_version=4).cells:
        if cell.cell_type == "code" and not is_test(cell):
            exec(cell.source, namespace)
    plt.close("all")
    return namespace


@pytest.fixture(scope="module")
def narrative(request) -> dict:
    """`run_narrative` of the requesting test module's `LESSON`, once per module."""
    return run_narrative(request.module.LESSON)


def lesson_answers(lesson: str) -> dict:
    """The wrong and the differently-written answers kept for a lesson in tests/answers/<lesson>.py."""
    path = ROOT / "tests" / "answers" / f"{lesson}.py"
    return runpy.run_path(str(path)) if path.exists() else {"WRONG": [], "ALTERNATIVE": {}}


@pytest.fixture
def graded_run():
    """`graded_run(lesson, answers=None)`: test outcomes of the solution with `answers` swapped in."""
    return lambda lesson, answers=None: run_graded_cells(solution_path(lesson), answers)


@pytest.fixture
def student_run():
    """`student_run(lesson)`: test outcomes of the student version as handed out."""
    return lambda lesson: run_graded_cells(student_path(lesson))
