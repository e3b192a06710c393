"""A synthetic class of any size whose every notebook already has a result, graded by nobody: for
the tests of bookkeeping (concurrent runs, large classes) and scripts/benchmark_bookkeeping.py.

The fixture lesson (fixtures/course) is copied as several assignments with weekly due dates; every
student submits every assignment (nbgrader's submitted layout, with collect's timestamp.txt, one
student in five two days late) and OUT/results holds a result for each notebook under the key
`autograder grade` computes, so a run finds every result unchanged and only does its bookkeeping.
`points` says what each check scored.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from autograder.course import Course
from autograder.engine import Options
from autograder.environment import ROOT
from autograder.pool import code_fingerprint
from autograder.results import NotebookResult, ResultStore, result_key
from autograder.tests.conftest import FIXTURE_COURSE
from mlcourse.lessons import read_lesson

FIRST_DUE = datetime(2026, 1, 12, 17, 0)  # UTC


@dataclass
class SyntheticClass:
    root: Path  # the course folder
    submitted: Path
    duedates: dict[str, datetime]
    students: list[str]

    @property
    def course(self) -> Course:
        return Course(self.root)

    def checks(self, student: str, assignment: str) -> dict[str, float]:
        """{test cell's grade id: the points its cached result scored}."""
        lesson = self.course.lessons(assignment)[0]
        number = sorted(self.duedates).index(assignment)
        return {test.grade_id: points(self.students.index(student), number, c, test.points)
                for c, test in enumerate(lesson.tests)}


def points(student: int, assignment: int, check: int, max_points: float) -> float:
    """What check number `check` of assignment number `assignment` scored for student number
    `student`."""
    return 0.0 if (student + assignment + check) % 3 == 0 else max_points


def build(folder: Path, students: int, assignments: int, outs: list[Path]) -> SyntheticClass:
    """The class in `folder`, with every result cached in each OUT of `outs` (their results/
    folders)."""
    root, submitted = folder / "course", folder / "submitted"
    names = [f"{i + 1:02d}_fixture" for i in range(assignments)]
    source = FIXTURE_COURSE / "solutions" / "01_fixture" / "01_fixture.ipynb"
    for name in names:
        (root / "solutions" / name).mkdir(parents=True)
        shutil.copy(source, root / "solutions" / name / f"{name}.ipynb")
    shutil.copy(ROOT / "nbgrader_config.py", root)
    duedates = {name: FIRST_DUE + timedelta(weeks=i) for i, name in enumerate(names)}
    lesson, data = read_lesson(source), source.read_bytes()
    stores = [ResultStore(out / "results", code_fingerprint()) for out in outs]
    options = Options().key()
    ids = [f"student{s:05d}" for s in range(students)]
    for s, student in enumerate(ids):
        for a, name in enumerate(names):
            place = submitted / student / name
            place.mkdir(parents=True)
            (place / f"{name}.ipynb").write_bytes(data)
            late = timedelta(days=2) if s % 5 == 0 else -timedelta(hours=1)
            (place / "timestamp.txt").write_text(f"{duedates[name] + late} UTC")
            result = NotebookResult.blank(lesson, student, name)
            result.notebook = name
            for c, check in enumerate(result.checks):
                check.points = points(s, a, c, check.max_points)
                check.status = "passed" if check.points else "failed"
            for store in stores:
                store.put(f"{student}/{name}/{name}", result_key(data, data, student, options),
                          result)
    return SyntheticClass(root, submitted, duedates, ids)
