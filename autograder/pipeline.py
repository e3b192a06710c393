"""Grading a class, stage by stage: intake, then each notebook graded (plan, execution, verdicts)
by the worker pool, then recording in the gradebook, then the outputs.

    intake.discover        SUBMISSIONS -> a Submission per (student, notebook), times, problems
    results.ResultStore    a result kept from an earlier run is reused when nothing it depends on
                           changed
    pool.grade_all         the rest are graded in parallel (engine.grade_task in each worker); a
                           notebook that reached a time limit on a contended CPU is graded again
                           (those together, up to one per CPU) before it counts; one the grader
                           failed on is graded again on a fresh kernel template, then on a cold
                           kernel, else recorded NOT GRADED
    gradebook.Recorder     each result as it arrives, in batches, by this process alone (other runs
                           may write into the same gradebook at once)
    outputs.write_outputs  grades.csv, feedback pages, the class report

A newcomer following one submission reads `grade_class` top to bottom.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from autograder import gradebook, intake, pool
from autograder.course import Course
from autograder.engine import Options, Task, too_large
from autograder.outputs import write_outputs
from autograder.results import NotebookResult, ResultStore, bounded, result_key
from mlcourse.lessons import read_lesson

# A time-out is graded again when some task of the machine waited for a CPU during at least this
# share of the notebook's time (or when that is unknown): below it, the kernel itself waited less,
# and would have needed nearly all of its limit on an idle machine too (a notebook that sleeps is
# not graded again).
CONTENDED = 0.05
RETRIED = ("it reached a time limit while the grading machine's CPU was busy with other work; it "
           "was graded again, beside only notebooks that had reached theirs")


class Busy(RuntimeError):
    """Another run is writing into the same output folder."""


@contextlib.contextmanager
def output_lock(out: Path):
    """Hold OUT for this run: a second `autograder grade` into the same folder refuses at once,
    saying why (two runs would both grade everything and write over each other's outputs)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".autograder.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise Busy(f"{out} is being written by another `autograder grade` ({holder}); run "
                       "again when it has finished, or grade into another --out") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}")
        lock.flush()
        yield


@dataclass
class Graded:
    """What a run produced: every notebook's result in course order, and where the outputs are."""

    results: list[NotebookResult]
    outputs: dict[str, Path]
    # by stage: intake, kept (results reused), grading, recording, outputs (and its parts)
    seconds: dict[str, float]


def grade_class(submissions: Path, out: Path, course: Course, options: Options, *,
                jobs: int | None = 1,
                scheduler: pool.Scheduler | None = None, db_url: str | None = None,
                duedates: dict[str, datetime] | None = None, regrade: bool = False,
                times_file: Path | None = None, keep_other_code: bool = False
                ) -> Graded:
    """Grade every notebook in SUBMISSIONS into the gradebook and OUT; write the outputs.

    `jobs` notebooks at once (None: see `pool.grade_all`), here or on the Dask cluster at
    `scheduler`."""
    db_url = db_url or gradebook.default_db_url(out)
    store, results = ResultStore(out / "results", pool.code_fingerprint(), keep_other_code), {}
    clock = _Clock()
    with (output_lock(out), tempfile.TemporaryDirectory(prefix="autograder-") as tmp,
          gradebook.open_gradebook(db_url) as gb):
        found = intake.discover(submissions, course, Path(tmp) / "unpacked", times_file)
        gradebook.define_course(gb, course, found.students, duedates or {})
        recorder = gradebook.Recorder(gb, course.late_plugin())
        clock.lap("intake")

        keys: dict[str, str] = {}

        def keep(submission: intake.Submission, result: NotebookResult, new: bool = True) -> None:
            result.problems = bounded(result.problems)  # the pipeline's own lines too
            # a kept result is in the store already; a failure is no result
            if new and result.grader_error is None:
                store.put(submission.name, keys[submission.name], result)
            recorder.add(result, found.times[submission.student, submission.assignment].when,
                         missing=not submission.submitted)
            results[submission.name] = result

        to_grade, unchanged = [], 0
        for submission in found.submissions:
            content, problem = _read(submission)
            keys[submission.name] = result_key(submission.source.read_bytes(), content,
                                               submission.student, options.key())
            if (content is not None
                    and (problem := too_large(submission.source.name, len(content))) is not None):
                content = None  # refused here, as the engine would: it never travels to a worker
            kept = (None if regrade or content is None
                    else store.get(submission.name, keys[submission.name]))
            if content is None:  # not submitted, or refused: recorded without starting a kernel
                keep(submission, _ungraded(submission, problem, options))
            elif kept is not None:
                keep(submission, kept, new=False)
                unchanged += 1
            else:
                to_grade.append(submission)
        if store.stale and keep_other_code:
            print(f"{store.stale} result(s) were graded by other grading code; kept, as "
                  "--keep-other-code asks")
        elif store.stale:
            print(f"{store.stale} result(s) were graded by other grading code (autograder, "
                  "mlcourse, torch or numpy changed); regrading them (--keep-other-code keeps "
                  "them)")
        if unchanged:
            print(f"{unchanged} notebook(s) unchanged since an earlier run: their results are kept "
                  "(--regrade to redo)")
        clock.lap("kept")
        logs = Path(tmp) / "logs"
        for submission, result in _graded_with_retries(to_grade, options, jobs, logs, scheduler):
            keep(submission, result)
        recorder.flush()
        clock.lap("grading")
    ordered = [results[s.name] for s in found.submissions]
    outputs = write_outputs(ordered, out, course, db_url, found,
                            lambda part: clock.lap(f"outputs: {part}"))
    seconds = clock.seconds
    seconds["outputs"] = sum(t for stage, t in seconds.items() if stage.startswith("outputs: "))
    # Recording happens while results arrive: its own time is counted apart from the stages it
    # overlaps.
    return Graded(ordered, outputs, {**seconds, "recording": recorder.busy})


