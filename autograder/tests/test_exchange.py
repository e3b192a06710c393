"""nbgrader's exchange on one machine, then `autograder grade` on what `nbgrader collect` gathered.

The instructor releases from the course folder (`nbgrader release_assignment`; its
nbgrader_config.py makes solutions/ the source and notebooks/ the release); each student, in a home
folder of their own, fetches, answers and submits (`nbgrader fetch_assignment`, `nbgrader submit`),
as nbgrader's documentation does it: every command given `--Exchange.root`, `--course` and run from
the student's own folder. The students are home folders of one system user (so the tests run as any
user): `--student` names them, as their login would, and collect's owner check (the login against
the submission's owner) is off for that reason alone. The helpers here serve test_lateness and
test_semester too.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.utils import parse_utc

from autograder.environment import tool_env
from autograder.intake import COLLECTED
from autograder.release import release
from mlcourse.lessons import parse_lesson, read_lesson

COURSE_ID = "mlcourse"
# the fixture's typical mistake: its test (1 point) fails
WRONG_OBJECTIVE = 'answer_objective = "a"'


def nbgrader(cwd: Path, *args: str, home: Path | None = None) -> str:
    """Run an nbgrader command as a user would type it in `cwd` (HOME: `home`); its log (nbgrader
    logs on stderr)."""
    env = tool_env(HOME=str(home)) if home else tool_env()
    done = subprocess.run(["nbgrader", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"nbgrader {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stderr


def make_exchange(tmp_path: Path) -> Path:
    """The exchange folder, as nbgrader's documentation sets it up (mkdir, then writable by
    everyone)."""
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    return exchange


def on_exchange(exchange: Path) -> list[str]:
    return [f"--Exchange.root={exchange}", f"--course={COURSE_ID}"]


def release_assignment(course: Path, exchange: Path, assignment: str) -> None:
    nbgrader(course, "release_assignment", assignment, *on_exchange(exchange))


def fetch(tmp_path: Path, exchange: Path, assignment: str, student: str) -> Path:
    """The student fetches the assignment into their home folder; that folder."""
    home = tmp_path / "home" / student
    home.mkdir(parents=True, exist_ok=True)
    nbgrader(home, "fetch_assignment", assignment, *on_exchange(exchange), home=home)
    return home


def answer(notebook: Path, answers: dict[str, str]) -> None:
    """The student writes `answers` (grade id: code or text) into the answer cells of their notebook
    and saves it."""
    content = nbformat.read(notebook, as_version=4)
    for cell, meta in zip(content.cells, parse_lesson(content, notebook.stem).cells):
        if meta.grade_id in answers:
            cell.source = answers[meta.grade_id]
    nbformat.write(content, notebook)


def solution_answers(course: Path, assignment: str) -> dict[str, str]:
    """The instructor's answers of every answer cell (what a student with full marks writes)."""
    return {cell.grade_id: cell.source for cell in read_lesson(course / "solutions" / assignment /
                                                               f"{assignment}.ipynb").answers}


def submit(home: Path, exchange: Path, assignment: str, student: str) -> None:
    nbgrader(home, "submit", assignment, *on_exchange(exchange), f"--student={student}", home=home)


def collect(course: Path, exchange: Path, assignment: str) -> None:
    """The instructor collects into the course's submitted/ (the students here are not system
    users)."""
    nbgrader(course, "collect", assignment, *on_exchange(exchange),
             "--ExchangeCollect.check_owner=False")


def submitted_times(exchange: Path, assignment: str) -> dict[str, str]:
    """{student: the time nbgrader submit recorded}, from the exchange's inbound folder names
    (<student>+<assignment>+<time>+<random>)."""
    names = [p.name.split("+") for p in (exchange / COURSE_ID / "inbound").iterdir()]
    return {student: when for student, name, when, _ in names if name == assignment}


def grade(course: Path, submissions: Path, out: Path, *options: str) -> str:
    """`autograder grade SUBMISSIONS --out OUT` as the instructor types it; what it printed."""
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "--root", str(course),
                           "grade", str(submissions), "--out", str(out), "--jobs", "2", *options],
                          env=tool_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def grades(out: Path) -> dict[tuple[str, str], dict]:
    """OUT/grades.csv by (student, assignment)."""
    with open(out / "grades.csv", newline="") as file:
        return {(row["student_id"], row["assignment"]): row for row in csv.DictReader(file)}


def test_release_fetch_submit_collect_then_grade_the_collected_class(tiny_course, tmp_path):
    release(tiny_course)
    exchange = make_exchange(tmp_path)
    release_assignment(tiny_course, exchange, "01_fixture")
    right = solution_answers(tiny_course, "01_fixture")
    for student, answers in {"alice": right,
                             "bob": {**right, "answer_objective": WRONG_OBJECTIVE}}.items():
        home = fetch(tmp_path, exchange, "01_fixture", student)
        answer(home / "01_fixture" / "01_fixture.ipynb", answers)
        submit(home, exchange, "01_fixture", student)
    collect(tiny_course, exchange, "01_fixture")
    submitted = tiny_course / "submitted"
    # nbgrader's layout, as collect leaves it
    assert sorted(p.name for p in (submitted / "alice" / "01_fixture").iterdir()) == [
        "01_fixture.ipynb", "submission_secret.txt", "timestamp.txt"]

    out = tmp_path / "out"
    printed = grade(tiny_course, submitted, out)
    assert "graded 2 notebooks of 2 students in 01_fixture (5 of 6 autograded points)" in printed
    rows = grades(out)
    # 3 autograded points; the written one waits for a human
    assert {s: (rows[s, "01_fixture"]["raw_score"], rows[s, "01_fixture"]["max_score"])
            for s in ("alice", "bob")} \
        == {"alice": ("3.0", "4.0"), "bob": ("2.0", "4.0")}
    # Each time is the one nbgrader submit recorded in the exchange, carried by collect's
    # timestamp.txt.
    recorded = submitted_times(exchange, "01_fixture")
    assert sorted(recorded) == ["alice", "bob"]
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        for student, when in recorded.items():
            assert (submitted / student / "01_fixture" / "timestamp.txt").read_text() == when
            assert gb.find_submission("01_fixture", student).timestamp == (
                parse_utc(when).replace(tzinfo=None))
            assert rows[student, "01_fixture"]["timestamp"] == str(
                parse_utc(when).replace(tzinfo=None))
    assert json.loads((out / "intake.json").read_text())["time_sources"] == {
        "alice/01_fixture": COLLECTED, "bob/01_fixture": COLLECTED}
    assert f"- 2 submission(s): {COLLECTED}" in (out / "report.md").read_text()
