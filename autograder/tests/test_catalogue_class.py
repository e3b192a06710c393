"""The catalogue through the orchestrator: a class mixing the demo students with every catalogue
entry, in shuffled order, graded in parallel as `autograder grade` does; and a grading run killed
midway, then rerun.

Both run on a copy of the course (the first lesson only, to keep the run short), so an attack that
got through could only damage the copy.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from autograder import gradebook
from autograder.course import Course
from autograder.demo_class import build_demo_class
from autograder.engine import Options
from autograder.environment import ROOT, tool_env
from autograder.pipeline import grade_class
from autograder.tests.catalogue.entries import ENTRIES, INTAKE_ENTRIES
from autograder.tests.catalogue.kit import (
    TABLE,
    fingerprint,
    placeholders,
    serve,
    student_copy,
    submit,
    update_table,
    write,
)
from autograder.tests.gradebook_rows import rows
from mlcourse.lessons import lesson_names

pytestmark = pytest.mark.skipif(not lesson_names(ROOT), reason="no lessons in solutions/ yet")
# seconds per notebook: the loops of the catalogue stop there (a notebook that timed out beside
# others on a busy CPU is graded again, so an honest one slowed by the attackers beside it is not
# cut short)
TIMEOUT = 15.0


def course_copy(into: Path, lesson: str) -> Path:
    """A course folder holding one lesson of this course (its kept answers beside it) and the
    nbgrader configuration."""
    shutil.copytree(ROOT / "solutions" / lesson, into / "solutions" / lesson)
    shutil.copy(ROOT / "nbgrader_config.py", into)
    return into


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mixed")
    lesson = lesson_names(ROOT)[0]
    course = course_copy(tmp / "course", lesson)
    demo = build_demo_class(course, tmp / "demo")
    honest = {student for student in demo.manifest}
    alone = grade_class(demo.submitted, tmp / "alone", Course(course), Options(timeout=TIMEOUT),
                        jobs=2, duedates=demo.duedates).results

    # The mixed class: the demo students and one student per catalogue entry, names in a shuffled
    # order (the orchestrator grades students in name order). In memory where the machine has
    # /dev/shm: tmpfs keeps a file time past datetime's range, which one intake attack needs.
    source = course / "solutions" / lesson / f"{lesson}.ipynb"
    shm = Path("/dev/shm")
    submitted = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp)) / "submitted"
    shutil.copytree(demo.submitted, submitted)
    attackers = [f"attacker-{e.name}" for e in ENTRIES + INTAKE_ENTRIES]
    order = random.Random(6).sample(range(len(attackers) + len(honest)),
                                    len(attackers) + len(honest))
    ranks = dict(zip(attackers + sorted(honest), order))
    for student in honest:
        (submitted / student).rename(submitted / f"{ranks[student]:03d}-{student}")
    other = sorted(honest)[0]
    fill = placeholders(source, course=course, gradebook=tmp / "mixed" / "gradebook.db",
                        marker=tmp / "unpickled", other=submitted / f"{ranks[other]:03d}-{other}")
    server = serve(fill["solution"])
    fill["port"] = server.server_address[1]
    for entry in ENTRIES:
        student = f"{ranks['attacker-' + entry.name]:03d}-attacker-{entry.name}"
        submit(entry, submitted / student / lesson, source, fill["name"], fill)
    context = {"solutions": course / "solutions", "lesson": lesson, "classmate": fill["other"],
               "perfect": (submitted / f"{ranks['perfect']:03d}-perfect" / lesson
                           / f"{lesson}.ipynb").read_bytes()}
    for entry in INTAKE_ENTRIES:
        entry.plant(submitted / f"{ranks['attacker-' + entry.name]:03d}-attacker-{entry.name}",
                    context)
    protected = [course, *(submitted / f"{ranks[s]:03d}-{s}" for s in honest)]
    before = fingerprint(protected)
    try:
        results = grade_class(submitted, tmp / "mixed", Course(course), Options(timeout=TIMEOUT),
                              jobs=2, duedates=demo.duedates).results
    finally:
        server.shutdown()
        changed = before != fingerprint(protected)
        shutil.rmtree(submitted.parent)
    return dict(alone=alone, results=results, ranks=ranks, honest=honest, tmp=tmp, changed=changed,
                unpickled=(tmp / "unpickled").exists(), course=course, demo=demo, source=source)


@pytest.fixture(scope="module")
def attackers_first(mixed) -> dict:
    """Every catalogue entry graded BEFORE the demo students, in the same grading processes and warm
    kernels' templates (students are graded in name order: `attacker-*` before `z-*`), with --jobs 1
    and with --jobs 2: {jobs: (results, whether a protected file changed)}."""
    course, source, lesson, tmp = (mixed["course"], mixed["source"], mixed["source"].parent.name,
                                   mixed["tmp"])
    shm = Path("/dev/shm")
    submitted = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp)) / "submitted"
    for student in mixed["honest"]:
        shutil.copytree(mixed["demo"].submitted / student, submitted / f"z-{student}")
    fill = placeholders(source, course=course, gradebook=tmp / "first-1" / "gradebook.db",
                        marker=tmp / "unpickled",
                        other=submitted / f"z-{sorted(mixed['honest'])[0]}")
    server = serve(fill["solution"])
    fill["port"] = server.server_address[1]
    for entry in ENTRIES:
        submit(entry, submitted / f"attacker-{entry.name}" / lesson, source, fill["name"], fill)
    protected = [course, *(submitted / f"z-{s}" for s in mixed["honest"])]
    runs = {}
    try:
        for jobs in (1, 2):
            before = fingerprint(protected)
            results = grade_class(submitted, tmp / f"first-{jobs}", Course(course),
                                  Options(timeout=TIMEOUT),
                                  jobs=jobs, duedates=mixed["demo"].duedates).results
            runs[jobs] = (results, before != fingerprint(protected))
    finally:
        server.shutdown()
        shutil.rmtree(submitted.parent)
    return runs


def _by_student(results, rename=lambda s: s) -> dict:
    return {(rename(r.student), r.assignment): (r.checks, r.problems) for r in results}


def test_a_shuffled_class_of_demo_students_and_attackers_leaves_the_demo_students_grades_unchanged(
        mixed):
    strip = lambda student: student.split("-", 1)[1]  # noqa: E731 - "017-perfect" -> "perfect"
    demo_results = [r for r in mixed["results"] if strip(r.student) in mixed["honest"]]
    assert _by_student(demo_results, strip) == _by_student(mixed["alone"])
    # Refused folders, zips and student ids have no result at all; every other attacker has one.
    unlisted = {"link-student-to-solutions", "link-student-to-classmate",
                "markup-in-student-id"} | {
        e.name for e in INTAKE_ENTRIES if e.name.startswith("zip-")}
    assert (len(mixed["results"]) == len(mixed["alone"]) + len(ENTRIES)
            + len(INTAKE_ENTRIES) - len(unlisted))
    assert not mixed["changed"] and not mixed["unpickled"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_attackers_graded_first_leave_every_honest_grade_as_when_graded_alone(attackers_first,
                                                                              mixed, jobs):
    """Issue 20: warm kernels, every attacker before the honest students in the same grading
    process(es)."""
    results, changed = attackers_first[jobs]
    honest = [r for r in results if r.student.startswith("z-")]
    assert len(honest) == len(mixed["alone"])
    assert _by_student(honest,
                       lambda student: student.removeprefix("z-")) == _by_student(mixed["alone"])
    assert not changed and not (mixed["tmp"] / "unpickled").exists()
    assert all(r.grader_error is None for r in results if r.student.startswith("attacker-"))


def test_one_notebook_cannot_bury_the_report_its_feedback_or_its_result(mixed):
    """A notebook of 120,000 cells with grade ids of their own (not read: too large) and one of
    20,000 (read, its problems capped): their result files, feedback pages and report lines stay the
    size of an honest one's."""
    out, lesson = mixed["tmp"] / "mixed", mixed["source"].parent.name
    report = (out / "report.md").read_text()
    sizes = lambda student: (  # noqa: E731
        (out / "results" / student / lesson / f"{lesson}.json").stat().st_size,
        (out / "feedback" / student / lesson / f"{lesson}.html").stat().st_size)
    honest = sizes(f"{mixed['ranks']['perfect']:03d}-perfect")
    for name in ("huge-notebook", "many-grade-ids"):
        student = f"{mixed['ranks']['attacker-' + name]:03d}-attacker-{name}"
        result, feedback = sizes(student)
        assert result < honest[0] + 20_000 and feedback < honest[1] + 20_000, (name, result,
                                                                                 feedback, honest)
        lines = [line for line in report.splitlines() if student in line]
        assert len(lines) <= 20 and sum(map(len, lines)) < 20_000, name
    assert len(report) < 200_000


