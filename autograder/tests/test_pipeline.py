"""Grading a class of the fixture assignment: exact scores, a consistent gradebook whatever the
number of workers, idempotence, resuming, zips, missing notebooks, time limits, and outputs."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import psutil
import pytest

from autograder import gradebook, pipeline, pool
from autograder.course import Course
from autograder.demo_class import build_demo_class, duedates
from autograder.engine import Options, Task
from autograder.intake import discover
from autograder.pipeline import RETRIED, grade_class
from autograder.pool import Grader, grade_all
from autograder.tests.gradebook_rows import count_rows, rows
from mlcourse.lessons import lesson_names

# points per check of each fixture student (the fixture's test cells: total_log_prob 2,
# answer_objective 1)
EXPECTED = {
    "perfect": (2, 1), "alternative": (2, 1), "late": (2, 1), "empty": (0, 0), "partial": (2, 0),
    "crash": (0, 1), "missing": (0, 0), "mistakes_1": (0, 0),
}


def _zip_student(submitted: Path, student: str) -> None:
    """Replace a student's folder by <student>.zip holding the same layout (its time then
    unknown)."""
    with zipfile.ZipFile(submitted / f"{student}.zip", "w") as zf:
        for path in sorted((submitted / student).rglob("*")):
            zf.write(path, path.relative_to(submitted))
    shutil.rmtree(submitted / student)


def _grade(course: Path, submitted: Path, out: Path, jobs: int, **kw):
    db_url = gradebook.default_db_url(out)
    graded = grade_class(submitted, out, Course(course), Options(**kw), jobs=jobs,
                         duedates=duedates(lesson_names(course)))
    return graded.results, db_url


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The fixture course's demo class (one student zipped) graded with 2 workers and with 1."""
    from autograder.tests.conftest import copy_fixture_course

    course = copy_fixture_course(tmp_path_factory.mktemp("fixture") / "course")
    submitted = build_demo_class(course, course / "var" / "submitted").submitted
    _zip_student(submitted, "alternative")
    runs = {}
    for jobs in (2, 1):
        out = course / "var" / f"out{jobs}"
        results, db_url = _grade(course, submitted, out, jobs)
        runs[jobs] = (out, results, db_url)
    return course, submitted, runs


def test_every_student_gets_exactly_the_expected_points(graded):
    _, _, runs = graded
    _, results, _ = runs[2]
    got = {r.student: tuple(c.points for c in r.checks) for r in results}
    assert got == EXPECTED
    assert all(r.sandboxed for r in results)


def test_one_and_two_workers_give_identical_gradebooks_and_grades(graded):
    _, _, runs = graded
    (out2, _, db2), (out1, _, db1) = runs[2], runs[1]
    assert rows(db2) == rows(db1)
    assert len(rows(db2)) == len(EXPECTED) * 3  # 2 autograded cells and 1 written answer each
    assert (out2 / "grades.csv").read_text() == (out1 / "grades.csv").read_text()


def test_grading_again_changes_nothing_and_adds_no_row(graded):
    course, submitted, runs = graded
    out, _, db_url = runs[2]
    before, counts = rows(db_url), count_rows(db_url)
    stamps = {p: p.stat().st_mtime_ns for p in (out / "results").rglob("*.json")}
    _grade(course, submitted, out, jobs=2)  # kept results are reused: nothing is run again
    assert rows(db_url) == before and count_rows(db_url) == counts
    assert {p: p.stat().st_mtime_ns
            for p in (out / "results").rglob("*.json")}.keys() == stamps.keys()


