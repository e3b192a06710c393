"""Grading one student's notebook: `grade_notebook(...) -> NotebookResult`.

1. The graded notebook is rebuilt from the source (solutions/): its setup and test cells, with
   only the answer cells' code taken from the submission (autograder/structure.py).
2. The setup and answer cells run, in order, in the student's kernel: a separate, sandboxed,
   limited process (autograder/sandbox.py).
3. Each test cell runs here, in the grader's process, on plain data fetched from the kernel
   (autograder/trusted.py). Its verdict is what `mlcourse.checking` decides; feedback on a failed
   hidden check leaves out the expected value (`CheckFailure.hidden_message()`).

A kernel lost to a crash or a per-cell limit costs the step it was running: it is restarted, the
earlier answers are replayed and grading goes on. When a notebook-wide limit is reached (total
time, or too many restarts), the remaining tests score 0 with the reason. Nothing in a submission
makes this function raise.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

import nbformat

from autograder.course import nbgrader, objective_of
from autograder.intake import IntakeError, read_notebook
from autograder.results import CheckResult, NotebookResult
from autograder.sandbox import Interrupted, Kernel, KernelDied, Limits, SandboxUnavailable, check_available
from autograder.structure import Plan, Step, rebuild, source_plan
from autograder.trusted import Bridge, TestRunner
from mlcourse.checking import _defined_names  # the names a cell defines, as `reference` reads them

__all__ = ["Limits", "grade_notebook", "checks_of"]

UNSANDBOXED = "graded WITHOUT the sandbox (--no-sandbox): the student's code could read and change this machine's files"


class NotebookLimit(Interrupted):
    """A limit on the whole notebook was reached; the remaining tests are not run."""


def checks_of(source: nbformat.NotebookNode) -> list[CheckResult]:
    """The autograded test cells of a source notebook, none run yet: what a local check reports against."""
    return [CheckResult(grade_id=nbgrader(cell)["grade_id"], objective=objective_of(cell),
                        max_points=float(nbgrader(cell).get("points", 0)), points=0.0, status="not-run")
            for cell in source.cells if cell.cell_type == "code" and nbgrader(cell).get("grade")
            and not nbgrader(cell).get("solution")]


@contextlib.contextmanager
def _course_root(root: Path):
    """`mlcourse.checking.reference` reads the solutions of the course being graded."""
    before = os.environ.get("MLCOURSE_ROOT")
    os.environ["MLCOURSE_ROOT"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLCOURSE_ROOT", None)
        else:
            os.environ["MLCOURSE_ROOT"] = before


class _Session:
    """The kernel of one notebook, restarted (with the earlier answers replayed) when it is lost."""

    def __init__(self, scratch: Path, limits: Limits, sandbox: bool, timings: dict[str, float]):
        self.scratch, self.limits, self.sandbox, self.timings = scratch, limits, sandbox, timings
        self.deadline = time.monotonic() + limits.notebook_seconds
        self.kernel: Kernel | None = None
        self.done: list[Step] = []  # setup and answer steps that ran in this notebook, to replay after a restart
        self.starts = 0

    def timeout(self, seconds: float | None = None) -> float:
        """Seconds the next request may take: the cell's limit (`seconds`, when given) within the notebook's."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise NotebookLimit(f"the notebook's time limit of {self.limits.notebook_seconds:g} s was reached")
        return min(self.limits.cell_seconds if seconds is None else seconds, left)

    def _tick(self, phase: str, start: float) -> None:
        self.timings[phase] = self.timings.get(phase, 0.0) + time.monotonic() - start

    def bridge(self) -> Bridge:
        if self.kernel is None:
            self._start()
        return Bridge(self.kernel, self.timeout)

    def _start(self) -> None:
        if self.starts > self.limits.restarts:
            raise NotebookLimit(f"the kernel stopped once more after {self.limits.restarts} restarts, the most a notebook may have")
        self.starts += 1
        start = time.monotonic()
        kernel = Kernel(self.scratch, self.limits, self.sandbox)
        try:
            kernel.start()
        except KernelDied as error:
            raise NotebookLimit(str(error)) from None
        finally:
            self._tick("kernel", start)
        self.kernel = kernel
        for step in list(self.done):
            if self.kernel is None:
                break  # a replayed step killed it: it is dropped, and the next start replays the rest
            self.run(step, replay=True)

    def run(self, step: Step, replay: bool = False) -> str | None:
        """Run a setup or answer cell in the kernel; the error it raised, or None."""
        start = time.monotonic()
        try:
            bridge = self.bridge()
            # The setup (the instructor's imports) gets the start-up allowance, not a student's cell limit.
            seconds = self.limits.startup_seconds if step.kind == "setup" else None
            reply = bridge.kernel.request({"op": "run", "source": step.source}, self.timeout(seconds))
        except KernelDied as error:
            self.kernel = None
            if step.kind == "setup":  # the instructor's code, before any of the student's: nothing to skip
                raise NotebookLimit(f"the setup cell did not finish ({error})") from None
            if replay:
                self.done.remove(step)
            return str(error)
        finally:
            self._tick("setup" if step.kind == "setup" else "answers", start)
        if not replay:
            self.done.append(step)
        return None if reply["ok"] else str(reply.get("error"))[:500]

    def lost(self) -> None:
        self.kernel = None

    def close(self) -> None:
        if self.kernel is not None:
            self.kernel.stop()


