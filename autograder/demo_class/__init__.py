"""The bundled demo class: submissions of every kind the grader must get right, built from the
lessons.

The class is generated, not stored, so that it follows the lessons as they change: each student
starts from the released notebook (`notebooks/`) and fills answer cells from the solution
(`solutions/`) or from the kept answers beside each lesson (`solutions/<lesson>/kept_answers.py`:
WRONG, typical mistakes; ALTERNATIVE, correct answers written differently). The students:

- perfect: the solution's answers; alternative: the differently written correct answers;
- empty: the notebooks as handed out; partial: the first half of each notebook's exercises answered;
- mistakes_<n>: kept typical mistakes of lesson n, as many as fit in one notebook without one
  hiding another (a wrong answer never feeds another wrong answer's test; the lesson tests check
  every kept mistake singly); the student's other lessons are answered correctly;
- late: perfect answers submitted two days after the due date;
- crash: in the first lesson the first answer cell raises at its top; the rest is answered;
- missing: perfect answers, but the last lesson's notebook was not submitted.

`build_demo_class(root, into)` writes nbgrader's submitted layout into `into` and a manifest
(`demo_class.json` beside it) saying, per student and lesson, the answer sources submitted and the
misconceptions their feedback must name.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat

from autograder.release import generate
from mlcourse.lessons import (
    Lesson,
    Wrong,
    kept_answers,
    lesson_names,
    lesson_path,
    names_read,
    parse_lesson,
    read_lesson,
)

FIRST_DUE = datetime(2026, 1, 12, 17, 0)  # UTC; one lesson a week
CRASH = 'raise RuntimeError("I will finish this later")\n'


@dataclass
class Demo:
    submitted: Path
    duedates: dict[str, datetime]
    # {student: {"kind", "lessons": {lesson: {"submitted", "timestamp", "answers",
    #                                         "misconceptions"}}}}
    manifest: dict


@dataclass
class DemoLesson:
    """A lesson as the demo class needs it: the released notebook to fill in, the solution, the kept
    answers."""

    name: str
    release: nbformat.NotebookNode
    solution: Lesson
    wrong: list[Wrong]
    # answer_id -> the first differently written correct answer kept for it
    alternative: dict[str, str]

    @property
    def answers(self) -> dict[str, str]:
        """answer grade_id -> the solution's source (code and written answers)."""
        return {c.grade_id: c.source for c in self.solution.answers + self.solution.written}

    @property
    def code_answers(self) -> list[str]:
        return [c.grade_id for c in self.solution.answers]


def _load(root: Path, name: str, release_dir: Path) -> DemoLesson:
    release = root / "notebooks" / name / f"{name}.ipynb"
    if not release.exists():  # not released yet: generate it as `autograder release` would
        generate(root, name, release_dir)
        release = release_dir / name / f"{name}.ipynb"
    kept = kept_answers(root, name)
    first = {}
    for answer_id, source in kept.alternative:
        first.setdefault(answer_id, source)
    return DemoLesson(name, nbformat.read(release, as_version=4),
                      read_lesson(lesson_path(root, name)), kept.wrong, first)


def _reads(source: str) -> set[str]:
    try:
        return names_read(source)
    except SyntaxError:
        return set()


def _answers_used(lesson: DemoLesson, source: str) -> set[str]:
    """The answer cells `source` depends on, directly or through other answers."""
    defines = {c.grade_id: c.defines for c in lesson.solution.answers}
    used, todo = set(), _reads(source)
    while todo:
        found = {a for a, names in defines.items() if names & todo} - used
        used |= found
        todo = set().union(*(_reads(lesson.answers[a]) for a in found)) if found else set()
    return used


def mistake_groups(lesson: DemoLesson) -> list[list[Wrong]]:
    """The kept mistakes split into students so that no wrong answer feeds another one's test."""
    tests = {c.grade_id: c.source for c in lesson.solution.tests}
    groups: list[list[Wrong]] = []
    for entry in lesson.wrong:
        for group in groups:
            clash = any(entry.answer_id == w.answer_id
                        or entry.answer_id in _answers_used(lesson, tests[w.test_id])
                        or w.answer_id in _answers_used(lesson, tests[entry.test_id])
                        for w in group)
            if not clash:
                group.append(entry)
                break
        else:
            groups.append([entry])
    return groups


