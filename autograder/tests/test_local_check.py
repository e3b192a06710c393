"""The student's local check runs the visible tests and counts, without running, the hidden ones."""

from pathlib import Path

import nbformat

from autograder.local_check import check_file
from autograder.release import release
from mlcourse.lessons import parse_lesson
from mlcourse.notebooks import execute_notebook


def _student(course: Path, answers: dict[str, str]) -> Path:
    """The released notebook with the answer cells named in `answers` filled in."""
    path = course / "notebooks" / "01_fixture" / "01_fixture.ipynb"
    notebook = nbformat.read(path, as_version=4)
    for cell, meta in zip(notebook.cells, parse_lesson(notebook, path.stem).cells):
        if meta.kind == "answer" and meta.grade_id in answers:
            cell.source = answers[meta.grade_id]
    nbformat.write(notebook, path)
    return path


def test_unanswered_notebook_passes_nothing_and_counts_hidden_checks(tiny_course):
    release(tiny_course)
    tests, text = check_file(tiny_course / "notebooks" / "01_fixture" / "01_fixture.ipynb")
    assert [(t.grade_id, t.points, t.passed, t.hidden_checks) for t in tests] == [
        ("test_total_log_prob", 2, False, 1), ("test_answer_objective", 1, False, 1)]
    assert "NotImplementedError" in tests[0].message
    assert ("pass in 0 of 2 test cells" in text
            and "Not run here: 2 hidden check(s) in 2 test cell(s)" in text)
    assert ("3 autograded points are decided by the grader" in text
            and "1 point(s) of written answers" in text)


def test_visible_pass_is_not_called_a_full_score(tiny_course):
    release(tiny_course)
    # "a" is a letter, so the visible format test passes; only the hidden check knows it is wrong
    path = _student(tiny_course, {"total_log_prob": "def total_log_prob(lp):\n    return sum(lp)",
                                  "answer_objective": 'answer_objective = "a"'})
    tests, text = check_file(path)
    assert all(t.passed for t in tests)
    assert "pass in 2 of 2 test cells" in text and "not a full score" in text
    assert "expected" not in text  # nothing of the hidden check's expected value leaks


def test_check_called_inside_the_notebook(tiny_course):
    release(tiny_course)
    path = _student(tiny_course,
                    {"total_log_prob": "def total_log_prob(lp):\n    return sum(lp) / len(lp)"})
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "from autograder.local_check import check\nresult = check()"))
    execute_notebook(notebook, path.parent, timeout=120, allow_errors=True)
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    assert "pass in 0 of 2 test cells" in printed
    assert "Likely misconception: the mean over terms instead of their sum" in printed
    assert "Not run here: 2 hidden check(s)" in printed
