"""The plain nbgrader commands work in the course folder as nbgrader's documentation describes
(with the virtual environment's bin/ on PATH): generate_assignment, autograde, generate_feedback,
export and validate."""

from __future__ import annotations

import csv
import shutil
import subprocess

from autograder.environment import tool_env


def _nbgrader(course, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(["nbgrader", *args], cwd=course, env=tool_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_plain_nbgrader_commands(tiny_course):
    _nbgrader(tiny_course, "generate_assignment", "01_fixture", "--force")
    assert (tiny_course / "gradebook.db").exists()
    released = tiny_course / "notebooks" / "01_fixture" / "01_fixture.ipynb"
    submitted = tiny_course / "submitted" / "ada" / "01_fixture"
    submitted.mkdir(parents=True)
    shutil.copy(released, submitted)
    _nbgrader(tiny_course, "autograde", "01_fixture", "--create")
    _nbgrader(tiny_course, "generate_feedback", "01_fixture")
    assert (tiny_course / "feedback" / "ada" / "01_fixture" / "01_fixture.html").exists()
    _nbgrader(tiny_course, "export", "--to", "grades.csv")
    with open(tiny_course / "grades.csv") as f:
        [row] = list(csv.DictReader(f))
    assert (row["student_id"], row["raw_score"], row["max_score"]) == ("ada", "0.0", "4.0")
    validated = subprocess.run(["nbgrader", "validate", str(released)], cwd=tiny_course, env=tool_env(),
                               capture_output=True, text=True)
    assert "NotImplementedError" in validated.stdout + validated.stderr
