"""Grading one student's notebook: `grade_notebook(...) -> NotebookResult`, the stages in order.

1. Plan (autograder/plan.py): the graded notebook is rebuilt from the source (solutions/), its
   setup and test cells with only the answer cells' code taken from the submission.
2. Execution (autograder/execution.py): the setup and answer cells run, in order, in the
   student's kernel: a separate, sandboxed, limited process (autograder/sandbox/kernels.py).
3. Verdicts (autograder/verdicts.py): each test cell runs here, in the grader's process, on plain
   data fetched from the kernel. Its verdict is what `mlcourse.checking` decides; feedback on a
   failed hidden check leaves out the expected value.

Reading and planning the submission count against the notebook's own time limit (and a file larger
than MAX_PARSED_NOTEBOOK_BYTES is not read at all). When a notebook-wide limit is reached (total
time, or too many restarts), the remaining tests score 0 with the reason. When the grader itself
fails (the kernel cannot be started, the setup cell fails), the result says so in `grader_error` and
carries no points: it is not a grade, and the pipeline grades the notebook again. Nothing in a
submission makes this function raise.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.execution import GraderFault, KernelSession, NotebookLimit, TimeLimit
from autograder.intake import IntakeError, parse_notebook
from autograder.plan import Plan, rebuild
from autograder.pool import GRACE_SECONDS
from autograder.results import CheckResult, NotebookResult, bounded
from autograder.sandbox import kernels as sandboxes
from autograder.sandbox.kernels import (
    KernelDied,
    Limits,
    SandboxUnavailable,
    check_available,
    warm_available,
)
from autograder.verdicts import KERNEL_LOST, AnswerError, TestRunner, Verdict
from mlcourse.lessons import Cell, modules_imported, read_lesson

UNSANDBOXED = ("graded WITHOUT the sandbox (--no-sandbox): the student's code could read and "
               "change this machine's files")
# The largest submitted notebook that is parsed and graded. The lessons' notebooks weigh about
# 0.1 MB, a few MB with every figure's output: a submission of more is not parsed (parsing JSON
# costs about 35 times its size in memory, in the grading process). intake.MAX_READ_FILE_BYTES,
# larger, caps what is read from the submissions folder at all.
MAX_PARSED_NOTEBOOK_BYTES = 16 << 20


@dataclass(frozen=True)
class Options:
    """How every notebook of a run is graded (part of what a kept result depends on)."""

    timeout: float = 300.0  # seconds per notebook, the whole of it: kernel, answers and tests
    sandbox: bool = True
    # kernels forked from a template that imported the setup's modules (kernels.ForkedKernel)
    warm: bool = True
    # a retry after a grader error: the grading process starts a new template first
    fresh_template: bool = False
    # The student's kernel's own limits (`autograder grade --cell-timeout`, `--memory`,
    # `--processes`); the rest of its Limits keep their defaults.
    cell_seconds: float = Limits.cell_seconds
    memory_bytes: int = Limits.memory_bytes
    processes: int = Limits.processes

    @property
    def limits(self) -> Limits:
        """The limits every kernel of the run gets, cold or warm: the one table the sandbox
        reads."""
        return Limits(notebook_seconds=self.timeout, cell_seconds=self.cell_seconds,
                      memory_bytes=self.memory_bytes, processes=self.processes)

    def key(self) -> dict:
        """What a kept result depends on: how a retry starts its kernels changes no grade."""
        return {name: value for name, value in self.__dict__.items() if name != "fresh_template"}


@dataclass(frozen=True)
class Task:
    """One notebook to grade, carrying what it needs as bytes (a worker needs no shared file
    system)."""

    student: str
    assignment: str
    notebook: str
    source: bytes  # the instructor's notebook, solutions/<assignment>/<notebook>.ipynb
    submission: bytes | None  # the student's file; None: not submitted

    @property
    def name(self) -> str:
        return f"{self.student}/{self.assignment}/{self.notebook}"

    def to_dict(self) -> dict:
        encode = lambda raw: None if raw is None else base64.b64encode(raw).decode()  # noqa: E731
        return {**self.__dict__, "source": encode(self.source),
                "submission": encode(self.submission)}

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        decode = lambda text: None if text is None else base64.b64decode(text)  # noqa: E731
        return cls(**{**data, "source": decode(data["source"]),
                      "submission": decode(data["submission"])})


def too_large(name: str, size: int) -> str | None:
    """Why a submitted file of `size` bytes is not read (None: it is read)."""
    if size <= MAX_PARSED_NOTEBOOK_BYTES:
        return None
    return (f"{name} is {size / 2**20:.1f} MB, more than the "
            f"{MAX_PARSED_NOTEBOOK_BYTES >> 20} MB a notebook may be; it was not read")


def grade_task(task: Task, options: Options, workdir: Path) -> NotebookResult:
    """Grade a task in `workdir`, where its source notebook is written as a one-lesson course."""
    # one per version of the source
    course = workdir / f"course-{hashlib.sha256(task.source).hexdigest()[:16]}"
    source = course / "solutions" / task.assignment / f"{task.notebook}.ipynb"
    if not source.exists():
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(task.source)
    # the pool waits for this notebook at most its limit plus GRACE_SECONDS from now
    began = time.monotonic()
    scratch = workdir / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)  # each notebook starts from an empty folder
    if options.fresh_template:
        sandboxes.discard_template()
    return grade_notebook(source, task.submission, student=task.student, scratch=scratch,
                          limits=options.limits, sandbox=options.sandbox,
                          warm=options.warm, began=began)


def grade_notebook(source: Path, submission: bytes | None, *, student: str, scratch: Path,
                   limits: Limits | None = None, sandbox: bool = True, warm: bool = True,
                   began: float | None = None) -> NotebookResult:
    """Grade `submission` (the bytes of a student's copy of the notebook `source`, None when
    missing) in `scratch`.

    `source` is `<course>/solutions/<assignment>/<notebook>.ipynb`; hidden tests read the expected
    values from that course's solutions. `began`: when the worker pool's wait for this notebook
    began (time.monotonic()); its time ends early enough for the grader to answer within that
    wait."""
    limits = limits or Limits()
    lesson = read_lesson(source)
    result = NotebookResult.blank(lesson, student, source.parent.name, sandboxed=sandbox)
    if submission is None:
        return result.not_submitted(source.name)
    if (large := too_large(source.name, len(submission))) is not None:
        return result.not_graded(large, f"not graded: {large}")
    # The grader's own start-up (the sandbox's check, the warm kernels' template, the tests'
    # namespace with the lesson's reference values) is not the student's: it happens before the
    # notebook's time starts.
    if sandbox:
        try:
            check_available()
        except SandboxUnavailable as error:
            return result.grader_failed(f"the sandbox cannot run on the grading machine: {error}")
    modules = tuple(sorted(modules_imported(lesson.setup))) if warm else None
    if modules is not None and warm_available(sandbox):
        try:
            sandboxes.template(modules, limits)
        except (KernelDied, OSError) as error:
            return result.grader_failed(f"the kernel template could not be started ({error})")
    begin = time.monotonic()
    runner = TestRunner(lesson, source.resolve().parents[2])
    result.timings["tests"] = time.monotonic() - begin
    start, stalled = time.monotonic(), _cpu_stall()
    deadline, session, fault = start + limits.notebook_seconds, None, False
    # a start-up slowed by load ate into the pool's grace: the time-out is graded again
    if began is not None:
        deadline = min(deadline, began + limits.notebook_seconds + GRACE_SECONDS - 5.0)
    try:
        # The notebook's own time bounds the grader's work on it, reading and planning the
        # submission included.
        with _alarm(deadline + 1.0, limits.notebook_seconds):
            try:
                plan = rebuild(lesson, parse_notebook(submission, source.name))
            except IntakeError as error:
                return result.not_graded(str(error), f"not graded: {error}")
            result.problems += plan.problems
            result.answers = {**{s.grade_id: s.source for s in plan.steps if s.kind == "answer"},
                              **plan.written}
            if not sandbox:
                result.problems.append(UNSANDBOXED)
            scratch.mkdir(parents=True, exist_ok=True)
            session = KernelSession(scratch, limits, sandbox, result.timings, modules, deadline)
            _steps(plan, result, session, runner,
                   {check.grade_id: check for check in result.checks}, {})
    except GraderFault as error:
        result.grader_failed(str(error))
        fault = session is not None and session.warm_modules is not None
    except NotebookLimit as limit:
        result.problems.append(f"{limit}; the remaining checks score 0")
        result.mark_not_run(f"not run: {limit}")
        result.timed_out = isinstance(limit, TimeLimit)  # the wall clock's, wherever it ran out
    finally:
        if session is not None:
            result.timed_out |= session.timed_out
            stopping = time.monotonic()
            session.close()
            session.tick("kernel", stopping)  # stopping the kernel is part of the kernel's time
    # a warm kernel that failed to start or to run the setup: perhaps its template's fault
    if fault:
        sandboxes.discard_template()
    if stalled is not None and (now := _cpu_stall()) is not None:
        result.cpu_contention = round(min((now - stalled) / max(time.monotonic() - start, 1e-3),
                                          1.0), 4)
    result.problems = bounded(result.problems)
    return result


def _cpu_stall() -> float | None:
    """Seconds in which some task of this machine waited for a CPU, since boot (Linux PSI; None
    without it)."""
    try:
        # "some avg10=.. avg60=.. avg300=.. total=µs"
        some = Path("/proc/pressure/cpu").read_text().split("\n", 1)[0]
        return int(some.rsplit("total=", 1)[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return None


@contextlib.contextmanager
def _alarm(deadline: float, limit: float):
    """Bound the grader's own work on this notebook too (a test's computation on what came back):
    at `deadline` (time.monotonic()) raise NotebookLimit wherever the grader is. Signals reach only
    the main thread; elsewhere the pool's backstop (pool.GRACE_SECONDS) is the bound."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeLimit(f"the notebook's time limit of {limit:g} s was reached")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(deadline - time.monotonic(), 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _steps(plan: Plan, result: NotebookResult, session: KernelSession, runner: TestRunner,
           checks: dict, failed_answers: dict) -> None:
    for step in plan.steps:
        if step.kind in ("setup", "answer"):
            error = session.run(step)
            if error is not None:
                failed_answers[step.grade_id] = (step, error)
                if error.kind in KERNEL_LOST:
                    result.problems.append(f"the answer cell `{step.grade_id}` was stopped "
                                           f"({error.text}); the checks that use it score 0, the "
                                           "others go on")
        else:
            _score(checks[step.grade_id], _test(step, runner, session), failed_answers)