class _Clock:
    """Seconds between laps, by stage name."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = now - self.last
        self.last = now


def _graded_with_retries(submissions: list[intake.Submission], options: Options, jobs: int | None,
                         logs: Path, scheduler: pool.Scheduler | None
                         ) -> Iterator[tuple[intake.Submission, NotebookResult]]:
    """Each submission with the result that counts. A grader failure is never a grade: a notebook
    the grader failed on is graded again on a fresh kernel template, then on a cold kernel, and if
    it still fails its result says so (`grader_error`: not graded). A notebook that reached a
    wall-clock limit while the machine's CPU was contended (perhaps others' load, not its code) is
    graded again, beside only such notebooks, at most one per CPU here (each kernel is held to one
    core), before its result counts."""
    failed: list[tuple[intake.Submission, NotebookResult]] = []
    slow = []
    for submission, result in _graded(submissions, options, jobs, logs / "1", scheduler):
        if result.grader_error is not None:
            failed.append((submission, result))
        elif result.timed_out and _slowed(result, jobs, len(submissions)):
            slow.append(submission)
        else:
            yield submission, result
    at_once = jobs if scheduler is not None else min(jobs or pool.usable_cpus(), pool.usable_cpus())
    for submission, result in (_graded(slow, options, at_once, logs / "slow", scheduler)
                               if slow else ()):
        if result.grader_error is not None:
            failed.append((submission, result))
        else:
            result.problems.append(RETRIED)
            yield submission, result
    retries = [replace(options, fresh_template=True),
               replace(options, warm=False, fresh_template=False)]
    for attempt, again in enumerate(retries):
        if not failed:
            return
        earlier = {s.name: [*r.retried, r.grader_error] for s, r in failed}
        failed = []
        for submission, result in _graded([s for s in submissions if s.name in earlier], again,
                                          jobs, logs / f"retry{attempt + 1}", scheduler):
            result.retried = earlier[submission.name]
            if result.grader_error is not None and attempt < len(retries) - 1:
                failed.append((submission, result))
            else:
                yield submission, result


def _slowed(result: NotebookResult, jobs: int | None, count: int) -> bool:
    """Whether a time-out may be the load's doing: the machine's CPU was contended meanwhile (a
    neighbour notebook's load, or any other), or, where that is unknown, other notebooks were graded
    beside it."""
    if result.cpu_contention is not None:
        return result.cpu_contention >= CONTENDED
    return jobs != 1 and count > 1


def _graded(submissions: list[intake.Submission], options: Options, jobs: int | None, logs: Path,
            scheduler: pool.Scheduler | None) -> Iterator[tuple[intake.Submission, NotebookResult]]:
    """Each submission with its result, as the pool finishes them (a worker's failure: a grader
    error)."""
    by_name = {s.name: s for s in submissions}
    unreadable = []

    # each file is read when its turn comes: the class need not fit in memory
    def tasks() -> Iterator[Task]:
        for submission in submissions:
            content, problem = _read(submission)
            if content is None:
                unreadable.append((submission, problem))
                continue
            yield Task(submission.student, submission.assignment, submission.notebook,
                       submission.source.read_bytes(), content)

    for task, outcome in pool.grade_all(tasks(), options, jobs, logs, total=len(submissions),
                                        scheduler=scheduler,
                                        lessons=[read_lesson(source) for source
                                                 in {s.source for s in submissions}]):
        submission = by_name[task.name]
        # the grading process, the pool or the result's check failed, not the student
        if isinstance(outcome, str):
            outcome = _blank(submission, options).grader_failed(outcome)
        yield submission, outcome
    for submission, problem in unreadable:  # it changed after intake read it
        yield submission, _ungraded(submission, problem, options)


def _read(submission: intake.Submission) -> tuple[bytes | None, str | None]:
    """The submitted file's bytes, or None and why (None, None: not submitted)."""
    try:
        return submission.read(), None
    except intake.IntakeError as error:
        return None, str(error)


def _blank(submission: intake.Submission, options: Options) -> NotebookResult:
    return NotebookResult.blank(read_lesson(submission.source), submission.student,
                                submission.assignment, sandboxed=options.sandbox)


def _ungraded(submission: intake.Submission, problem: str | None,
              options: Options) -> NotebookResult:
    """The result of a notebook that was not submitted (`problem` None), or that intake refused."""
    if problem is None:
        return _blank(submission, options).not_submitted(submission.source.name)
    return _blank(submission, options).not_graded(problem, f"not graded: {problem}")
