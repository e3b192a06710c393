"""What grading one notebook produces, and where it is kept between runs.

`autograder.engine.grade_notebook(...)` returns a `NotebookResult` and never raises for anything a
student submitted; the orchestrator (the only writer of the gradebook) records it, and feedback,
the report and the exports are made from it. `ResultStore` keeps each result in OUT/results/
under a key of everything it depends on, so grading unchanged submissions again costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, get_args

from mlcourse.lessons import Cell, Lesson, names_defined, names_read

Status = Literal["passed", "failed", "error", "not-run"]
# problem lines kept per notebook: one notebook cannot bury the report or its own feedback
MAX_PROBLEMS = 20
MAX_PROBLEM_CHARS = 500  # each of them (a student's grade id quoted in one may be megabytes long)
NOT_GRADED = ("not graded: the grader failed on this notebook (not the student's doing); it will "
              "be graded again")


@dataclass
class CheckResult:
    """One autograded test cell of the source notebook."""

    grade_id: str
    objective: str | None
    max_points: float
    points: float
    status: Status
    # What the student may read: for a hidden check never its code, inputs' construction or expected
    # value.
    message: str = ""
    misconception: str | None = None
    answers: list[str] = field(default_factory=list)  # grade ids of the answer cells the test uses


@dataclass
class NotebookResult:
    student: str
    assignment: str
    notebook: str
    checks: list[CheckResult] = field(default_factory=list)
    # grade_ids of the manually graded cells (written answers), left for a human.
    manual: list[str] = field(default_factory=list)
    # grade id -> the student's answer as submitted (code and written answers), for feedback and
    # formgrader.
    answers: dict[str, str] = field(default_factory=dict)
    # Notebook-level records, each a sentence: malformed input, repaired cells, a limit reached, a
    # missing notebook.
    problems: list[str] = field(default_factory=list)
    # Seconds spent, by phase ("kernel", "setup", "answers", "tests").
    timings: dict[str, float] = field(default_factory=dict)
    sandboxed: bool = True
    submitted: bool = True  # False: the student handed in no file for this notebook
    # A wall-clock limit was reached: the pipeline grades the notebook again before it counts,
    # unless the machine's CPU was almost never contended meanwhile (`cpu_contention`).
    timed_out: bool = False
    # The share of the notebook's wall time in which some task of the grading machine waited for a
    # CPU (Linux's pressure stall information; None where the kernel has none): an upper bound on
    # the kernel's own wait.
    cpu_contention: float | None = None
    # Why the grader itself failed on this notebook (kernel template, sandbox, grading process,
    # pool, an invalid result), never the student's doing: the notebook is NOT GRADED, its checks
    # carry no points, the gradebook records no autograded score for it, and the run says so first
    # (autograder/README.md, "A grader failure").
    grader_error: str | None = None
    # Grader failures on earlier tries that a retry (a fresh kernel template, then a cold kernel)
    # got past; for the instructor's report, not the student's feedback (they did not cost the
    # student anything).
    retried: list[str] = field(default_factory=list)

    @classmethod
    def blank(cls, lesson: Lesson, student: str, assignment: str,
              sandboxed: bool = True) -> NotebookResult:
        """Every test of `lesson` at 0 points, none run yet."""
        checks = [CheckResult(t.grade_id, t.objective, t.points, 0.0, "not-run",
                              answers=uses(lesson, t))
                  for t in lesson.tests]
        return cls(student, assignment, lesson.name, checks, [w.grade_id for w in lesson.written],
                   sandboxed=sandboxed)

    def mark_not_run(self, message: str, status: Status = "not-run") -> None:
        """Give every check that has not run `message` (and `status`)."""
        for check in self.checks:
            if check.status == "not-run":
                check.status, check.message = status, message

    def not_graded(self, problem: str, message: str, status: Status = "not-run") -> NotebookResult:
        """This result, recorded as not graded: the problem once, and `message` on every check."""
        self.problems.append(problem)
        self.mark_not_run(message, status)
        return self

    def grader_failed(self, reason: str) -> NotebookResult:
        """This result, recorded as not graded because the grader failed (`reason`): no check keeps
        a point."""
        self.grader_error = reason[:MAX_PROBLEM_CHARS]
        self.problems = bounded([f"not graded (grader error): {self.grader_error}", *self.problems])
        for check in self.checks:
            check.status, check.points, check.misconception = "not-run", 0.0, None
            check.message = NOT_GRADED
        return self

    def not_submitted(self, filename: str) -> NotebookResult:
        self.submitted = False
        return self.not_graded(f"{filename} was not submitted",
                               "not graded: the notebook was not submitted")

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NotebookResult:
        """A result read back (a kept file, a worker's reply), in JSON's plain types. ValueError if
        it is not one: MalformedResult names the fields, or the checks by grade id, whose values
        are not of their types (a string would become a list of its letters, True a point)."""
        checks = data.get("checks") if isinstance(data, dict) else None
        if not (isinstance(checks, list) and all(isinstance(check, dict) for check in checks)):
            raise ValueError("not a result: it has no list of checks")
        wrong = [name for name, kind in _SHAPES.items() if name in data and not kind(data[name])]
        wrong += [str(check.get("grade_id"))[:50] for check in checks
                  if any(name in check and not kind(check[name])
                         for name, kind in _CHECK_SHAPES.items())]
        if wrong:
            raise MalformedResult(", ".join(wrong[:5]))
        error = data.get("grader_error")
        return cls(**{**data, "checks": [CheckResult(**c) for c in checks],
                      "problems": bounded(data.get("problems", [])),
                      "retried": bounded(data.get("retried", [])),
                      "grader_error": None if error is None else str(error)[:MAX_PROBLEM_CHARS]})


class MalformedResult(ValueError):
    """A result read back whose named fields are not of their types."""


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _texts(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _text(value) -> bool:
    return isinstance(value, str)


def _text_or_none(value) -> bool:
    return value is None or isinstance(value, str)


# a field of NotebookResult, or of CheckResult -> whether a value of it read back has its type
_SHAPES = {
    "student": _text, "assignment": _text, "notebook": _text, "manual": _texts,
    "problems": _texts, "retried": _texts,
    "answers": lambda v: isinstance(v, dict) and all(isinstance(t, str) for t in v.values()),
    "timings": lambda v: isinstance(v, dict) and all(_number(t) for t in v.values()),
    "sandboxed": lambda v: isinstance(v, bool), "submitted": lambda v: isinstance(v, bool),
    "timed_out": lambda v: isinstance(v, bool), "grader_error": _text_or_none,
    "cpu_contention": lambda v: v is None or _number(v),
}
_CHECK_SHAPES = {
    "grade_id": _text, "objective": _text_or_none, "max_points": _number, "points": _number,
    "status": lambda v: v in get_args(Status), "message": _text, "misconception": _text_or_none,
    "answers": _texts,
}


def misconception_counts(results: list[NotebookResult]) -> Counter:
    """How many failed checks named each (assignment, check, misconception) across `results`."""
    return Counter((r.assignment, c.grade_id, c.misconception) for r in results for c in r.checks
                   if c.misconception and c.status != "passed")


def bounded(problems: list[str]) -> list[str]:
    """At most MAX_PROBLEMS lines of at most MAX_PROBLEM_CHARS each, the last saying how many more
    there were (applying it again changes nothing)."""
    cut = [p if len(p) <= MAX_PROBLEM_CHARS else p[:MAX_PROBLEM_CHARS - 3] + "..."
           for p in problems[:MAX_PROBLEMS]]
    if len(problems) <= MAX_PROBLEMS:
        return cut
    return [*cut[:MAX_PROBLEMS - 1],
            f"... and {len(problems) - MAX_PROBLEMS + 1} more problem(s) of the same notebook, not "
            "listed"]


def uses(lesson: Lesson, test: Cell) -> list[str]:
    """The answer cells a test cell reads a name of (its feedback shows the student's code of
    these)."""
    return list(_uses(test.source, tuple((answer.grade_id, answer.source)
                                         for answer in lesson.answers
                                         if answer.cell_type == "code")))


# By the cells' sources: every result starts from a blank of its lesson (NotebookResult.blank), in
# each grading process and for each notebook, and parsing the tests and answers again cost about a
# tenth of a notebook's grading.
@functools.lru_cache(maxsize=1024)
def _uses(test: str, answers: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    read = names_read(test)
    return tuple(grade_id for grade_id, source in answers if names_defined(source) & read)


def result_key(source: bytes, submission: bytes | None, student: str, options: dict) -> str:
    """What a result depends on: the source notebook, the submission, the student and the grading
    options."""
    digest = hashlib.sha256(source)
    digest.update(submission if submission is not None else b"<missing>")
    digest.update(json.dumps([student, options], sort_keys=True).encode())
    return digest.hexdigest()


class ResultStore:
    """OUT/results/<student>/<assignment>/<notebook>.json: each result with the key it was graded
    under and the fingerprint of the grading code that graded it (pool.code_fingerprint).

    A result graded by other code (a fix in mlcourse.checking, a new limit, another torch) is not
    reused unless `keep_other_code` says so: `stale` counts those seen, so that the run can say why
    it grades them again."""

    def __init__(self, folder: Path, code: str | None = None, keep_other_code: bool = False):
        self.folder, self.code, self.keep_other_code = folder, code, keep_other_code
        self.stale = 0

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def get(self, name: str, key: str) -> NotebookResult | None:
        """The kept result of `name` ("student/assignment/notebook"), if it was graded under `key`
        by this code (or by any code, with `keep_other_code`)."""
        try:
            saved = json.loads(self._path(name).read_text())
            if saved.get("key") != key:
                return None
            if saved.get("code") != self.code:
                self.stale += 1
                if not self.keep_other_code:
                    return None
            return NotebookResult.from_dict(saved["result"])
        # unreadable: as if never graded
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def every(self) -> dict[tuple[str, str, str], NotebookResult]:
        """{(student, assignment, notebook): result} of every kept result, whatever graded it (the
        exports show what was recorded); an unreadable file is left out, as `get` treats it as never
        graded."""
        kept = {}
        for path in sorted(self.folder.glob("*/*/*.json")):
            try:
                result = NotebookResult.from_dict(json.loads(path.read_text())["result"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            kept[result.student, result.assignment, result.notebook] = result
        return kept

    def put(self, name: str, key: str, result: NotebookResult) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name, then renamed: a run killed mid-write leaves no half
        # result.
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps({"key": key, "code": self.code, "result": result.to_dict()},
                                      indent=1))
        os.replace(partial, path)