def _not_run(checks: list[CheckResult], message: str) -> None:
    for check in checks:
        if check.status == "not-run":
            check.message = message


def grade_notebook(source: Path, submitted: Path | None, *, student: str, scratch: Path,
                   limits: Limits | None = None, sandbox: bool = True) -> NotebookResult:
    """Grade `submitted` (a student's copy of the notebook `source`, None when missing) in `scratch`."""
    limits = limits or Limits()
    source_nb = nbformat.read(source, as_version=4)
    result = NotebookResult(student=student, assignment=source.parent.name, notebook=source.stem,
                            checks=checks_of(source_nb), manual=source_plan(source_nb).manual, sandboxed=sandbox)
    if submitted is None:
        result.problems.append(f"{source.name} was not submitted")
        _not_run(result.checks, "not graded: the notebook was not submitted")
        return result
    try:
        plan = rebuild(source_nb, read_notebook(submitted))
    except IntakeError as error:
        result.problems.append(str(error))
        _not_run(result.checks, f"not graded: {error}")
        return result
    result.problems += plan.problems
    if sandbox:
        try:
            check_available()
        except SandboxUnavailable as error:
            result.problems.append(str(error))
            _not_run(result.checks, "not graded: the sandbox cannot run on the grading machine")
            return result
    else:
        result.problems.append(UNSANDBOXED)
    scratch.mkdir(parents=True, exist_ok=True)
    with _course_root(source.resolve().parents[2]):
        _run(plan, source_nb, result, _Session(scratch, limits, sandbox, result.timings), source.parent.name)
    return result


def _run(plan: Plan, source_nb, result: NotebookResult, session: _Session, label: str) -> None:
    checks = {check.grade_id: check for check in result.checks}
    setup = next((step.source for step in plan.steps if step.kind == "setup"), "")
    start = time.monotonic()
    answers = set().union(*(_defined_names(s.source) for s in source_plan(source_nb).steps if s.kind == "answer"))
    runner = TestRunner(setup, label, answers)
    session._tick("tests", start)
    failed_answers: dict[str, tuple[str, str]] = {}
    try:
        for step in plan.steps:
            if step.kind in ("setup", "answer"):
                error = session.run(step)
                if error is not None:
                    failed_answers[step.grade_id] = (step.source, error)
                    if "the kernel stopped" in error:
                        result.problems.append(f"the answer cell `{step.grade_id}` was stopped ({error}); "
                                               "the checks that use it score 0, the others go on")
            else:
                _test(step, checks[step.grade_id], runner, session, failed_answers)
    except NotebookLimit as limit:
        result.problems.append(f"{limit}; the remaining checks score 0")
        _not_run(result.checks, f"not run: {limit}")
    finally:
        session.close()


def _test(step: Step, check: CheckResult, runner: TestRunner, session: _Session, failed: dict[str, tuple[str, str]]) -> None:
    start = time.monotonic()
    try:
        status, message, misconception = runner.run(step.grade_id, step.source, session.bridge())
    except KernelDied as error:
        session.lost()
        status, message, misconception = "error", f"the student's code did not finish: {error}", None
    finally:
        session._tick("tests", start)
    missing = re.search(r"name '(\w+)' is not defined", message) if status == "error" else None
    if missing:
        message += "".join(f"\n{_answer_failure(grade_id, error)}" for grade_id, (source, error) in failed.items()
                           if missing[1] == grade_id or missing[1] in _defined_names(source))
    check.status, check.message, check.misconception = status, message, misconception
    check.points = check.max_points if status == "passed" else 0.0


def _answer_failure(grade_id: str, error: str) -> str:
    if error.startswith("NotImplementedError"):
        return f"`{grade_id}` is not answered yet (its cell raises NotImplementedError)."
    if error.startswith("the kernel stopped"):
        return f"The answer cell `{grade_id}` did not finish: {error}."
    return f"The answer cell `{grade_id}` raised {error}"
