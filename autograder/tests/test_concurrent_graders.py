"""Several graders at once: two `autograder grade` processes started together write into one
gradebook, on SQLite and on PostgreSQL, splitting a class by assignment (--assignment) or into
halves. Every grade is right, no row is there twice, each run's grades.csv shows exactly the
students and assignments it graded, and the whole gradebook (what `autograder export` reads) holds
every grade. A second run into an output folder in use refuses.

The class is synthetic (synthetic_class.py): every notebook's result is already kept, so the runs do
only their bookkeeping, which is what they share; grading itself never touches the gradebook."""

from __future__ import annotations

import csv
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder import gradebook
from autograder.gradebook import nbgrader_rows
from autograder.tests import synthetic_class
from autograder.tests.gradebook_rows import count_rows, rows

STUDENTS = 20


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return gradebook.default_db_url(tmp_path)
    return request.getfixturevalue("postgres").database(f"concurrent_{uuid.uuid4().hex[:8]}")


def grade(course: Path, submitted: Path, out: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "autograder.cli", "--root", str(course),
                             "grade", str(submitted), "--out", str(out), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(*runs: subprocess.Popen) -> list[str]:
    """Each run's stdout, once all have finished (each must succeed)."""
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (_, stderr) in zip(runs, outputs):
        assert run.returncode == 0, stderr
    return [stdout for stdout, _ in outputs]


def grades_csv(out: Path) -> dict[tuple[str, str], float]:
    with open(out / "grades.csv") as file:
        return {(row["student_id"], row["assignment"]): float(row["raw_score"])
                for row in csv.DictReader(file)}


def check_gradebook(db_url: str, klass: synthetic_class.SyntheticClass) -> None:
    """Every grade of the class right, each row once, and the whole gradebook's export complete."""
    expected = {(student, assignment, cell): points
                for student in klass.students for assignment in klass.duedates
                for cell, points in klass.checks(student, assignment).items()}
    graded = {(row[0], row[1], row[5]): row[6] for row in rows(db_url) if row[5] != "written_why"}
    assert graded == expected
    pairs = len(klass.students) * len(klass.duedates)
    counts = count_rows(db_url)
    # 2 autograded cells and 1 written answer each
    assert (counts["student"], counts["submitted_assignment"], counts["submitted_notebook"],
            counts["grade"]) == (len(klass.students), pairs, pairs, 3 * pairs)
    assert ((counts["assignment"], counts["notebook"], counts["course"])
            == (len(klass.duedates),) * 2 + (1,))
    with Gradebook(db_url) as gb:
        exported = {(r["student_id"], r["assignment"]): r["raw_score"] for r in nbgrader_rows(gb)}
    assert exported == {(s, a): sum(klass.checks(s, a).values())
                        for s in klass.students for a in klass.duedates}


def test_two_runs_grading_one_assignment_each(tmp_path, db_url):
    outs = [tmp_path / "out-1", tmp_path / "out-2"]
    klass = synthetic_class.build(tmp_path, STUDENTS, 2, outs)
    first, second = sorted(klass.duedates)
    stdout = finish(grade(klass.root, klass.submitted, outs[0], "--db", db_url,
                          "--assignment", first),
                    grade(klass.root, klass.submitted, outs[1], "--db", db_url,
                          "--assignment", second))
    check_gradebook(db_url, klass)
    for out, assignment, printed in zip(outs, (first, second), stdout):
        assert grades_csv(out) == {(s, assignment): sum(klass.checks(s, assignment).values())
                                   for s in klass.students}
        assert f"graded {STUDENTS} notebooks of {STUDENTS} students in {assignment} " in printed


def test_two_runs_grading_half_of_the_class_each(tmp_path, db_url):
    outs = [tmp_path / "out-1", tmp_path / "out-2"]
    klass = synthetic_class.build(tmp_path, STUDENTS, 2, outs)
    halves = [klass.students[: STUDENTS // 2], klass.students[STUDENTS // 2:]]
    folders = [tmp_path / "half-1", tmp_path / "half-2"]
    for half, folder in zip(halves, folders):
        for student in half:
            shutil.move(klass.submitted / student, folder / student)
    finish(*(grade(klass.root, folder, out, "--db", db_url) for folder, out in zip(folders, outs)))
    check_gradebook(db_url, klass)
    for out, half in zip(outs, halves):  # never a classmate whom the other run grades, at 0
        assert grades_csv(out) == {(s, a): sum(klass.checks(s, a).values())
                                   for s in half for a in klass.duedates}


def test_a_second_run_into_a_busy_output_folder_refuses_and_the_first_one_finishes(tmp_path):
    out = tmp_path / "out"
    klass = synthetic_class.build(tmp_path, 2, 1, [out])
    db_url = gradebook.default_db_url(out)
    # the gradebook exists; now hold its write lock, as a long write would
    with gradebook.open_gradebook(db_url):
        pass
    holder = sqlite3.connect(out / "gradebook.db")
    holder.execute("BEGIN IMMEDIATE")
    try:
        # it takes OUT, then waits for the gradebook
        first = grade(klass.root, klass.submitted, out)
        deadline = time.monotonic() + 120
        while not _holds(out, first.pid):
            assert time.monotonic() < deadline and first.poll() is None, first.communicate()
            time.sleep(0.1)
        second = subprocess.run([sys.executable, "-m", "autograder.cli", "--root", str(klass.root),
                                 "grade", str(klass.submitted), "--out", str(out)],
                                capture_output=True, text=True, timeout=120)
        assert first.poll() is None  # still waiting for the gradebook
    finally:
        holder.rollback()
        holder.close()
    assert second.returncode == 2
    assert second.stderr == (f"grade: {out} is being written by another `autograder grade` "
                             f"(pid {first.pid}); run again when it has finished, "
                             "or grade into another --out\n")
    finish(first)
    assert grades_csv(out) == {(s, a): sum(klass.checks(s, a).values())
                               for s in klass.students for a in klass.duedates}


def _holds(out: Path, pid: int) -> bool:
    """Whether process `pid` holds OUT (pipeline.output_lock writes its pid once it has the
    lock)."""
    lock = out / ".autograder.lock"
    return lock.exists() and lock.read_text() == f"pid {pid}"
