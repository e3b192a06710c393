"""What grading one notebook produces: the contract between the engine and the orchestrator.

`autograder.engine.grade_notebook(...)` returns a `NotebookResult` and never raises for anything a
student submitted; the orchestrator (the only writer of the gradebook) records it, and feedback
and the class report are made from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["passed", "failed", "error", "not-run"]


@dataclass
class CheckResult:
    """One autograded test cell of the source notebook."""

    grade_id: str
    objective: str | None
    max_points: float
    points: float
    status: Status
    # What the student may read: for a hidden check never its code, inputs' construction or expected value.
    message: str = ""
    misconception: str | None = None


@dataclass
class NotebookResult:
    student: str
    assignment: str
    notebook: str
    checks: list[CheckResult] = field(default_factory=list)
    # grade_ids of the manually graded cells (written answers), left for a human.
    manual: list[str] = field(default_factory=list)
    # Notebook-level records, each a sentence: malformed input, repaired cells, a limit reached, a missing notebook.
    problems: list[str] = field(default_factory=list)
    # Seconds spent, by phase ("kernel", "answers", "tests", ...).
    timings: dict[str, float] = field(default_factory=dict)
    sandboxed: bool = True

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
        return cls(**{**data, "checks": [CheckResult(**c) for c in data["checks"]]})
