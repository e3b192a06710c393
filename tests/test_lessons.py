"""Every lesson, checked the same way: its tests pass on the solution, fail on the student
version, name each kept misconception, and accept answers written differently."""

from pathlib import Path

import pytest

from mlcourse.lessons import kept_answers, lesson_names, lesson_path, read_lesson

ROOT = Path(__file__).resolve().parents[1]
LESSONS = lesson_names(ROOT)
WRONG = [(lesson, w) for lesson in LESSONS for w in kept_answers(ROOT, lesson).wrong]
ALTERNATIVE = [(lesson, a, src) for lesson in LESSONS
               for a, src in kept_answers(ROOT, lesson).alternative]


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_passes_every_test(lesson, graded_run):
    failed = {test: str(error) for test, error in graded_run(lesson).items() if error is not None}
    assert not failed


@pytest.mark.parametrize("lesson", LESSONS)
def test_student_version_passes_no_test(lesson, student_run):
    passed = [test for test, error in student_run(lesson).items() if error is None]
    assert not passed, f"free points in the student version: {passed}"


# a wrong answer may overflow or take log 0: that is the slip
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize(("lesson", "wrong"), WRONG,
                         ids=[f"{lesson}:{w.answer_id}:{w.phrase}" for lesson, w in WRONG])
def test_wrong_answer_is_named(lesson, wrong, graded_run):
    error = graded_run(lesson, {wrong.answer_id: wrong.source})[wrong.test_id]
    assert error is not None, "the wrong answer passed"
    message = str(error)
    assert ("Likely misconception:" in message
            and wrong.phrase in message.split("Likely misconception:", 1)[1]), message


@pytest.mark.parametrize(("lesson", "answer_id", "source"), ALTERNATIVE,
                         ids=[f"{a[0]}:{a[1]}:{i}" for i, a in enumerate(ALTERNATIVE)])
def test_differently_written_answer_passes(lesson, answer_id, source, graded_run):
    failed = {t: str(e) for t, e in graded_run(lesson, {answer_id: source}).items()
              if e is not None}
    assert not failed


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_follows_the_authoring_conventions(lesson):
    notebook = read_lesson(lesson_path(ROOT, lesson))
    stated = notebook.objectives
    assert len(stated) >= 3, "objectives are listed in the first markdown cell as `- **O1**: ...`"
    assert all(c.objective in stated for c in notebook.tests), (
        "every test cell is tagged objective:<one of the stated ids>")
    assert len(notebook.tests) >= 6 and all(c.points > 0 for c in notebook.tests)
    assert notebook.written, "one manually graded written answer"
    diagnosed = {w.answer_id for w in kept_answers(ROOT, lesson).wrong}
    missing = {c.grade_id for c in notebook.answers} - diagnosed
    assert not missing, f"answers with no kept misconception: {missing}"