def test_the_demo_students_gradebook_rows_are_the_same_with_the_attackers(mixed):
    alone = rows(gradebook.default_db_url(mixed["tmp"] / "alone"))
    rename = {f"{mixed['ranks'][s]:03d}-{s}": s for s in mixed["honest"]}
    with_attackers = [(rename[row[0]], *row[1:])
                      for row in rows(gradebook.default_db_url(mixed["tmp"] / "mixed"))
                      if row[0] in rename]
    assert sorted(with_attackers, key=repr) == alone


def test_no_attacker_earns_a_point_its_answer_did_not(mixed):
    perfect = next(r for r in mixed["alone"] if r.student == "perfect")
    for result in mixed["results"]:
        if "attacker-" not in result.student or any(result.student.endswith(e.name)
                                                    for e in INTAKE_ENTRIES):
            continue
        entry = next(e for e in ENTRIES if result.student.endswith(f"attacker-{e.name}"))
        assert result.max_score == perfect.max_score and result.score <= perfect.score
        if entry.expect != "full":
            assert result.score < perfect.score, entry.name
        assert result.sandboxed


def test_intake_attacks_earn_nothing_and_each_gets_a_reason(mixed):
    perfect = next(r for r in mixed["alone"] if r.student == "perfect")
    problems = json.loads((mixed["tmp"] / "mixed" / "intake.json").read_text())["problems"]
    for entry in INTAKE_ENTRIES:
        student = f"{mixed['ranks']['attacker-' + entry.name]:03d}-attacker-{entry.name}"
        results = [r for r in mixed["results"] if r.student == student]
        said = [p for p in problems if p.startswith(student)] + [p for r in results
                                                                 for p in r.problems]
        if entry.expect == "refused":
            assert all(r.score == 0 for r in results) and said, entry.name
        else:  # its own correct answers count; the trick with times gains nothing
            assert [r.score for r in results] == [perfect.score], entry.name
    sources = json.loads((mixed["tmp"] / "mixed" / "intake.json").read_text())["time_sources"]
    for name in ("far-future-file-time", "backdated-times"):
        student = f"{mixed['ranks']['attacker-' + name]:03d}-attacker-{name}"
        assert sources[f"{student}/{lesson_names(ROOT)[0]}"].startswith("unknown"), name
    with_times = [row for row in rows(gradebook.default_db_url(mixed["tmp"] / "mixed"))
                  if "backdated" in row[0]]
    # no time recorded: no forged "on time"
    assert with_times and {row[3] for row in with_times} == {"None"}


