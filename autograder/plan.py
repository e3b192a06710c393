"""The plan, the second stage: the notebook that is graded, rebuilt from the source.

Everything but the answers comes from the instructor's source notebook (solutions/): the setup,
the test cells, their points and ids. From the submission only the code of answer cells is taken,
matched by nbgrader grade id. Whatever a student did to the other cells (edited, deleted,
duplicated, split or re-typed test and read-only cells, changed grade ids, nbgrader metadata of
their own) therefore cannot change what is graded; each is recorded as a problem so the student
and the instructor see it, and none of it can stop grading.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from autograder.results import MAX_PROBLEMS
from mlcourse.lessons import Cell, Lesson, SubmittedCell, submitted_cells

SHOWN = MAX_PROBLEMS // 2  # unknown grade ids named one by one; the rest are counted


@dataclass
class Plan:
    """The cells to run, in notebook order (setup, answers, tests), and what was wrong with the
    submission."""

    steps: list[Cell]
    problems: list[str] = field(default_factory=list)
    # written answers (markdown) by grade id, as submitted
    written: dict[str, str] = field(default_factory=dict)


def rebuild(lesson: Lesson, submission: dict) -> Plan:
    """The steps of `lesson` with the answers of `submission` (a notebook as parsed JSON), and its
    problems."""
    cells = submitted_cells(submission)
    by_id: dict[str, list[SubmittedCell]] = {}
    for cell in cells:
        if cell.grade_id is not None:
            by_id.setdefault(cell.grade_id, []).append(cell)
    plan = Plan([])
    for step in lesson.steps:
        if step.kind == "answer":
            source, problem = _answer(step.grade_id, by_id.get(step.grade_id, []))
            step = dataclasses.replace(step, source=source)
            plan.problems += [problem] if problem else []
        plan.steps.append(step)
    # graded by hand; kept for the instructor's formgrader and the feedback
    for cell in lesson.written:
        found = [c for c in by_id.get(cell.grade_id, []) if c.cell_type == "markdown"]
        plan.written[cell.grade_id] = "\n\n".join(c.source for c in found)
    known = {c.grade_id for c in lesson.cells if c.grade_id is not None}
    # a renamed cell is found by its code, once for all cells
    by_source: dict[str, list[SubmittedCell]] = {}
    for cell in lesson.cells:
        if cell.grade_id is None:
            continue
        found = by_id.get(cell.grade_id, [])
        if cell.kind == "test" or (cell.kind not in ("answer", "written") and cell.locked):
            if not found and not by_source:
                for submitted in cells:
                    by_source.setdefault(_normal(submitted.source), []).append(submitted)
            plan.problems += _read_only(cell, found, by_source)
        # A student may not change what a cell is or is worth: the source's metadata is what counts.
        if any(c.graded.get(k) != cell.graded.get(k) for c in found for k in c.graded):
            plan.problems.append(f"the nbgrader metadata of cell `{cell.grade_id}` was changed "
                                 "(points or cell kind); the source's was used")
    unknown = [grade_id for grade_id in by_id if grade_id not in known]
    plan.problems += ["a cell carries nbgrader metadata with the unknown grade id "
                      f"`{grade_id[:100]}` (a changed id or metadata of the student's own); it was "
                      "ignored" for grade_id in unknown[:SHOWN]]
    # a notebook's problems are bounded (results.bounded); so is the work on them
    if len(unknown) > SHOWN:
        plan.problems.append(f"... and {len(unknown) - SHOWN} more cells with unknown grade ids; "
                             "they were ignored")
    return plan


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _answer(grade_id: str, found: list[SubmittedCell]) -> tuple[str, str | None]:
    """The code to run for answer `grade_id` and, when something is off, a problem."""
    code = [c for c in found if c.cell_type == "code"]
    if not found:
        return ("", f"the answer cell `{grade_id}` is missing from the submission; it was graded "
                "as unanswered")
    if not code:
        return "", (f"the answer cell `{grade_id}` was changed into a {found[0].cell_type} cell; "
                    "it was graded as unanswered")
    problem = None
    # a duplicated cell runs all its copies in order, as the notebook itself would
    if len(found) > 1:
        problem = (f"the answer cell `{grade_id}` appears {len(found)} times; its code cells were "
                   "run in order")
    return "\n\n".join(c.source for c in code), problem


def _read_only(cell: Cell, found: list[SubmittedCell],
               by_source: dict[str, list[SubmittedCell]]) -> list[str]:
    """Problems with a test or read-only cell of the source in the submission (graded from the
    source anyway); `by_source`: the submitted cells by their normalised code (filled when a cell is
    not found by its id)."""
    what = f"the {'test' if cell.kind == 'test' else 'read-only'} cell `{cell.grade_id}`"
    fixed = "; it was graded from the source version"
    # a test cell as students receive it: nbgrader removes the hidden part
    released = _normal(cell.visible)
    if not found:
        renamed = next((c for c in by_source.get(released, []) if c.grade_id != cell.grade_id),
                       None)
        if renamed is not None and renamed.grade_id:
            return [f"{what} has its grade id changed to `{renamed.grade_id[:100]}`{fixed}"]
        return [f"{what} was deleted{fixed}"]
    problems = []
    if len(found) > 1:
        problems.append(f"{what} appears {len(found)} times (duplicated or split){fixed}")
    first = found[0]
    if first.cell_type != cell.cell_type:
        problems.append(f"{what} was changed into a {first.cell_type} cell{fixed}")
    elif len(found) == 1 and _normal(first.source) != released:
        problems.append(f"{what} was edited{fixed}")
    return problems
