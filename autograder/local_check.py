"""A student's honest local check: run the visible tests, count what only the grader runs.

In the notebook (after running the answer cells):

    from autograder.local_check import check
    check()

or from a shell: `autograder check notebooks/<lesson>/<lesson>.ipynb`. Either way the report says
how many test cells' visible tests pass and how many hidden checks and points were NOT run here,
so that "all visible tests pass" is never mistaken for a full score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlcourse.checking import course_root
from mlcourse.lessons import parse_lesson, read_lesson
from mlcourse.notebooks import execute_notebook

CHECK_CALL = re.compile(r"\bexpect_(?:close|equal|choice)\s*\(")


@dataclass
class VisibleTest:
    grade_id: str
    points: float
    passed: bool
    message: str
    hidden_checks: int | None  # None: the instructor's notebook is not available to count them


def hidden_checks(source_notebook: Path | None) -> dict[str, int]:
    """{test grade_id: number of checks in its hidden part} read from the instructor's notebook."""
    if source_notebook is None or not source_notebook.exists():
        return {}
    return {c.grade_id: len(CHECK_CALL.findall(c.hidden))
            for c in read_lesson(source_notebook).tests}


def source_of(student_notebook: Path) -> Path | None:
    """The instructor's version of `notebooks/<lesson>/<lesson>.ipynb`:
    `solutions/<lesson>/<lesson>.ipynb` beside its `notebooks/` folder, else in the course found
    above it by `mlcourse.checking.course_root`."""
    lesson = Path(student_notebook.parent.name) / student_notebook.name
    beside = (student_notebook.parents[2] / "solutions" / lesson
              if len(student_notebook.parents) > 2 else None)
    if beside is not None and beside.exists():
        return beside
    try:
        found = course_root(student_notebook.parent) / "solutions" / lesson
    except FileNotFoundError:
        return None
    return found if found.exists() else None


def run_in_namespace(path: Path, namespace: dict) -> list[tuple[str, float, bool, str]]:
    """Run each test cell's (visible) code in `namespace`: (grade_id, points, passed, message)."""
    outcomes = []
    for cell in read_lesson(path).tests:
        try:
            exec(cell.source, namespace)
            outcomes.append((cell.grade_id, cell.points, True, ""))
        # a failed check, or an answer that raises: both are a failed test
        except Exception as error:
            outcomes.append((cell.grade_id, cell.points, False, f"{type(error).__name__}: {error}"))
    return outcomes


def run_in_kernel(path: Path, timeout: int) -> list[tuple[str, float, bool, str]]:
    """Run the setup, answer and test cells (not the narrative, as the grader does) in a fresh
    kernel."""
    notebook = nbformat.read(path, as_version=4)
    kinds = [c.kind for c in parse_lesson(notebook, path.stem).cells]
    kept = nbformat.v4.new_notebook(metadata=notebook.metadata)
    kept.cells = [c for c, kind in zip(notebook.cells, kinds)
                  if kind in ("setup", "answer", "test")]
    execute_notebook(kept, path.parent, timeout=timeout, allow_errors=True)
    outcomes = []
    for cell, meta in zip(kept.cells, parse_lesson(kept, path.stem).cells):
        if meta.kind == "test":
            errors = [o for o in cell.outputs if o.output_type == "error"]
            message = f"{errors[0].ename}: {errors[0].evalue}" if errors else ""
            outcomes.append((meta.grade_id, meta.points, not errors, message))
    return outcomes


def summary(path: Path,
            outcomes: list[tuple[str, float, bool, str]]) -> tuple[list[VisibleTest], str]:
    hidden = hidden_checks(source_of(path))
    tests = [VisibleTest(g, p, ok, msg, hidden.get(g) if hidden else None)
             for g, p, ok, msg in outcomes]
    written = sum(c.points for c in read_lesson(path).written)
    return tests, report(path.stem, tests, written)


def report(name: str, tests: list[VisibleTest], written_points: float) -> str:
    passed = sum(t.passed for t in tests)
    lines = [f"{name}: the visible tests pass in {passed} of {len(tests)} test cells."]
    for t in tests:
        hidden = ("hidden checks unknown" if t.hidden_checks is None
                  else f"{t.hidden_checks} hidden check(s) not run here")
        lines.append(f"  {'ok  ' if t.passed else 'FAIL'}  {t.grade_id} "
                     f"({t.points:g} points; {hidden})")
        if t.message:
            lines += [f"        {line}" for line in t.message.splitlines()]
    points = sum(t.points for t in tests)
    if tests and all(t.hidden_checks is not None for t in tests):
        n_hidden = sum(t.hidden_checks for t in tests)
        n_cells = sum(t.hidden_checks > 0 for t in tests)
        lines.append(f"Not run here: {n_hidden} hidden check(s) in {n_cells} test cell(s).")
    else:
        lines.append("Not run here: the grader's hidden checks (this notebook does not ship them).")
    lines.append(f"The {points:g} autograded points are decided by the grader, "
                 "which runs the hidden checks too: "
                 "passing every visible test is not a full score.")
    if written_points:
        lines.append(f"{written_points:g} point(s) of written answers are graded by hand.")
    return "\n".join(lines)


def check_file(path: Path, timeout: int = 300) -> tuple[list[VisibleTest], str]:
    """The local check of a saved notebook, run in a fresh kernel (`autograder check NOTEBOOK`)."""
    path = Path(path).resolve()
    return summary(path, run_in_kernel(path, timeout))


def check(notebook: str | Path | None = None) -> list[VisibleTest]:
    """The local check from inside a notebook: the visible tests run on this kernel's current
    answers.

    `notebook` defaults to `<folder>/<folder>.ipynb` in the working directory (how lessons are laid
    out).
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("check() runs inside a notebook; "
                           "from a shell use `autograder check NOTEBOOK`")
    path = Path(notebook) if notebook else Path.cwd() / f"{Path.cwd().name}.ipynb"
    if not path.exists():
        raise FileNotFoundError(f"no notebook {path}; pass its path: check('path/to/lesson.ipynb')")
    path = path.resolve()
    tests, text = summary(path, run_in_namespace(path, shell.user_ns))
    print(text)
    return tests
