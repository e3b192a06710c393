"""Every lesson, checked the same way: its tests pass on the solution, fail on the student
version, name each kept misconception, and accept answers written differently."""

from pathlib import Path

import pytest

from autograder.course import is_answer, is_test, lessons, nbgrader, objective_of, objectives, read_lesson

ROOT = Path(__file__).resolve().parents[1]
LESSONS = lessons(ROOT)


def _answers(lesson: str) -> dict:
    import runpy

    path = ROOT / "tests" / "answers" / f"{lesson}.py"
    return runpy.run_path(str(path)) if path.exists() else {"WRONG": [], "ALTERNATIVE": {}}


WRONG = [(lesson, *entry) for lesson in LESSONS for entry in _answers(lesson)["WRONG"]]
ALTERNATIVE = [(lesson, a, src) for lesson in LESSONS for a, src in _answers(lesson)["ALTERNATIVE"].items()]


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_passes_every_test(lesson, graded_run):
    failed = {test: str(error) for test, error in graded_run(lesson).items() if error is not None}
    assert not failed


@pytest.mark.parametrize("lesson", LESSONS)
def test_student_version_passes_no_test(lesson, student_run):
    passed = [test for test, error in student_run(lesson).items() if error is None]
    assert not passed, f"free points in the student version: {passed}"


@pytest.mark.parametrize(("lesson", "answer_id", "test_id", "phrase", "source"), WRONG,
                         ids=[f"{w[0]}:{w[1]}:{w[3]}" for w in WRONG])
def test_wrong_answer_is_named(lesson, answer_id, test_id, phrase, source, graded_run):
    error = graded_run(lesson, {answer_id: source})[test_id]
    assert error is not None, "the wrong answer passed"
    message = str(error)
    assert "Likely misconception:" in message and phrase in message.split("Likely misconception:", 1)[1], message


@pytest.mark.parametrize(("lesson", "answer_id", "source"), ALTERNATIVE, ids=[f"{a[0]}:{a[1]}" for a in ALTERNATIVE])
def test_differently_written_answer_passes(lesson, answer_id, source, graded_run):
    failed = {t: str(e) for t, e in graded_run(lesson, {answer_id: source}).items() if e is not None}
    assert not failed


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_follows_the_authoring_conventions(lesson):
    notebook = read_lesson(ROOT, lesson)
    tests = [c for c in notebook.cells if is_test(c)]
    code_answers = [nbgrader(c)["grade_id"] for c in notebook.cells if is_answer(c) and c.cell_type == "code"]
    written = [c for c in notebook.cells if is_answer(c) and c.cell_type == "markdown" and nbgrader(c).get("grade")]
    stated = objectives(notebook)
    assert len(stated) >= 3, "objectives are listed in the first markdown cell as `- **O1**: ...`"
    assert all(objective_of(c) in stated for c in tests), "every test cell is tagged objective:<one of the stated ids>"
    assert len(tests) >= 6 and all(nbgrader(c).get("points", 0) > 0 for c in tests)
    assert written, "one manually graded written answer"
    diagnosed = {entry[0] for entry in _answers(lesson)["WRONG"]}
    assert set(code_answers) <= diagnosed, f"answers with no kept misconception: {set(code_answers) - diagnosed}"