def test_results_graded_by_other_code_are_graded_again_unless_kept_on_purpose(graded, tmp_path,
                                                                              monkeypatch, capsys):
    """A kept result records the fingerprint of the code that graded it: after a change to the
    grading code (here: its fingerprint) every result is graded again, and the run says why;
    --keep-other-code keeps them."""
    course, submitted, runs = graded
    out, _, db_url = runs[2]
    kept, again = tmp_path / "kept", tmp_path / "again"
    shutil.copytree(out, kept)
    shutil.copytree(out, again)
    stamps = {p.relative_to(out): p.stat().st_mtime_ns for p in (out / "results").rglob("*.json")
              if p.parts[-3] != "missing"}  # a notebook not handed in is recorded afresh each run
    monkeypatch.setattr(pool, "code_fingerprint", lambda: "a fix in mlcourse/checking.py")
    grade_class(submitted, kept, Course(course), Options(), jobs=2,
                duedates=duedates(lesson_names(course)), keep_other_code=True)
    assert (f"{len(stamps)} result(s) were graded by other grading code; kept"
            in capsys.readouterr().out)
    assert ({p: (kept / p).stat().st_mtime_ns for p in stamps}
            == {p: out_ns for p, out_ns in stamps.items()})
    _grade(course, submitted, again, jobs=2)
    assert f"{len(stamps)} result(s) were graded by other grading code" in capsys.readouterr().out
    assert all(json.loads((again / p).read_text())["code"] == "a fix in mlcourse/checking.py"
               for p in stamps)
    # the same grades, now from this code
    assert rows(gradebook.default_db_url(again)) == rows(db_url)

def test_a_run_stopped_midway_resumes_with_the_rest(graded, tmp_path):
    course, submitted, runs = graded
    out, _, db_url = runs[2]
    resumed = tmp_path / "out"
    shutil.copytree(out, resumed)
    (resumed / "results" / "perfect" / "01_fixture" / "01_fixture.json").unlink()  # never finished
    results, db = _grade(course, submitted, resumed, jobs=2)
    assert rows(db) == rows(db_url)
    assert (resumed / "results" / "perfect" / "01_fixture" / "01_fixture.json").exists()


