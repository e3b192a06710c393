"""Lateness is right for each way of collecting a class, with nbgrader's LateSubmissionPlugin set to
`penalty_method = "zero"` (a late submission scores 0) in the course's nbgrader_config.py and the
due date put into the gradebook with `nbgrader db assignment add --duedate` before grading.

Only the collecting side's evidence counts: collect's timestamp.txt (nbgrader's exchange), or an
LMS's file of submission times (`--times`) for a folder of zips or a flat LMS download; with
neither, the time is unknown, no penalty applies and the report says so. File times are never
evidence, so files copied with `cp`, unpacked with `unzip` or checked out with `git clone` (their
times are the copy's) make nobody late, and a late student's old file times do not save them. A
notebook that was not submitted is never listed as late."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from autograder.intake import COLLECTED, UNKNOWN
from autograder.release import release
from autograder.tests.catalogue.kit import student_copy
from autograder.tests.test_exchange import (
    WRONG_OBJECTIVE,
    collect,
    fetch,
    grade,
    grades,
    make_exchange,
    nbgrader,
    release_assignment,
    submit,
)

DUE = datetime(2026, 3, 1, 17, 0)  # naive UTC, as nbgrader keeps times
LATE_SECTION = "## Late submissions"


@pytest.fixture
def course(tiny_course: Path) -> Path:
    """The tiny course with nbgrader's late penalty set to 'zero' in its copy of
    nbgrader_config.py."""
    config = tiny_course / "nbgrader_config.py"
    text = config.read_text()
    assert 'c.LateSubmissionPlugin.penalty_method = "none"' in text
    config.write_text(text.replace('penalty_method = "none"', 'penalty_method = "zero"'))
    return tiny_course


def set_due_date(course: Path, out: Path, due: datetime) -> None:
    """The due date, in the gradebook the class is graded into, as nbgrader's documentation sets
    it."""
    out.mkdir(parents=True, exist_ok=True)
    nbgrader(course, "db", "assignment", "add", "01_fixture",
             f"--duedate={due:%Y-%m-%d %H:%M:%S.%f} UTC", f"--db=sqlite:///{out / 'gradebook.db'}")


def notebook(course: Path, wrong: bool = False) -> bytes:
    """A student's 01_fixture notebook: every answer right (3 autograded points), or one wrong
    (2)."""
    source = course / "solutions" / "01_fixture" / "01_fixture.ipynb"
    return nbformat.writes(
        student_copy(source, {"answer_objective": WRONG_OBJECTIVE} if wrong else None)).encode()


def times_file(path: Path, times: dict[str, datetime]) -> Path:
    """An LMS's export of submission times (columns student, assignment, time), with UTC offsets."""
    path.write_text("student,assignment,time\n"
                    + "".join(f"{s},01_fixture,{t:%Y-%m-%d %H:%M:%S}+00:00\n"
                              for s, t in times.items()))
    return path


def outcome(out: Path) -> dict[str, tuple[str, str, str]]:
    """{student: (raw score, late penalty, score)} from OUT/grades.csv."""
    return {s: (row["raw_score"], row["late_submission_penalty"], row["score"])
            for (s, _), row in grades(out).items()}


def late_in_report(out: Path) -> list[str]:
    """The students the report lists as late."""
    section = (out / "report.md").read_text().split(LATE_SECTION)[1].split("\n## ")[0]
    return sorted(line[2:].split(":")[0] for line in section.splitlines() if line.startswith("- "))


def late_in_feedback(out: Path) -> list[str]:
    """The students whose feedback page says they were late."""
    return sorted(page.parts[-3] for page in (out / "feedback").glob("*/01_fixture/01_fixture.html")
                  if "after the due date" in page.read_text())


