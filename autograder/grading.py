"""Grading a class: find the submissions, grade every notebook in parallel, record, write outputs.

    SUBMISSIONS/<student_id>/<assignment>/<notebook>.ipynb   (nbgrader's submitted layout)
    SUBMISSIONS/<student_id>.zip                              (the same layout inside a zip)

Each notebook is graded by `autograder.engine.grade_notebook` in its own worker process
(`python -m autograder.worker`), at most `jobs` at a time, each killed after the per-notebook time
limit. Workers write their `NotebookResult` as JSON; only this process opens the gradebook.
Results are kept in OUT/results/ under a hash of the inputs, so a run that was killed resumes where
it stopped and grading unchanged submissions again costs nothing (`regrade=True` redoes them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from tqdm.auto import tqdm

from autograder import gradebook
from autograder.course import lessons
from autograder.engine import checks_of, grade_notebook
from autograder.environment import tool_env
from autograder.intake import IntakeError, links_out, submission_time, unpack_zip
from autograder.results import NotebookResult
from autograder.structure import source_plan


@dataclass
class Task:
    """One notebook of one student to grade."""

    student: str
    assignment: str
    source: Path
    submitted: Path | None

    @property
    def notebook(self) -> str:
        return self.source.stem

    @property
    def name(self) -> str:
        return f"{self.student}/{self.assignment}/{self.notebook}"

    def key(self, sandbox: bool, timeout: float) -> str:
        """What the result depends on: the source, the submission and the grading options."""
        digest = hashlib.sha256(self.source.read_bytes())
        digest.update(self.submitted.read_bytes() if self.submitted else b"<missing>")
        digest.update(json.dumps([self.student, sandbox, timeout]).encode())
        return digest.hexdigest()


@dataclass
class Intake:
    """What was found in SUBMISSIONS."""

    tasks: list[Task] = field(default_factory=list)
    timestamps: dict[tuple[str, str], datetime | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # files and folders that are not part of any grade

    @property
    def students(self) -> list[str]:
        return sorted({t.student for t in self.tasks})


def sources(root: Path) -> dict[str, list[Path]]:
    """{assignment: its instructor notebooks} for every assignment in solutions/."""
    return {a: sorted((root / "solutions" / a).glob("*.ipynb")) for a in lessons(root)}


def _unpack(archive: Path, into: Path) -> Path:
    """A student's zip, safely extracted (autograder.intake); it may hold <student>/<assignment>/... or <assignment>/..."""
    folder = unpack_zip(archive, into / archive.stem)
    inner = folder / archive.stem
    return inner if inner.is_dir() and len(list(folder.iterdir())) == 1 else folder


def _timestamp(folder: Path, observed: datetime | None) -> tuple[datetime | None, str | None]:
    """The submission time as nbgrader stores it (naive UTC), and a problem when timestamp.txt was not believed."""
    if not folder.is_dir():
        return None, None
    when, problem = submission_time(folder, observed)
    problem = f"{folder.parent.name}/{folder.name}: {problem}" if problem else None
    return when.astimezone(timezone.utc).replace(tzinfo=None), problem


def discover(submissions: Path, root: Path, unpack_to: Path) -> Intake:
    """Every (student, assignment, notebook) of the course for every student found in SUBMISSIONS;
    a notebook the student did not submit becomes a task with `submitted=None`."""
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    course = sources(root)
    intake = Intake()
    folders: dict[str, tuple[Path, datetime | None]] = {}  # student -> (folder, when a zip arrived)
    for entry in sorted(submissions.iterdir()):
        if entry.is_symlink():
            intake.problems.append(f"{entry.name}: ignored (a symbolic link; links are not followed)")
        elif entry.is_dir() and not entry.name.startswith("."):
            folders[entry.name] = entry, None
        elif entry.suffix == ".zip":
            try:
                folders[entry.stem] = _unpack(entry, unpack_to), datetime.fromtimestamp(entry.stat().st_mtime, timezone.utc)
            except IntakeError as error:
                intake.problems.append(f"{entry.name}: not graded: {error}")
        elif not entry.name.startswith("."):
            intake.problems.append(f"{entry.name}: ignored (neither a student folder nor a .zip)")
    for student, (folder, arrived) in folders.items():
        intake.problems += [f"{student}/{problem}" for problem in links_out(folder)]
        for extra in sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in course):
            intake.problems.append(f"{student}/{extra}: ignored (no assignment of that name)")
        for assignment, notebooks in course.items():
            submitted = folder / assignment
            intake.timestamps[student, assignment], problem = _timestamp(submitted, arrived)
            intake.problems += [problem] if problem else []
            expected = {n.name for n in notebooks}
            if submitted.is_dir():
                intake.problems += [f"{student}/{assignment}/{p.name}: ignored (not a notebook of {assignment})"
                                    for p in sorted(submitted.glob("*.ipynb")) if p.name not in expected]
            for source in notebooks:
                path = submitted / source.name
                present = path.is_file() or path.is_symlink()  # a link is the engine's to refuse, with a record
                intake.tasks.append(Task(student, assignment, source, path if present else None))
    return intake