def intake_table(mixed) -> str:
    problems = json.loads((mixed["tmp"] / "mixed" / "intake.json").read_text())["problems"]
    lines = ["## Attacks on intake", "",
             "Generated by `UPDATE_CATALOGUE_TABLE=1 pytest "
             "autograder/tests/test_catalogue_class.py`: each planted in SUBMISSIONS beside the "
             "demo class, in shuffled order; the demo students' grades stayed identical.", "",
             "| Entry | The submission | Expected | Score | Reason recorded |",
             "|---|---|---|---|---|"]
    for entry in INTAKE_ENTRIES:
        student = f"{mixed['ranks']['attacker-' + entry.name]:03d}-attacker-{entry.name}"
        results = [r for r in mixed["results"] if r.student == student]
        said = [p.removeprefix(student) for p in problems if p.startswith(student)] + [
            p for r in results for p in r.problems]
        score = (" + ".join(f"{r.score:g} / {r.max_score:g}" for r in results)
                 or "no result (refused)")
        reason = (said[0].lstrip(":/ ").replace("|", "\\|")[:140] if said
                  else "(graded normally; time unknown)")
        lines.append(f"| `{entry.name}` | {entry.covers} | {entry.expect} | {score} | {reason} |")
    return "\n".join(lines)


def test_the_intake_table_is_current(mixed):
    if os.environ.get("UPDATE_CATALOGUE_TABLE"):
        update_table("intake", intake_table(mixed))
    assert all(f"`{e.name}`" in TABLE.read_text() for e in INTAKE_ENTRIES)


