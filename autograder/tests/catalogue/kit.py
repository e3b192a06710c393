"""Submissions made from a source notebook, for the engine's and the catalogue's tests."""

from __future__ import annotations

import copy
import multiprocessing
import json
from pathlib import Path

import nbformat

from autograder.course import is_answer, is_test, nbgrader
from autograder.trusted import split_hidden

FIXTURE = Path(__file__).parents[1] / "fixtures" / "engine" / "solutions" / "00_fixture" / "00_fixture.ipynb"
UNANSWERED = "# YOUR CODE HERE\nraise NotImplementedError()"


def student_copy(source: Path, answers: dict[str, str] | None = None, blank: bool = False) -> nbformat.NotebookNode:
    """The notebook as released (hidden tests removed) with the solution's answers, `answers` swapped in
    by grade_id, or every answer left unanswered when `blank`."""
    notebook = copy.deepcopy(nbformat.read(source, as_version=4))
    answers = answers or {}
    for cell in notebook.cells:
        grade_id = nbgrader(cell).get("grade_id")
        if is_test(cell):
            cell.source = split_hidden(cell.source)[0].rstrip()
        elif is_answer(cell) and cell.cell_type == "code":
            cell.source = answers.get(grade_id, UNANSWERED if blank else cell.source)
    return notebook


def write(notebook, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook) if isinstance(notebook, dict) else notebook)
    return path


_JOB = None


def _run(index: int):
    return _JOB(index)


def in_processes(job, count: int, processes: int = 2) -> list:
    """[job(0), ..., job(count - 1)] computed by `processes` forked processes (results must pickle)."""
    global _JOB
    _JOB = job
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return pool.map(_run, range(count), chunksize=1)