def blank_result(task: Task, problem: str, status: str = "not-run") -> NotebookResult:
    """A result with every check at 0 points, for a notebook whose grading did not finish."""

    notebook = nbformat.read(task.source, as_version=4)
    checks = checks_of(notebook)
    for check in checks:
        check.status, check.message = status, problem
    return NotebookResult(task.student, task.assignment, task.notebook, checks, source_plan(notebook).manual, [problem])


GRACE_SECONDS = 20.0  # beyond the engine's own notebook limit, before the worker is killed


@dataclass
class Options:
    jobs: int = os.cpu_count() or 1
    timeout: float = 300.0  # seconds per notebook, the whole of it: kernel, answers and tests
    sandbox: bool = True
    regrade: bool = False


class Worker:
    """A long-lived `python -m autograder.worker` process grading one notebook at a time.

    It keeps the grader's own imports (torch, numpy, the engine) between notebooks; student code
    never runs in it (the engine runs it in a sandboxed kernel), so nothing a student does carries
    over. A worker that dies or overruns the time limit is killed with its process group and replaced.
    """

    def __init__(self, work: Path, number: int):
        self.log = work / f"worker-{number}.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "autograder.worker"], stdin=subprocess.PIPE,
                                            stdout=log, stderr=subprocess.STDOUT, env=tool_env(),
                                            start_new_session=True, text=True)
        self.task: Task | None = None
        self.folder = work
        self.started = 0.0

    def submit(self, task: Task, folder: Path, options: Options) -> None:
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "scratch").mkdir(parents=True)
        spec = {"source": str(task.source), "submitted": str(task.submitted) if task.submitted else None,
                "student": task.student, "scratch": str(folder / "scratch"), "sandbox": options.sandbox,
                "timeout": options.timeout}
        (folder / "task.json").write_text(json.dumps(spec))
        self.task, self.folder, self.started = task, folder, time.monotonic()
        self.process.stdin.write(f"{folder}\n")
        self.process.stdin.flush()

    def poll(self, timeout: float) -> NotebookResult | None:
        """The finished task's result (a blank one when grading failed), or None while it runs."""
        task, folder = self.task, self.folder
        if (folder / "result.json").exists():
            result = NotebookResult.from_dict(json.loads((folder / "result.json").read_text()))
        elif (folder / "error.txt").exists():
            result = blank_result(task, f"the grader failed on this notebook: {(folder / 'error.txt').read_text()}",
                                  "error")
        elif self.process.poll() is not None:
            log = self.log.read_text(errors="replace").strip().splitlines()
            result = blank_result(task, f"the grader's worker stopped (exit code {self.process.returncode}): "
                                        f"{log[-1] if log else 'no message'}", "error")
        elif time.monotonic() - self.started > timeout + GRACE_SECONDS:
            self.stop()
            result = blank_result(task, f"time limit: grading this notebook took longer than {timeout:g} s; "
                                        "its tests score 0", "error")
        else:
            return None
        self.task = None
        shutil.rmtree(folder, ignore_errors=True)
        return result

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the worker and everything it started (its own process group)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def run_tasks(tasks: list[Task], work: Path, options: Options, done) -> None:
    """Grade `tasks` in at most `options.jobs` worker processes; `done(task, result)` as each finishes."""
    pending = list(tasks)
    work.mkdir(parents=True, exist_ok=True)
    workers = [Worker(work, i) for i in range(min(options.jobs, len(tasks)))]
    try:
        with tqdm(total=len(tasks), desc="grading", unit="notebook") as bar:
            while pending or any(w.task for w in workers):
                for i, worker in enumerate(workers):
                    task = worker.task
                    if task is not None and (result := worker.poll(options.timeout)) is not None:
                        done(task, result)
                        bar.update()
                    if worker.task is None and not worker.alive():
                        worker = workers[i] = Worker(work, i)
                    if worker.task is None and pending:
                        task = pending.pop(0)
                        worker.submit(task, work / task.name, options)
                time.sleep(0.02)
    finally:
        for worker in workers:
            worker.stop()