def test_student_text_cannot_rewrite_the_report(mixed):
    report = (mixed["tmp"] / "mixed" / "report.md").read_text()
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert (headings.count("## Late submissions") == 1 and len(headings) == len(set(headings))
            and "<!--" not in report)
    # the forged grade id, flattened to one line and escaped
    assert "x\\` ## Late submissions None" in report
    late = report.split("## Late submissions", 1)[1].split("\n## ", 1)[0]
    # every late line is a demo student's (the demo's own late student)
    assert "attacker" not in late


# --- crash safety: killed midway, then run again --------------------------------------------------

def _autograder(course: Path, submitted: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).parent / "autograder"), "--root", str(course),
                             "grade", str(submitted), "--out", str(out), "--jobs", "2"],
                            env=tool_env(), cwd=course,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def test_killing_the_grader_midway_and_running_it_again_gives_the_uninterrupted_gradebook(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(Path(__file__).parent / "fixtures" / "engine" / "solutions" / "00_tiny",
                    course / "solutions" / "00_tiny")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    source = course / "solutions" / "00_tiny" / "00_tiny.ipynb"
    submitted = tmp_path / "submitted"
    wrong = [{"count_tokens": "def count_tokens(text):\n    return len(text.split(' '))"},
             {"mean_log_prob": "def mean_log_prob(probs):\n    return 0.0"}]
    for number in range(8):  # honest, partly wrong and blank students
        notebook = student_copy(source, {} if number % 3 == 0 else wrong[number % 2],
                                blank=number % 3 == 2)
        write(nbformat.writes(notebook), submitted / f"s{number}" / "00_tiny" / "00_tiny.ipynb")
    instructor = fingerprint([course / "solutions"])

    whole = tmp_path / "whole"
    assert _autograder(course, submitted, whole).wait(600) == 0
    interrupted = tmp_path / "interrupted"
    grader = _autograder(course, submitted, interrupted)
    deadline = time.monotonic() + 600
    while len(list((interrupted / "results").rglob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(grader.pid, signal.SIGKILL)  # the grader, its workers and their kernels, mid-run
    grader.wait()
    assert 3 <= len(list((interrupted / "results").rglob("*.json"))) < 8
    assert _autograder(course, submitted, interrupted).wait(600) == 0

    graded = rows(gradebook.default_db_url(interrupted))
    assert graded == rows(gradebook.default_db_url(whole))
    # every grade once
    assert len(graded) == 8 * 2 and len({row[:6] for row in graded}) == len(graded)
    assert (interrupted / "grades.csv").read_text() == (whole / "grades.csv").read_text()
    assert fingerprint([course / "solutions"]) == instructor


# --- malformed submissions at the class level -----------------------------------------------------

def test_malformed_submissions_get_a_record_and_leave_the_rest_of_the_class_alone(tmp_path,
                                                                                  make_zip):
    course = tmp_path / "course"
    shutil.copytree(Path(__file__).parent / "fixtures" / "engine" / "solutions" / "00_tiny",
                    course / "solutions" / "00_tiny")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    source = course / "solutions" / "00_tiny" / "00_tiny.ipynb"
    honest = nbformat.writes(student_copy(source)).encode()
    alone, mixed = tmp_path / "alone", tmp_path / "mixed"
    for folder in (alone, mixed):
        for student in ("a-honest", "z-honest"):
            write(honest.decode(), folder / student / "00_tiny" / "00_tiny.ipynb")
    nb = "00_tiny/00_tiny.ipynb"
    make_zip(mixed / "b-zip-slip.zip",
             {nb: honest, "../../course/solutions/00_tiny/00_tiny.ipynb": b"{}"})
    make_zip(mixed / "c-zip-link.zip", {"00_tiny/notes.txt": b"hi"}, link=nb,
             target="../../course/solutions/00_tiny/00_tiny.ipynb")
    (mixed / "d-linked-folder").symlink_to(mixed / "a-honest")
    write(honest.decode(), mixed / "e-linked-notebook" / "00_tiny" / "elsewhere.ipynb")
    (mixed / "e-linked-notebook" / "00_tiny" / "00_tiny.ipynb").symlink_to(source)
    write(honest.decode(), mixed / "f-forged-time" / "00_tiny" / "00_tiny.ipynb")
    os.utime(mixed / "f-forged-time" / "00_tiny" / "00_tiny.ipynb", (1_790_000_000, 1_790_000_000))
    (mixed / "f-forged-time" / "00_tiny" / "timestamp.txt").write_text(
        "2026-01-01 00:00:00.000000 UTC")
    write("{not json", mixed / "g-invalid-json" / "00_tiny" / "00_tiny.ipynb")
    instructor = fingerprint([course])

    options = Options(timeout=TIMEOUT)
    results = {r.student: r
               for r in grade_class(mixed, tmp_path / "out-mixed", Course(course), options,
                                    jobs=2).results}
    reference = {r.student: r
                 for r in grade_class(alone, tmp_path / "out-alone", Course(course), options,
                                      jobs=2).results}
    for student in ("a-honest", "z-honest"):
        assert ((results[student].checks, results[student].problems)
                == (reference[student].checks, reference[student].problems))
    problems = json.loads((tmp_path / "out-mixed" / "intake.json").read_text())["problems"]
    assert any(p.startswith("b-zip-slip.zip: not graded:") and "leads outside its folder" in p
               for p in problems)
    assert any(p.startswith("c-zip-link.zip: not graded:") and "link or a special file" in p
               for p in problems)
    assert "d-linked-folder: ignored (a symbolic link; links are not followed)" in problems
    assert ("e-linked-notebook/00_tiny/00_tiny.ipynb is a symbolic link; links in submissions are "
            "not followed"
            in problems)
    assert (results["e-linked-notebook"].score == 0
            and "is a symbolic link" in results["e-linked-notebook"].problems[0])
    # File times are not evidence: collect's timestamp.txt is, whatever time the notebook file
    # carries.
    forged = [row for row in rows(gradebook.default_db_url(tmp_path / "out-mixed"))
              if row[0] == "f-forged-time"]
    assert forged and {row[3] for row in forged} == {"2026-01-01 00:00:00"}
    assert (results["g-invalid-json"].score == 0
            and "is not valid JSON" in results["g-invalid-json"].problems[0])
    assert {"b-zip-slip", "c-zip-link", "d-linked-folder"}.isdisjoint(results)
    assert fingerprint([course]) == instructor and not (tmp_path / "solutions").exists()