def test_the_exchange_times_count_and_copies_of_the_collected_folder_change_nothing(course,
                                                                                    tmp_path):
    """alice submits before the due date, bob after it (his files were saved before it: file times
    do not save him). Copies of the collected folders by `cp -r` and `git clone` keep their
    timestamp.txt and get new file times, after the due date: alice's copies stay on time."""
    release(course)
    exchange = make_exchange(tmp_path)
    release_assignment(course, exchange, "01_fixture")
    homes = {student: fetch(tmp_path, exchange, "01_fixture", student)
             for student in ("alice", "bob")}
    for student, home in homes.items():
        (home / "01_fixture" / "01_fixture.ipynb").write_bytes(
            notebook(course, wrong=student == "bob"))
    submit(homes["alice"], exchange, "01_fixture", "alice")
    due = datetime.now(timezone.utc).replace(tzinfo=None)
    submit(homes["bob"], exchange, "01_fixture", "bob")
    collect(course, exchange, "01_fixture")
    submitted = course / "submitted"
    for student in ("alice", "bob"):
        subprocess.run(["cp", "-r", str(submitted / student), str(submitted / f"{student}_cp")],
                       check=True)
        repo = tmp_path / "git" / student
        shutil.copytree(submitted / student, repo)
        git = ["git", "-c", "user.name=instructor", "-c", "user.email=instructor@example.invalid"]
        for command in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "collected"]):
            subprocess.run([*git, *command], cwd=repo, check=True)
        subprocess.run(["git", "clone", "-q", str(repo), str(submitted / f"{student}_git")],
                       check=True)
    for copied in submitted.glob("*_*/01_fixture/01_fixture.ipynb"):
        assert (datetime.fromtimestamp(copied.stat().st_mtime, timezone.utc).replace(tzinfo=None)
                > due)

    out = tmp_path / "out"
    set_due_date(course, out, due)
    grade(course, submitted, out)
    on_time, late = ("3.0", "0.0", "3.0"), ("2.0", "2.0", "0.0")
    assert outcome(out) == {"alice": on_time, "alice_cp": on_time, "alice_git": on_time,
                            "bob": late, "bob_cp": late, "bob_git": late}
    assert late_in_report(out) == late_in_feedback(out) == ["bob", "bob_cp", "bob_git"]
    assert f"- 6 submission(s): {COLLECTED}" in (out / "report.md").read_text()


def test_an_lms_times_file_gives_the_times_of_zips_and_of_what_unzip_unpacked(course, tmp_path,
                                                                              make_zip):
    """ada's and dan's zips were handed in on time, bea's late (her zip's own timestamp.txt, the
    student's file, says otherwise); dan's was unpacked with `unzip`, which gives files the
    archive's times (after the due date here); cy is late in the LMS but handed in no notebook:
    never listed as late."""
    download = tmp_path / "download"
    download.mkdir()
    make_zip(download / "ada.zip", {"01_fixture/01_fixture.ipynb": notebook(course)})
    make_zip(download / "bea.zip", {"01_fixture/01_fixture.ipynb": notebook(course),
                                    "01_fixture/timestamp.txt": b"2026-02-01 12:00:00 UTC"})
    make_zip(download / "cy.zip", {"notes.txt": b"I ran out of time"})
    with zipfile.ZipFile(tmp_path / "dan.zip", "w") as archive:
        member = zipfile.ZipInfo("dan/01_fixture/01_fixture.ipynb", date_time=(2026, 3, 5, 9, 0, 0))
        archive.writestr(member, notebook(course, wrong=True))
    subprocess.run(["unzip", "-q", str(tmp_path / "dan.zip"), "-d", str(download)], check=True)
    assert datetime.fromtimestamp(
        (download / "dan" / "01_fixture" / "01_fixture.ipynb").stat().st_mtime) > DUE
    times = times_file(tmp_path / "times.csv", {"ada": DUE - timedelta(hours=2),
                                                "bea": DUE + timedelta(hours=5),
                                                "cy": DUE + timedelta(days=1),
                                                "dan": DUE - timedelta(minutes=1)})

    out = tmp_path / "out"
    set_due_date(course, out, DUE)
    grade(course, download, out, "--times", str(times))
    assert outcome(out) == {"ada": ("3.0", "0.0", "3.0"), "bea": ("3.0", "3.0", "0.0"),
                            "cy": ("0.0", "0.0", "0.0"), "dan": ("2.0", "0.0", "2.0")}
    assert late_in_report(out) == late_in_feedback(out) == ["bea"]
    report = (out / "report.md").read_text()
    assert "- bea: 01_fixture submitted 2026-03-01 22:00 UTC, 5.0 h after the due date" in report