def grade_class(submissions: Path, out: Path, root: Path, options: Options, db_url: str | None = None,
                duedates: dict[str, datetime] | None = None) -> list[NotebookResult]:
    """Grade every notebook in SUBMISSIONS into the gradebook and OUT/results/; returns the results."""
    out.mkdir(parents=True, exist_ok=True)
    db_url = db_url or gradebook.default_db_url(out)
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        intake = discover(submissions, root, Path(tmp) / "unpacked")
        course = sources(root)
        plugin = gradebook.late_plugin(root)
        with Gradebook(db_url) as gb:
            for assignment, notebooks in course.items():
                gradebook.define_assignment(gb, assignment, notebooks, (duedates or {}).get(assignment))
            gradebook.add_students(gb, intake.students)
            gb.db.commit()

            results: dict[str, NotebookResult] = {}

            def keep(task: Task, result: NotebookResult) -> None:
                path = out / "results" / f"{task.name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                saved = {"key": task.key(options.sandbox, options.timeout), "result": result.to_dict()}
                path.write_text(json.dumps(saved, indent=1))
                gradebook.record(gb, result, intake.timestamps.get((task.student, task.assignment)), plugin,
                                 missing=task.submitted is None)
                results[task.name] = result

            to_grade = []
            for task in intake.tasks:
                cached = _cached(out / "results" / f"{task.name}.json", task.key(options.sandbox, options.timeout))
                if task.submitted is None:  # the engine records it without starting a kernel
                    keep(task, grade_notebook(task.source, None, student=task.student, scratch=Path(tmp),
                                              sandbox=options.sandbox))
                elif cached and not options.regrade:
                    keep(task, cached)
                else:
                    to_grade.append(task)
            kept = len(intake.tasks) - len(to_grade)
            if kept:
                print(f"{kept} notebook(s) unchanged since an earlier run: their results are kept (--regrade to redo)")
            run_tasks(to_grade, Path(tmp) / "work", options, keep)
    (out / "intake.json").write_text(json.dumps({"problems": intake.problems}, indent=1))
    return [results[t.name] for t in intake.tasks]


def _cached(path: Path, key: str) -> NotebookResult | None:
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return NotebookResult.from_dict(saved["result"]) if saved.get("key") == key else None


def write_outputs(results: list[NotebookResult], out: Path, root: Path, db_url: str) -> dict[str, Path]:
    """grades.csv (nbgrader's export, from the gradebook), feedback pages and the class report."""
    from nbgrader.plugins import CsvExportPlugin

    from autograder.feedback import write_feedback
    from autograder.report import write_report

    with Gradebook(db_url) as gb:
        CsvExportPlugin(to=str(out / "grades.csv")).export(gb)
        duedates = {a.name: a.duedate for a in gb.assignments}
        timestamps = {(s.student.id, a.name): s.timestamp for a in gb.assignments
                      for s in gb.assignment_submissions(a.name)}
    write_feedback(results, out, timestamps, duedates)
    problems = json.loads((out / "intake.json").read_text())["problems"]
    report = write_report(results, out, root, intake_problems=problems, timestamps=timestamps, duedates=duedates)
    return {"grades": out / "grades.csv", "feedback": out / "feedback", "report": report}