def _test(step: Cell, runner: TestRunner, session: KernelSession) -> Verdict:
    start = time.monotonic()
    try:
        return runner.run(step, session.bridge())
    except KernelDied as error:
        session.lost()
        return Verdict("error", f"the student's code did not finish: {error}",
                       student_names=frozenset(runner.read))
    finally:
        session.tick("tests", start)


def _score(check: CheckResult, verdict: Verdict,
           failed_answers: dict[str, tuple[Cell, AnswerError]]) -> None:
    """Record a verdict. A test that missed a name says which answer cell should have defined it
    and why it did not; a test that read names of an answer cell that raised after defining them
    says so first, and names no misconception: the error may be what the check saw."""
    message, misconception = verdict.message, verdict.misconception
    missing = [grade_id for grade_id, (cell, _) in failed_answers.items()
               if verdict.missing_name and (verdict.missing_name == grade_id
                                            or verdict.missing_name in cell.defines)]
    message += "".join(f"\n{_answer_failure(grade_id, failed_answers[grade_id][1])}"
                       for grade_id in missing)
    # A lost kernel took the cell's names with it: only a cell that raised left some behind.
    crashed = [_crash_note(grade_id, sorted(cell.defines & verdict.student_names), error,
                           verdict.status)
               for grade_id, (cell, error) in failed_answers.items()
               if grade_id not in missing and error.kind not in KERNEL_LOST
               and cell.defines & verdict.student_names]
    if crashed:
        message = "\n".join([*crashed, message]).rstrip()
        misconception = None
    check.status, check.message, check.misconception = verdict.status, message, misconception
    check.points = check.max_points if verdict.status == "passed" else 0.0


def _answer_failure(grade_id: str, error: AnswerError) -> str:
    if error.kind == "not_implemented":
        return f"`{grade_id}` is not answered yet (its cell raises NotImplementedError)."
    if error.kind in KERNEL_LOST:
        return f"The answer cell `{grade_id}` did not finish: {error.text}."
    return f"The answer cell `{grade_id}` raised {error.text}"


def _crash_note(grade_id: str, names: list[str], error: AnswerError, status: str) -> str:
    """The error of an answer cell that raised after defining `names`, which a check read."""
    defined = ", ".join(f"`{name}`" for name in names)
    fix = ("delete the `raise NotImplementedError()` line left from the template"
           if error.kind == "not_implemented"
           else "define or import that name before the line that uses it (a missing import?)"
           if error.exception == "NameError"
           else "the lines after the error did not run")
    outcome = ("this check passed on what it had defined" if status == "passed"
               else "this check ran on what it had defined, so what follows may come from the "
                    "error rather than from your method")
    return (f"The answer cell `{grade_id}` raised {error.text} after defining {defined}; "
            f"{outcome}. Fix it: {fix}.")