def test_grades_csv_has_nbgraders_export_columns_and_one_row_per_student(graded):
    _, _, runs = graded
    out, _, _ = runs[2]
    with open(out / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["assignment", "duedate", "timestamp", "student_id", "last_name",
                             "first_name", "email", "raw_score", "late_submission_penalty",
                             "score", "max_score"]
    scores = {r["student_id"]: float(r["raw_score"]) for r in rows}
    assert scores == {s: float(sum(p)) for s, p in EXPECTED.items()}
    assert {r["max_score"] for r in rows} == {"4.0"}  # 3 autograded points and 1 written


def test_missing_notebook_is_recorded_and_scores_zero(graded):
    _, _, runs = graded
    out, results, db_url = runs[2]
    missing = next(r for r in results if r.student == "missing")
    assert missing.score == 0 and "not submitted" in missing.problems[0]
    flagged = {(row[0], row[9]) for row in rows(db_url)}
    assert ("missing", True) in flagged and ("perfect", False) in flagged
    assert ("- missing / 01_fixture / 01_fixture: 01_fixture.ipynb was not submitted"
            in (out / "report.md").read_text())


def test_feedback_names_misconceptions_and_hides_hidden_tests(graded):
    _, _, runs = graded
    out, _, _ = runs[2]
    page = (out / "feedback" / "mistakes_1" / "01_fixture" / "01_fixture.html").read_text()
    assert "the mean over terms instead of their sum" in page
    assert "squared error is the likelihood only under Gaussian noise" in page
    # the hidden check's expected value
    hidden_want = f"{-np.random.default_rng(0).random(5).sum():.6g}"
    alternative = (out / "feedback" / "alternative" / "01_fixture" / "01_fixture.html").read_text()
    for html in (page, alternative, *(p.read_text() for p in (out / "feedback").rglob("*.html"))):
        assert "BEGIN HIDDEN" not in html and "reference(" not in html and "default_rng" not in html
        assert hidden_want not in html
    assert "Submitted 2026-01-14 17:00 UTC, after the due date" in (
        out / "feedback" / "late" / "01_fixture" / "01_fixture.html").read_text()


def test_report_counts_misconceptions_and_lists_late_work(graded):
    _, _, runs = graded
    out, _, _ = runs[2]
    report = (out / "report.md").read_text()
    assert ("| 1 | 01_fixture | test_total_log_prob | the mean over terms instead of their sum |"
            in report)
    # 4 of 8 students pass test_total_log_prob
    assert "| 01_fixture | O1: add log-probabilities | 50% | 8 |" in report
    assert "- late: 01_fixture submitted 2026-01-14 17:00 UTC, 48.0 h after the due date" in report
    for figure in ("scores", "exercises", "objectives", "misconceptions"):
        assert (out / "report" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"


def test_time_limit_stops_one_notebook_only(graded, tmp_path, monkeypatch):
    course, submitted, _ = graded
    monkeypatch.setattr(pipeline, "CONTENDED", 0.0)  # every time-out beside others is graded again
    class_ = tmp_path / "submitted"
    for student in ("perfect", "mistakes_1"):
        shutil.copytree(submitted / student, class_ / student)
    notebook = class_ / "mistakes_1" / "01_fixture" / "01_fixture.ipynb"
    text = json.loads(notebook.read_text())
    for cell in text["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "answer_objective":
            cell["source"] = "while True:\n    pass"
    notebook.write_text(json.dumps(text))
    results, _ = _grade(course, class_, tmp_path / "out", jobs=2, timeout=8)
    by = {r.student: r for r in results}
    assert by["perfect"].score == 3
    assert by["mistakes_1"].score == 0
    assert any("time limit" in p for p in by["mistakes_1"].problems)
    assert by["mistakes_1"].problems[-1] == RETRIED  # and lost its points without its neighbour too


def test_a_notebook_that_timed_out_beside_others_is_graded_again(graded, tmp_path, monkeypatch):
    """The pipeline's rule, with the pool's first pass made to time out (a machine's load cannot be
    made on purpose): the second run's result is the one kept.
    test_time_limit_stops_one_notebook_only shows the same with a real timeout."""
    course, submitted, _ = graded
    monkeypatch.setattr(pipeline, "CONTENDED", 0.0)
    class_ = tmp_path / "submitted"
    for student in ("perfect", "partial"):
        shutil.copytree(submitted / student, class_ / student)
    real, passes = pool.grade_all, []

    def first_pass_under_load(tasks, options, jobs, *args, **kwargs):
        passes.append(jobs)
        for task, outcome in real(tasks, options, jobs, *args, **kwargs):
            if len(passes) == 1 and task.student == "perfect":
                outcome.timed_out = True  # as if a neighbour's load had cost it its time limit
            yield task, outcome

    monkeypatch.setattr(pool, "grade_all", first_pass_under_load)
    results, _ = _grade(course, class_, tmp_path / "out", jobs=2, timeout=60)
    perfect = next(r for r in results if r.student == "perfect")
    assert (passes == [2, min(2, pool.usable_cpus())] and perfect.score == 3
            and not perfect.timed_out)
    assert perfect.problems == [RETRIED]


def _with_sleepers(submitted: Path, class_: Path) -> None:
    """perfect, and two copies of it whose objective answer sleeps for ten minutes."""
    for student in ("perfect", "sleeper_1", "sleeper_2"):
        shutil.copytree(submitted / "perfect", class_ / student)
        if student != "perfect":
            notebook = class_ / student / "01_fixture" / "01_fixture.ipynb"
            text = json.loads(notebook.read_text())
            for cell in text["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == "answer_objective":
                    cell["source"] = "import time\ntime.sleep(600)"
            notebook.write_text(json.dumps(text))


@pytest.mark.parametrize("contended", [True, False])
def test_notebooks_that_timed_out_together_are_graded_again_together(graded, tmp_path, monkeypatch,
                                                                     contended):
    """Two notebooks that sleep past the limit, on a CPU that was contended meanwhile (made so by a
    threshold of 0: a machine's load cannot be made on purpose), are graded again side by side (up
    to --jobs, one per CPU), not one after another: each pass of the pool says how many it grades at
    once and which notebooks. On a CPU that was not contended enough (a threshold above any share),
    they are not graded again at all."""
    course, submitted, _ = graded
    monkeypatch.setattr(pipeline, "CONTENDED", 0.0 if contended else 1.01)
    class_ = tmp_path / "submitted"
    _with_sleepers(submitted, class_)
    real, passes = pool.grade_all, []

    def recorded(tasks, options, jobs, *args, **kwargs):
        tasks = list(tasks)
        passes.append((jobs, sorted(task.student for task in tasks)))
        yield from real(tasks, options, jobs, *args, **kwargs)

    monkeypatch.setattr(pool, "grade_all", recorded)
    results, _ = _grade(course, class_, tmp_path / "out", jobs=2, timeout=6)
    again = [(2, ["sleeper_1", "sleeper_2"])] if contended else []
    assert passes == [(2, ["perfect", "sleeper_1", "sleeper_2"]), *again]
    by = {r.student: r for r in results}
    assert by["perfect"].score == 3 and by["perfect"].problems == []
    for sleeper in ("sleeper_1", "sleeper_2"):
        assert by[sleeper].score == 2 and by[sleeper].timed_out  # its first answer kept its points
        assert (by[sleeper].problems[-1] == RETRIED) == contended


def test_discover_reports_what_it_does_not_grade(graded, tmp_path):
    course, submitted, _ = graded
    class_ = tmp_path / "submitted"
    shutil.copytree(submitted / "perfect", class_ / "perfect")
    (class_ / "perfect" / "99_unknown").mkdir()
    (class_ / "notes.txt").write_text("not a student")
    (class_ / "broken.zip").write_bytes(b"not a zip")
    intake = discover(class_, Course(course), tmp_path / "unpacked")
    assert [s.student for s in intake.submissions] == ["perfect"]
    assert intake.problems == ["broken.zip: not graded: broken.zip is not a readable zip file "
                               "(BadZipFile: File is not a zip file)",
                               "notes.txt: ignored (neither a student folder nor a .zip)",
                               "perfect/99_unknown: ignored (no assignment of that name)"]


def _grading_processes() -> list[psutil.Process]:
    """This process's grading processes (the local workers' `python -m autograder.pool`)."""
    found = []
    for child in psutil.Process().children():
        try:  # a child of an earlier test may be a zombie not yet reaped, or gone by now
            if "autograder.pool" in child.cmdline():
                found.append(child)
        except psutil.Error:
            continue
    return found


def _when_grading(act, within: float = 120) -> threading.Thread:
    """A thread that calls act(grading process) once one of ours has started a kernel (it is in the
    middle of a notebook)."""
    def watch() -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                busy = [p for p in _grading_processes() if p.children()]
            except psutil.Error:  # one ended between the two looks
                busy = []
            if busy:
                act(busy[0])
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def _fixture_task(course: Path, submitted: Path, student: str) -> Task:
    source = course / "solutions" / "01_fixture" / "01_fixture.ipynb"
    notebook = (submitted / student / "01_fixture" / "01_fixture.ipynb").read_bytes()
    return Task(student, "01_fixture", "01_fixture", source.read_bytes(), notebook)


def test_a_grading_process_that_dies_costs_only_its_notebook(graded, tmp_path):
    course, submitted, _ = graded
    task = _fixture_task(course, submitted, "perfect")
    grader = Grader(tmp_path / "grader.log")
    # as if it crashed
    killer = _when_grading(lambda process: os.killpg(process.pid, signal.SIGKILL))
    outcome = grader.grade(task.to_dict(), Options().__dict__)
    killer.join()
    assert isinstance(outcome, str) and "the grader's worker stopped (exit code -9)" in outcome
    assert not grader.running()
    # a fresh pool grades the same notebook normally afterwards
    finished = [outcome
                for _, outcome in grade_all([task], Options(), 1, tmp_path / "again", total=1)]
    assert [r.score for r in finished] == [3]


def test_a_grading_process_that_hangs_is_stopped_at_its_limit_and_costs_only_its_notebook(
        graded, tmp_path, monkeypatch):
    """The pool's backstop: a grading process that stops answering (here: stopped by a signal, as a
    grader stuck in C code would be) is killed after the notebook's limit plus GRACE_SECONDS; the
    others are graded."""
    course, submitted, _ = graded
    monkeypatch.setattr(pool, "GRACE_SECONDS", 1.0)
    tasks = [_fixture_task(course, submitted, student)
             for student in ("perfect", "late", "partial", "crash")]
    hung = []
    stopper = _when_grading(lambda process: (hung.append(process),
                                             process.send_signal(signal.SIGSTOP)))
    start = time.monotonic()
    finished = {task.student: outcome
                for task, outcome in grade_all(tasks, Options(timeout=10), 2, tmp_path / "logs",
                                               total=len(tasks))}
    stopper.join()
    reasons = [outcome for outcome in finished.values() if isinstance(outcome, str)]
    assert reasons == ["time limit: grading this notebook took longer than 10 s; its tests score 0"]
    scores = {student: outcome.score for student, outcome in finished.items()
              if not isinstance(outcome, str)}
    assert len(scores) == 3 and scores == {student: sum(EXPECTED[student]) for student in scores}
    assert not hung[0].is_running() and time.monotonic() - start >= 11



# --- a grader failure is never a grade ------------------------------------------------------------

def _killing(stop: threading.Event, killed: list, once: bool) -> threading.Thread:
    """A thread that kills our grading processes in the middle of a notebook (as a crash of the
    grader would), the first one only (`once`) or every one until `stop` is set."""
    def watch() -> None:
        while not stop.is_set():
            try:
                busy = [p for p in _grading_processes() if p.children()]
            except psutil.Error:
                busy = []
            for process in busy:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                killed.append(process.pid)
                if once:
                    return
            time.sleep(0.02)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def test_a_grader_failure_is_retried_and_the_retry_is_the_grade(graded, tmp_path):
    course, submitted, runs = graded
    class_ = tmp_path / "submitted"
    for student in ("perfect", "partial"):
        shutil.copytree(submitted / student, class_ / student)
    stop, killed = threading.Event(), []
    killer = _killing(stop, killed, once=True)
    try:
        results, _ = _grade(course, class_, tmp_path / "out", jobs=1)
    finally:
        stop.set()
        killer.join()
    assert len(killed) == 1
    reference = {r.student: r for r in runs[1][1]}
    # the retry's grade is the grade, and the student's record says nothing of the failure
    for result in results:
        assert (result.checks, result.problems) == (reference[result.student].checks,
                                                     reference[result.student].problems)
        assert result.grader_error is None
    retried = [r for r in results if r.retried]
    assert (len(retried) == 1
            and retried[0].retried[0].startswith("the grader's worker stopped (exit code -9)"))
    assert "graded them on a retry" in (tmp_path / "out" / "report.md").read_text()


def test_a_notebook_the_grader_keeps_failing_on_is_not_graded_and_the_run_fails(graded, tmp_path,
                                                                                capsys):
    """Every try fails (first try, a fresh template, a cold kernel): the notebook is NOT GRADED,
    never a 0. No autograded score in the gradebook (nbgrader's 'needs manual grade'), an empty
    score in grades.csv, listed first in the report and in the command's output, not kept (the next
    run grades it), exit code 3."""
    from autograder.cli import main

    course, submitted, _ = graded
    class_, out = tmp_path / "submitted", tmp_path / "out"
    shutil.copytree(submitted / "perfect", class_ / "perfect")
    stop, killed = threading.Event(), []
    killer = _killing(stop, killed, once=False)
    try:
        code = main(["--root", str(course), "grade", str(class_), "--out", str(out), "--jobs", "1"])
    finally:
        stop.set()
        killer.join()
    assert code == 3 and len(killed) >= 3
    printed = capsys.readouterr()
    assert printed.out.startswith("**NOT GRADED (grader error): 1 notebook(s).**")
    assert ("- perfect / 01_fixture / 01_fixture: the grader's worker stopped (exit code -9)"
            in printed.out)
    assert "1 notebook(s) NOT GRADED because the grader failed on them" in printed.err
    report = (out / "report.md").read_text()
    assert report.index("NOT GRADED (grader error)") < report.index("## Scores per assignment")
    with open(out / "grades.csv") as f:
        row = next(csv.DictReader(f))
    assert (row["student_id"], row["raw_score"], row["score"]) == ("perfect", "", "")
    # every export reads the gradebook so too
    for kind in ("nbgrader", "canvas", "moodle", "gradescope"):
        assert main(["--root", str(course), "export", str(out), "--format", kind, "--to",
                     str(tmp_path / f"{kind}.csv")]) == 0
    assert not list((tmp_path / "gradescope.csv").rglob("results.json"))  # no score to report
    with open(tmp_path / "nbgrader.csv") as f:
        assert [(r["student_id"], r["raw_score"], r["score"])
                for r in csv.DictReader(f)] == [("perfect", "", "")]
    with open(tmp_path / "canvas.csv") as f:
        # Points Possible, the student
        assert [r["01_fixture"] for r in csv.DictReader(f)] == [row["max_score"], ""]
    autograded = [r for r in rows(gradebook.default_db_url(out))
                  if r[5] in ("test_total_log_prob", "test_answer_objective")]
    assert autograded and {(r[6], r[8], r[9]) for r in autograded} == {(None, True, True)}
    assert not (out / "results" / "perfect").exists()
