"""A two-week semester on one machine, as README's instructor section runs it: a roster imported
into the gradebook; each week an assignment released through nbgrader's exchange, fetched and
submitted by the students, collected, graded with `autograder grade submitted --out OUT --assignment
<week>` into the same OUT and gradebook, the written answers graded by hand (here: a manual score
set through nbgrader's Gradebook API, as formgrader's grade handler sets it); week 1's grades and
manual scores outlive week 2's grading (bob hands nothing in that week: a 0, never late); then the
feedback pages the harness wrote are handed back with nbgrader's release_feedback and each student's
fetch_feedback."""

from __future__ import annotations

import csv
import shutil

from nbgrader.api import Gradebook

from autograder.release import release
from autograder.tests.test_exchange import (
    WRONG_OBJECTIVE,
    answer,
    collect,
    fetch,
    grade,
    grades,
    make_exchange,
    nbgrader,
    on_exchange,
    release_assignment,
    solution_answers,
    submit,
)

WEEKS = ("01_fixture", "02_fixture")
ROSTER = ("id,first_name,last_name,email\nalice,Alice,Archer,alice@example.edu\n"
          "bob,Bob,Baker,bob@example.edu\n")
# bob gets the second exercise wrong
MISTAKES = {"alice": {}, "bob": {"answer_objective": WRONG_OBJECTIVE}}
HANDED_IN = {WEEKS[0]: ("alice", "bob"), WEEKS[1]: ("alice",)}  # bob hands nothing in in week 2


def formgrader_sets(gb: Gradebook, grade_id: str, notebook: str, assignment: str, student: str,
                    score: float) -> None:
    """A manual score, written as formgrader's grade handler (PUT /formgrader/api/grade/<id>) writes
    it."""
    grade = gb.find_grade(grade_id, notebook, assignment, student)
    grade.manual_score = score
    grade.needs_manual_grade = False
    gb.db.commit()


def test_a_two_week_semester_through_the_exchange(tiny_course, tmp_path):
    course = tiny_course
    week_2 = course / "solutions" / WEEKS[1]
    # week 2: an assignment of the same shape
    shutil.copytree(course / "solutions" / WEEKS[0], week_2)
    (week_2 / f"{WEEKS[0]}.ipynb").rename(week_2 / f"{WEEKS[1]}.ipynb")
    release(course)  # notebooks/, nbgrader's release folder, for both weeks
    exchange, out = make_exchange(tmp_path), tmp_path / "out"
    out.mkdir()
    db_url = f"sqlite:///{out / 'gradebook.db'}"
    db = f"--db={db_url}"
    (tmp_path / "roster.csv").write_text(ROSTER)
    nbgrader(course, "db", "student", "import", str(tmp_path / "roster.csv"), db)

    for week, assignment in enumerate(WEEKS, start=1):
        nbgrader(course, "db", "assignment", "add", assignment,
                 f"--duedate=2999-01-0{week} 17:00:00 UTC", db)
        release_assignment(course, exchange, assignment)
        for student in HANDED_IN[assignment]:
            home = fetch(tmp_path, exchange, assignment, student)
            answer(home / assignment / f"{assignment}.ipynb",
                   {**solution_answers(course, assignment), **MISTAKES[student],
                    "written_why": "A product of many numbers underflows."})
            submit(home, exchange, assignment, student)
        collect(course, exchange, assignment)
        grade(course, course / "submitted", out, "--assignment", assignment)
        rows = grades(out)
        # the week graded, every student
        assert set(rows) == {("alice", assignment), ("bob", assignment)}
        assert (rows["alice", assignment]["first_name"],
                rows["bob", assignment]["email"]) == ("Alice", "bob@example.edu")
        if week == 1:
            with Gradebook(db_url) as gb:
                assert gb.find_grade("written_why", assignment, assignment,
                                     "alice").needs_manual_grade
                formgrader_sets(gb, "written_why", assignment, assignment, "alice", 1.0)

    with Gradebook(db_url) as gb:  # week 1 after week 2 was graded into the same gradebook
        written = gb.find_grade("written_why", WEEKS[0], WEEKS[0], "alice")
        assert (written.manual_score, written.needs_manual_grade) == (1.0, False)
        # not graded by hand yet
        assert gb.find_grade("written_why", WEEKS[0], WEEKS[0], "bob").needs_manual_grade
        assert {(s, a): gb.find_submission(a, s).score for a in WEEKS for s in MISTAKES} == {
            ("alice", WEEKS[0]): 4.0, ("bob", WEEKS[0]): 2.0, ("alice", WEEKS[1]): 3.0,
            ("bob", WEEKS[1]): 0.0}
    # not submitted
    assert (rows["bob", WEEKS[1]]["score"], rows["bob", WEEKS[1]]["timestamp"]) == ("0.0", "")
    assert ("- bob / 02_fixture / 02_fixture: 02_fixture.ipynb was not submitted"
            in (out / "report.md").read_text())
    assert "None." in (out / "report.md").read_text().split("## Late submissions")[1].split("##")[0]
    # the manual score reaches nbgrader's export
    nbgrader(course, "export", db, f"--to={tmp_path / 'semester.csv'}")
    with open(tmp_path / "semester.csv", newline="") as file:
        semester = {(row["student_id"], row["assignment"]): row for row in csv.DictReader(file)}
    assert (semester["alice", WEEKS[0]]["score"],
            semester["alice", WEEKS[0]]["last_name"]) == ("4.0", "Archer")

    # Feedback back through the exchange: nbgrader's release_feedback on OUT/feedback, each
    # student's fetch_feedback.
    nbgrader(course, "release_feedback", WEEKS[0], f"--CourseDirectory.root={out}",
             *on_exchange(exchange))
    for student in MISTAKES:
        home = tmp_path / "home" / student
        nbgrader(home, "fetch_feedback", WEEKS[0], *on_exchange(exchange),
                 f"--student={student}", home=home)
        [page] = (home / WEEKS[0] / "feedback").glob(f"*/{WEEKS[0]}.html")
        assert page.read_bytes() == (out / "feedback" / student / WEEKS[0]
                                     / f"{WEEKS[0]}.html").read_bytes()
        assert f"feedback for {student}" in page.read_text()