def _notebook(lesson: DemoLesson, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with `answers` (by grade id) in its answer cells."""
    notebook = nbformat.from_dict(json.loads(json.dumps(lesson.release)))
    for cell, meta in zip(notebook.cells, parse_lesson(notebook, lesson.name).cells):
        if meta.kind in ("answer", "written") and meta.grade_id in answers:
            cell.source = answers[meta.grade_id]
    return notebook


def _plan(course: list[DemoLesson]
          ) -> dict[str, tuple[str, dict[str, dict[str, str] | None], list]]:
    """{student: (kind, {lesson: answers to fill in, or None when not submitted},
    misconceptions)}."""
    perfect = {lesson.name: lesson.answers for lesson in course}
    first, last = course[0], course[-1]
    plan = {
        "perfect": ("the solution's answers", perfect, []),
        "empty": ("the notebooks as handed out", {lesson.name: {} for lesson in course}, []),
        "partial": ("the first half of each notebook's exercises", {
            lesson.name: {a: lesson.answers[a]
                          for a in lesson.code_answers[:(len(lesson.code_answers) + 1) // 2]}
            for lesson in course}, []),
        "alternative": ("correct answers written differently from the solution",
                        {lesson.name: {**lesson.answers, **lesson.alternative}
                         for lesson in course}, []),
        "late": ("the solution's answers, two days after each due date", perfect, []),
        "crash": ("the first answer cell of the first lesson raises at its top", {
            **perfect,
            first.name: {**first.answers,
                         first.code_answers[0]: CRASH + first.answers[first.code_answers[0]]}},
            []),
        "missing": ("the last lesson's notebook was not submitted", {**perfect, last.name: None},
                    []),
    }
    for number, lesson in enumerate(course, 1):
        # one student per lesson (each more costs a whole course of grading): its first group of
        # mistakes
        for group in mistake_groups(lesson)[:1]:
            answers = {**lesson.answers, **{w.answer_id: w.source for w in group}}
            plan[f"mistakes_{number}"] = (f"typical mistakes of {lesson.name}",
                                          {**perfect, lesson.name: answers},
                                          [[lesson.name, w.answer_id, w.test_id, w.phrase]
                                           for w in group])
    return plan


def duedates(course_lessons: list[str]) -> dict[str, datetime]:
    return {name: FIRST_DUE + timedelta(weeks=i) for i, name in enumerate(course_lessons)}


def build_demo_class(root: Path, into: Path) -> Demo:
    """Write the demo class into `into` (replacing what was there) and its manifest beside it."""
    names = lesson_names(root)
    if not names:
        raise FileNotFoundError(f"no lessons in {root / 'solutions'} to build a demo class from")
    due = duedates(names)
    with tempfile.TemporaryDirectory() as tmp:
        course = [_load(root, name, Path(tmp)) for name in names]
    if into.exists():
        shutil.rmtree(into)
    manifest = {}
    for i, (student, (kind, per_lesson, misconceptions)) in enumerate(_plan(course).items()):
        entry = manifest[student] = {"kind": kind, "lessons": {}}
        for lesson in course:
            answers = per_lesson[lesson.name]
            offset = timedelta(days=2) if student == "late" else -timedelta(hours=1 + i)
            timestamp = due[lesson.name] + offset
            folder = into / student / lesson.name
            folder.mkdir(parents=True)
            (folder / "timestamp.txt").write_text(f"{timestamp:%Y-%m-%d %H:%M:%S.%f} UTC\n")
            notebook = None if answers is None else _notebook(lesson, answers)
            if notebook is not None:
                nbformat.write(notebook, folder / f"{lesson.name}.ipynb")
                # as `nbgrader collect` leaves it: the files were last changed before the
                # submission time
                saved = (timestamp - timedelta(minutes=10)).replace(tzinfo=timezone.utc).timestamp()
                os.utime(folder / f"{lesson.name}.ipynb", (saved, saved))
            entry["lessons"][lesson.name] = {
                "submitted": notebook is not None, "timestamp": timestamp.isoformat(),
                "answers": None if notebook is None else {
                    c.grade_id: c.source for c in parse_lesson(notebook, lesson.name).answers},
                "misconceptions": [m[1:] for m in misconceptions if m[0] == lesson.name]}
    (into.parent / "demo_class.json").write_text(json.dumps(manifest, indent=1))
    return Demo(into, due, manifest)
