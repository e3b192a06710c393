"""The plain nbgrader commands work in the course folder as nbgrader's documentation describes
(with the virtual environment's bin/ on PATH): generate_assignment, autograde, generate_feedback,
export and validate; with the course's nbgrader_config.py their output is free of false alarms and
their feedback shows no hidden test and needs no network for its math."""

from __future__ import annotations

import csv
import html
import re
import subprocess

import nbformat

from autograder.environment import tool_env
from mlcourse.lessons import parse_lesson, read_lesson

# Three students of the fixture assignment: ada hands in the released notebook untouched; bob's
# answers pass every visible test and fail the hidden ones of total_log_prob; cy changed a read-only
# test cell.
BOB = {"total_log_prob": "def total_log_prob(log_probs):\n    return -0.8",
       "answer_objective": 'answer_objective = "b"'}
CY = {"test_total_log_prob": "pass"}


def _nbgrader(course, *args: str) -> str:
    done = subprocess.run(["nbgrader", *args], cwd=course, env=tool_env(), capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def _submit(released, folder, sources: dict[str, str]) -> None:
    """The released notebook, with the cells of these grade ids given these sources, as a student's
    submission."""
    notebook = nbformat.read(released, as_version=4)
    for cell, meta in zip(notebook.cells, parse_lesson(notebook, released.stem).cells):
        cell.source = sources.get(meta.grade_id, cell.source)
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / released.name)


def _text(page) -> str:
    """A feedback page's text as a reader sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_plain_nbgrader_commands(tiny_course):
    _nbgrader(tiny_course, "generate_assignment", "01_fixture", "--force")
    assert (tiny_course / "gradebook.db").exists()
    released = tiny_course / "notebooks" / "01_fixture" / "01_fixture.ipynb"
    for student, sources in {"ada": {}, "bob": BOB, "cy": CY}.items():
        _submit(released, tiny_course / "submitted" / student / "01_fixture", sources)
    autograded = _nbgrader(tiny_course, "autograde", "01_fixture", "--create")
    # Only cy's changed cell is reported (and put back); cells handed in as released are not;
    # nothing from SQLAlchemy.
    assert re.findall(r"Attribute '(\w+)' for cell (\w+) has changed", autograded) == [
        ("checksum", "test_total_log_prob")]
    assert "SAWarning" not in autograded
    _nbgrader(tiny_course, "generate_feedback", "01_fixture")
    solution = read_lesson(tiny_course / "solutions" / "01_fixture" / "01_fixture.ipynb")
    hidden = [line.strip() for test in solution.tests for line in test.hidden.splitlines()
              if line.strip()]
    assert len(hidden) == 5
    for student in ("ada", "bob", "cy"):
        page = tiny_course / "feedback" / student / "01_fixture" / "01_fixture.html"
        text = _text(page)
        assert "Score:" in text and [line for line in hidden if line in text] == []
        assert "HIDDEN TESTS" not in text and "cdnjs" not in page.read_text()
        # the page's MathJax, when it is opened as a file: the copy in the feedback folder
        assert (page.parent / "../../.mathjax/MathJax.js").resolve().is_file()
    _nbgrader(tiny_course, "export", "--to", "grades.csv")
    with open(tiny_course / "grades.csv") as f:
        scores = {row["student_id"]: (row["raw_score"], row["max_score"])
                  for row in csv.DictReader(f)}
    # bob's hidden tests were put back and ran: 1 of 3 autograded points, not the 3 the visible
    # tests alone give
    assert scores == {"ada": ("0.0", "4.0"), "bob": ("1.0", "4.0"), "cy": ("0.0", "4.0")}
    validated = subprocess.run(["nbgrader", "validate", str(released)], cwd=tiny_course,
                               env=tool_env(),
                               capture_output=True, text=True)
    assert "NotImplementedError" in validated.stdout + validated.stderr
