"""PostgreSQL for real: the fixture course's demo class graded into a throw-away PostgreSQL server
(the `postgres` fixture: its own cluster on a loopback port, a password-authenticated role) gets
exactly the gradebook and grades.csv that SQLite gets, grading again adds no row, and no password
reaches any output, file or log."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from nbgrader.api import get_alembic_version
from sqlalchemy import create_engine, text

from autograder import gradebook
from autograder.cli import main
from autograder.course import Course
from autograder.demo_class import build_demo_class, duedates
from autograder.engine import Options
from autograder.pipeline import grade_class
from autograder.tests.conftest import copy_fixture_course
from autograder.tests.gradebook_rows import count_rows, rows
from autograder.tests.test_pipeline import EXPECTED
from mlcourse.lessons import lesson_names


@pytest.fixture(scope="module")
def graded(tmp_path_factory, postgres):
    """The demo class graded for real into PostgreSQL, then (from the results that run kept) into
    SQLite."""
    course = copy_fixture_course(tmp_path_factory.mktemp("fixture") / "course")
    submitted = build_demo_class(course, course / "var" / "submitted").submitted
    runs = {"postgresql": (course / "var" / "out-postgresql", postgres.database("demo")),
            "sqlite": (course / "var" / "out-sqlite", None)}
    for backend, (out, db_url) in runs.items():
        if backend == "sqlite":
            shutil.copytree(runs["postgresql"][0] / "results", out / "results")
        grade_class(submitted, out, Course(course), Options(), jobs=2, db_url=db_url,
                    duedates=duedates(lesson_names(course)))
    return course, submitted, {backend: (out, db_url or gradebook.default_db_url(out))
                               for backend, (out, db_url) in runs.items()}


def test_the_gradebook_and_grades_csv_are_those_of_sqlite(graded):
    _, _, runs = graded
    (postgres_out, postgres_url), (sqlite_out, sqlite_url) = runs["postgresql"], runs["sqlite"]
    assert postgres_url.startswith("postgresql://")  # psycopg 3, SQLAlchemy's driver for this form
    assert rows(postgres_url) == rows(sqlite_url)
    # 2 autograded cells and 1 written answer each
    assert len(rows(postgres_url)) == len(EXPECTED) * 3
    by_student = {row[0]: row for row in rows(postgres_url) if row[5] == "test_total_log_prob"}
    assert ({student: row[6] for student, row in by_student.items()}
            == {s: p[0] for s, p in EXPECTED.items()})
    assert (postgres_out / "grades.csv").read_text() == (sqlite_out / "grades.csv").read_text()


def test_grading_again_into_postgresql_adds_no_row(graded):
    course, submitted, runs = graded
    out, db_url = runs["postgresql"]
    before, counts = rows(db_url), count_rows(db_url)
    assert counts["submitted_notebook"] == len(EXPECTED) and counts["student"] == len(EXPECTED)
    grade_class(submitted, out, Course(course), Options(), jobs=2, db_url=db_url,
                duedates=duedates(lesson_names(course)))
    assert rows(db_url) == before and count_rows(db_url) == counts


def test_the_new_gradebook_carries_nbgraders_schema_version(graded):
    """So that `nbgrader db upgrade` knows it (the harness reads the version in-process, nbgrader
    from `alembic`)."""
    _, _, runs = graded
    for _, db_url in runs.values():
        with create_engine(db_url).connect() as db:
            assert db.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
                get_alembic_version()]


def _log_everything(caplog) -> None:
    """Every logger at DEBUG, SQLAlchemy's (its engine's statements, its pool's connections) and
    nbgrader's included."""
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy sets its own loggers to WARNING
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")


def _texts(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode(errors="replace")
                     for p in folder.rglob("*") if p.is_file())


def test_no_password_in_any_output_file_or_log(graded, postgres, tmp_path, capsys, caplog):
    course, submitted, runs = graded
    out = tmp_path / "out"
    # kept results: only the bookkeeping runs
    shutil.copytree(runs["postgresql"][0] / "results", out / "results")
    _log_everything(caplog)
    db_url = postgres.database("cli")
    assert main(["--root", str(course), "grade", str(submitted), "--out", str(out),
                 "--db", db_url]) == 0
    printed = capsys.readouterr()
    assert f"gradebook: postgresql://grader:***@127.0.0.1:{postgres.port}/cli\n" in printed.out
    # SQLAlchemy's statements were logged: the next line checks them
    assert "INSERT INTO grade" in caplog.text
    for shown in (printed.out, printed.err, caplog.text, _texts(out), postgres.log):
        assert postgres.password not in shown
    # SUBMISSIONS: the due dates unknown
    no_duedates = [row[:2] + row[3:] for row in rows(runs["postgresql"][1])]
    assert [row[:2] + row[3:] for row in rows(db_url)] == no_duedates


def test_a_wrong_password_is_a_one_line_error_without_it(graded, postgres, tmp_path, capsys,
                                                         caplog):
    course, submitted, _ = graded
    _log_everything(caplog)
    wrong = "wrong-" + postgres.password[::-1]
    db_url = postgres.url("demo", password=wrong)
    assert main(["--root", str(course), "grade", str(submitted), "--out", str(tmp_path / "out"),
                 "--db", db_url]) == 2
    printed = capsys.readouterr()
    assert printed.err == (f"grade: the gradebook postgresql://grader:***@127.0.0.1:{postgres.port}"
                           "/demo: connection failed: connection to server at "
                           f'"127.0.0.1", port {postgres.port} failed: FATAL:  '
                           'password authentication failed for user "grader"\n')
    for shown in (printed.out, printed.err, caplog.text, _texts(tmp_path / "out"), postgres.log):
        assert wrong not in shown and postgres.password not in shown


def test_a_url_that_is_not_one_says_so_without_echoing_it(graded, tmp_path, capsys):
    course, submitted, _ = graded
    # a password where the port goes
    db_url = "postgresql://grader:s3cret-pass@127.0.0.1:s3cret-pass/demo"
    assert main(["--root", str(course), "grade", str(submitted), "--out", str(tmp_path / "out"),
                 "--db", db_url]) == 2
    printed = capsys.readouterr()
    assert printed.err == ("grade: --db is not a database URL SQLAlchemy reads; the form is "
                           "postgresql://USER:PASSWORD@HOST/DATABASE "
                           "or sqlite:////absolute/path/gradebook.db\n")
    assert "s3cret" not in printed.out
