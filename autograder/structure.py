"""The notebook that is graded: the source's cells, with only the answers taken from the submission.

Everything but the answers comes from the instructor's source notebook (solutions/): the setup,
the test cells, their points and ids. From the submission only the code of answer cells is taken,
matched by nbgrader grade_id. Whatever a student did to the other cells (edited, deleted,
duplicated, split or re-typed test and read-only cells, changed grade ids, nbgrader metadata of
their own) therefore cannot change what is graded; each is recorded as a problem so the student
and the instructor see it, and none of it can stop grading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from autograder.course import is_answer, is_setup, is_test, nbgrader
from autograder.trusted import split_hidden

GRADED_KEYS = ("grade", "solution", "locked", "points")


@dataclass
class Step:
    kind: Literal["setup", "answer", "test"]
    grade_id: str
    source: str


@dataclass
class Plan:
    """The steps of grading in notebook order, the manually graded cells and what was wrong with the submission."""

    steps: list[Step]
    manual: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def source_plan(source) -> Plan:
    """The grading steps of the instructor's notebook as it is (its own answers: the solution)."""
    steps, manual = [], []
    for cell in source.cells:
        grade_id = nbgrader(cell).get("grade_id", "")
        if is_setup(cell):
            steps.append(Step("setup", grade_id, cell.source))
        elif is_answer(cell) and cell.cell_type == "code":
            steps.append(Step("answer", grade_id, cell.source))
        elif is_test(cell):
            steps.append(Step("test", grade_id, cell.source))
        if is_answer(cell) and nbgrader(cell).get("grade"):
            manual.append(grade_id)
    return Plan(steps, manual)


def _meta(cell) -> dict:
    """A submitted cell's nbgrader metadata, {} when absent or malformed."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    found = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else {}


def _grade_id(cell) -> str | None:
    grade_id = _meta(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


def _text(cell) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    return "".join(source) if isinstance(source, list) else source if isinstance(source, str) else ""


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _released(cell) -> str:
    """A read-only cell as students receive it (nbgrader removes the hidden tests)."""
    return _normal(split_hidden(cell.source)[0]) if is_test(cell) else _normal(cell.source)


def rebuild(source, submission) -> Plan:
    """The plan of `source` with the answers of `submission` (a notebook as a dict), and its problems."""
    plan = source_plan(source)
    cells = [c for c in submission.get("cells", []) if isinstance(c, dict)]
    by_id: dict[str, list] = {}
    for cell in cells:
        if _grade_id(cell) is not None:
            by_id.setdefault(_grade_id(cell), []).append(cell)
    answers = {step.grade_id: step for step in plan.steps if step.kind == "answer"}
    for step in answers.values():
        step.source, problem = _answer(step.grade_id, by_id.get(step.grade_id, []))
        if problem:
            plan.problems.append(problem)
    known = set()
    for cell in source.cells:
        grade_id = nbgrader(cell).get("grade_id")
        if grade_id is None:
            continue
        known.add(grade_id)
        found = by_id.get(grade_id, [])
        if is_test(cell) or (grade_id not in answers and nbgrader(cell).get("locked", False)):
            plan.problems += _read_only(cell, grade_id, found, cells)
        if any(_meta(c).get(k) != nbgrader(cell).get(k) for c in found for k in GRADED_KEYS if k in _meta(c)):
            plan.problems.append(f"the nbgrader metadata of cell `{grade_id}` was changed (points or cell kind); "
                                 "the source's was used")
    for grade_id in by_id:
        if grade_id not in known:
            plan.problems.append(f"a cell carries nbgrader metadata with the unknown grade id `{grade_id}` "
                                 "(a changed id or metadata of the student's own); it was ignored")
    return plan


def _answer(grade_id: str, found: list) -> tuple[str, str | None]:
    """The code to run for answer `grade_id` and, when something is off, a problem."""
    code = [c for c in found if c.get("cell_type") == "code"]
    if not found:
        return "", f"the answer cell `{grade_id}` is missing from the submission; it was graded as unanswered"
    if not code:
        kind = found[0].get("cell_type")
        return "", f"the answer cell `{grade_id}` was changed into a {kind} cell; it was graded as unanswered"
    problem = None
    if len(found) > 1:
        problem = f"the answer cell `{grade_id}` appears {len(found)} times; its code cells were run in order"
    return "\n\n".join(_text(c) for c in code), problem


def _read_only(cell, grade_id: str, found: list, cells: list) -> list[str]:
    """Problems with a test or read-only cell of the source in the submission (it is graded from the source anyway)."""
    what = f"the {'test' if is_test(cell) else 'read-only'} cell `{grade_id}`"
    fixed = "; it was graded from the source version"
    released = _released(cell)
    if not found:
        renamed = next((c for c in cells if _normal(_text(c)) == released and _grade_id(c) != grade_id), None)
        if renamed is not None and _grade_id(renamed):
            return [f"{what} has its grade id changed to `{_grade_id(renamed)}`{fixed}"]
        return [f"{what} was deleted{fixed}"]
    problems = []
    if len(found) > 1:
        problems.append(f"{what} appears {len(found)} times (duplicated or split){fixed}")
    first = found[0]
    if first.get("cell_type") != cell.cell_type:
        problems.append(f"{what} was changed into a {first.get('cell_type')} cell{fixed}")
    elif len(found) == 1 and _normal(_text(first)) != released:
        problems.append(f"{what} was edited{fixed}")
    return problems