def test_an_lms_times_file_gives_the_times_of_a_flat_lms_download(course, tmp_path):
    """Canvas's download names each file <login>[_late]_<id>_<submission>_<file>; eve was on time
    (her file's time says late), fay late (hers says early)."""
    download = tmp_path / "download"
    download.mkdir()
    (download / "eve_101_9001_01_fixture.ipynb").write_bytes(notebook(course))
    fay = download / "fay_late_102_9002_01_fixture.ipynb"
    fay.write_bytes(notebook(course))
    os.utime(fay, ((DUE - timedelta(days=3)).timestamp(),) * 2)
    times = times_file(tmp_path / "times.csv", {"eve": DUE - timedelta(seconds=30),
                                                "fay": DUE + timedelta(days=2)})

    out = tmp_path / "out"
    set_due_date(course, out, DUE)
    grade(course, download, out, "--times", str(times))
    assert outcome(out) == {"eve": ("3.0", "0.0", "3.0"), "fay": ("3.0", "3.0", "0.0")}
    assert late_in_report(out) == late_in_feedback(out) == ["fay"]
    assert "- 2 submission(s): the times file times.csv" in (out / "report.md").read_text()


def test_a_resubmission_is_graded_from_the_latest_upload_and_late_by_its_own_time(course, tmp_path,
                                                                                  make_zip):
    """ivy uploaded a wrong notebook on time and the right one (Canvas names it -1) after the due
    date; the times file (with its `file` column) gives each upload's time: her later upload counts,
    and it is late. jo handed in a folder and a zip, with no time for either: refused, with a reason
    in the report."""
    download = tmp_path / "download"
    download.mkdir()
    (download / "ivy_103_9003_01_fixture.ipynb").write_bytes(notebook(course, wrong=True))
    (download / "ivy_103_9003_01_fixture-1.ipynb").write_bytes(notebook(course))
    (download / "jo" / "01_fixture").mkdir(parents=True)
    (download / "jo" / "01_fixture" / "01_fixture.ipynb").write_bytes(notebook(course))
    make_zip(download / "jo.zip", {"01_fixture/01_fixture.ipynb": notebook(course, wrong=True)})
    times = tmp_path / "times.csv"
    times.write_text("student,time,file\n"
                     f"ivy,{DUE - timedelta(hours=1):%Y-%m-%d %H:%M:%S}+00:00,"
                     "ivy_103_9003_01_fixture.ipynb\n"
                     f"ivy,{DUE + timedelta(hours=1):%Y-%m-%d %H:%M:%S}+00:00,"
                     "ivy_103_9003_01_fixture-1.ipynb\n")

    out = tmp_path / "out"
    set_due_date(course, out, DUE)
    grade(course, download, out, "--times", str(times))
    assert outcome(out) == {"ivy": ("3.0", "3.0", "0.0"), "jo": ("0.0", "0.0", "0.0")}
    assert late_in_report(out) == late_in_feedback(out) == ["ivy"]
    report = (out / "report.md").read_text()
    assert ("- submissions: ivy_103_9003_01_fixture.ipynb: not graded: "
            "ivy_103_9003_01_fixture-1.ipynb replaces it (later by the times file "
            "times.csv)") in report
    assert ("- submissions: jo/01_fixture: not graded: handed in 2 times (jo/ at an unknown time; "
            "jo.zip") in report


def test_without_time_evidence_nobody_is_late_and_the_report_says_the_times_are_unknown(
        course, tmp_path):
    """Folders in nbgrader's layout without timestamp.txt (copied by hand with `cp -r`, so every
    file time is after the due date): the times are unknown, and no penalty applies."""
    handed_in = tmp_path / "handed-in"
    for student in ("gil", "hal"):
        (handed_in / student / "01_fixture").mkdir(parents=True)
        (handed_in / student / "01_fixture" / "01_fixture.ipynb").write_bytes(
            notebook(course, wrong=student == "hal"))
    copied = tmp_path / "copied"
    subprocess.run(["cp", "-r", str(handed_in), str(copied)], check=True)

    out = tmp_path / "out"
    set_due_date(course, out, DUE)
    grade(course, copied, out)
    rows = grades(out)
    assert outcome(out) == {"gil": ("3.0", "0.0", "3.0"), "hal": ("2.0", "0.0", "2.0")}
    assert [rows[s, "01_fixture"]["timestamp"] for s in ("gil", "hal")] == ["", ""]
    assert late_in_report(out) == late_in_feedback(out) == []
    assert f"- 2 submission(s): {UNKNOWN}" in (out / "report.md").read_text()
    assert ("The submission times of 2 handed-in assignment(s) are unknown"
            in (out / "report.md").read_text())
