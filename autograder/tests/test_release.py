"""`release` writes what nbgrader generates, `release --check` names what differs, and the
committed student versions of the course are current."""

from pathlib import Path

import nbformat

from autograder.environment import ROOT
from autograder.release import release, run_solutions, stale_files
from mlcourse.lessons import lesson_names, parse_lesson


def test_committed_student_versions_are_what_nbgrader_generates():
    assert stale_files(ROOT) == [], "run `autograder release` and commit notebooks/"


def test_check_names_missing_changed_and_extra_notebooks(tiny_course: Path):
    assert stale_files(tiny_course) == ["notebooks/01_fixture/01_fixture.ipynb (missing)"]
    release(tiny_course)
    assert stale_files(tiny_course) == []
    student = tiny_course / "notebooks" / "01_fixture" / "01_fixture.ipynb"
    student.write_text(student.read_text().replace("raise NotImplementedError", "pass"))
    (tiny_course / "notebooks" / "01_fixture" / "notes.txt").write_text("hand-made")
    assert stale_files(tiny_course) == [
        "notebooks/01_fixture/notes.txt (not generated from solutions/)",
        "notebooks/01_fixture/01_fixture.ipynb (differs)"]


def test_release_clears_solutions_and_hidden_tests(tiny_course: Path):
    release(tiny_course)
    student = nbformat.read(tiny_course / "notebooks" / "01_fixture" / "01_fixture.ipynb",
                            as_version=4)
    text = "\n".join(c.source for c in student.cells)
    assert "HIDDEN" not in text and "reference(" not in text and "np.sum(log_probs)" not in text
    assert all("raise NotImplementedError" in c.source
               for c in parse_lesson(student, "01_fixture").answers)


def test_run_solutions_times_each_notebook_and_reports_errors(tiny_course: Path):
    [(lesson, seconds, errors)] = run_solutions(tiny_course)
    assert (lesson, errors) == ("01_fixture", []) and seconds > 0
    release(tiny_course)
    broken = tiny_course / "solutions" / "01_fixture" / "01_fixture.ipynb"
    broken.write_bytes((tiny_course / "notebooks" / "01_fixture" / "01_fixture.ipynb").read_bytes())
    [(_, _, errors)] = run_solutions(tiny_course)
    assert errors and "NotImplementedError" in errors[0]
    assert lesson_names(tiny_course) == ["01_fixture"]
