"""Reading submitted files safely: each fault is a clear problem, nothing outside is read or touched, no
link is followed anywhere in a path, one student's files never stop the class, and file times are
never evidence of when a submission was made."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from autograder.course import Course
from autograder.intake import (
    COLLECTED,
    UNKNOWN,
    IntakeError,
    discover,
    links_below,
    parse_notebook,
    read_file,
    read_times_file,
    unpack_zip,
)
from autograder.tests.catalogue.kit import FIXTURE, student_copy, write

NOTEBOOK = nbformat.writes(student_copy(FIXTURE))


def read_notebook(path: Path):
    """A submitted file as the pipeline reads it: safely from disk, then parsed."""
    return parse_notebook(read_file(path.parent, (path.name,)), path.name)


@pytest.fixture
def course(tmp_path: Path) -> Course:
    """A course of one assignment, 00_fixture, with one notebook."""
    folder = tmp_path / "course" / "solutions" / "00_fixture"
    folder.mkdir(parents=True)
    shutil.copy(FIXTURE, folder)
    return Course(tmp_path / "course")


def submitted(tmp_path: Path, students: dict[str, str | None]) -> Path:
    """SUBMISSIONS with each student's 00_fixture notebook (and timestamp.txt when given)."""
    root = tmp_path / "submitted"
    for student, stamp in students.items():
        write(NOTEBOOK, root / student / "00_fixture" / "00_fixture.ipynb")
        if stamp:
            (root / student / "00_fixture" / "timestamp.txt").write_text(stamp)
    return root


@pytest.mark.parametrize("content, says", [
    (b"", "is empty (0 bytes)"),
    (b'{"cells": [', "is not valid JSON (line 1, column 12"),
    (b'{"cells": [], "nbformat": 4, "x": "\xff"}', "is not UTF-8 text (byte 0xff at position 35)"),
    (b"[1, 2]", "is JSON but not a notebook"),
    (json.dumps({"nbformat": 5, "cells": []}).encode(), "has nbformat 5; the tools read versions 3 and 4"),
    (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON"),
])
def test_a_malformed_notebook_is_refused_with_the_reason(tmp_path, content, says):
    path = tmp_path / "lesson.ipynb"
    path.write_bytes(content)
    with pytest.raises(IntakeError) as refused:
        read_notebook(path)
    assert says in str(refused.value) and str(refused.value).startswith("lesson.ipynb ")


def test_a_good_notebook_reads_as_nbformat_4(tmp_path):
    assert read_notebook(write(NOTEBOOK, tmp_path / "lesson.ipynb")).nbformat == 4


@pytest.mark.parametrize("linked", ["student", "assignment", "notebook"])
def test_no_link_is_followed_anywhere_in_a_submissions_path(tmp_path, course, linked):
    secret = course.root / "solutions" / "00_fixture"
    root = submitted(tmp_path, {"honest": None})
    place = {"student": root / "mallory", "assignment": root / "mallory" / "00_fixture",
             "notebook": root / "mallory" / "00_fixture" / "00_fixture.ipynb"}[linked]
    place.parent.mkdir(parents=True, exist_ok=True)
    place.symlink_to(secret if linked != "notebook" else secret / "00_fixture.ipynb")
    found = discover(root, course, tmp_path / "unpacked")
    mallory = [s for s in found.submissions if s.student == "mallory"]
    if linked == "student":
        assert not mallory and found.problems == ["mallory: ignored (a symbolic link; links are not followed)"]
    else:
        with pytest.raises(IntakeError, match="is a symbolic link; links in submissions are not followed"):
            mallory[0].read()
    assert [s.read() for s in found.submissions if s.student == "honest"] == [NOTEBOOK.encode()]


def test_a_link_met_while_opening_a_path_is_refused_even_if_it_appears_later(tmp_path):
    (tmp_path / "a" / "real").mkdir(parents=True)
    (tmp_path / "a" / "real" / "x.ipynb").write_text("{}")
    (tmp_path / "a" / "linked").symlink_to(tmp_path / "a" / "real")
    with pytest.raises(IntakeError, match="a/linked is a symbolic link"):
        read_file(tmp_path, ("a", "linked", "x.ipynb"))
    assert links_below(tmp_path, ("a",)) == ["linked is a symbolic link; links in submissions are not followed"]


def test_a_zip_unpacks_its_regular_files_below_its_folder(tmp_path, make_zip):
    archive = make_zip(tmp_path / "ada.zip", {"ada/01/01.ipynb": b"{}", "ada/01/notes/a.txt": b"hi"})
    folder = unpack_zip(archive, tmp_path / "out" / "ada")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "ada/01/01.ipynb", "ada/01/notes/a.txt"]


@pytest.mark.parametrize("members, link, says", [
    ({"../escape.txt": b"x"}, None, "holds the path '../escape.txt', which leads outside its folder"),
    ({"/etc/cron.d/evil": b"x"}, None, "holds the path '/etc/cron.d/evil', which leads outside its folder"),
    ({"a/../../b": b"x"}, None, "leads outside its folder"),
    ({"ok.txt": b"x"}, "link", "holds 'link', which is a link or a special file"),
    ({"A": b"x", "A/x": b"y"}, None, "holds 'A' both as a file and as a folder"),
    ({"n" * 300: b"x"}, None, "holds a name longer than 255 bytes"),
])
def test_a_zip_that_cannot_be_unpacked_as_it_is_is_refused_whole(tmp_path, make_zip, members, link, says):
    archive = make_zip(tmp_path / "mallory.zip", {"fine.ipynb": b"{}", **members}, link)
    with pytest.raises(IntakeError) as refused:
        unpack_zip(archive, tmp_path / "out" / "mallory")
    assert says in str(refused.value)
    assert not (tmp_path / "out").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["mallory.zip"]


def test_a_zip_with_corrupt_data_or_not_a_zip_is_refused(tmp_path):
    archive = tmp_path / "bob.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("01/01.ipynb", NOTEBOOK * 20)
    data = bytearray(archive.read_bytes())
    data[60:90] = bytes(30)  # inside the deflate stream of the only member
    archive.write_bytes(bytes(data))
    with pytest.raises(IntakeError, match="bob.zip is not a readable zip file"):
        unpack_zip(archive, tmp_path / "out")
    archive.write_bytes(b"not a zip")
    with pytest.raises(IntakeError, match="bob.zip is not a readable zip file"):
        unpack_zip(archive, tmp_path / "out2")


def test_one_students_broken_files_become_their_problem_and_the_class_goes_on(tmp_path, course, make_zip):
    root = submitted(tmp_path, {"honest": None})
    make_zip(root / "clash.zip", {"00_fixture/00_fixture.ipynb": b"{}", "00_fixture/00_fixture.ipynb/x": b"y"})
    (root / "odd" / "00_fixture").mkdir(parents=True)
    (root / "odd" / "00_fixture" / "00_fixture.ipynb").mkdir()  # a folder where the notebook should be
    os.mkfifo(root / "odd" / "00_fixture" / "notes")
    found = discover(root, course, tmp_path / "unpacked")
    assert any(p.startswith("clash.zip: not graded:") and "both as a file and as a folder" in p for p in found.problems)
    odd = next(s for s in found.submissions if s.student == "odd")
    with pytest.raises(IntakeError, match="00_fixture.ipynb"):
        odd.read()
    assert [s.read() for s in found.submissions if s.student == "honest"] == [NOTEBOOK.encode()]


def test_file_times_are_never_evidence_and_collect_s_timestamp_is(tmp_path, course):
    root = submitted(tmp_path, {"stamped": "2026-03-01 12:30:00.000000 UTC", "plain": None,
                                "future": "2999-01-01 00:00:00 UTC", "garbled": "yesterday at noon"})
    for path in root.rglob("*.ipynb"):
        os.utime(path, (0, 0))  # 1970: a file time, which must not matter
    found = discover(root, course, tmp_path / "unpacked")
    times = {student: found.times[student, "00_fixture"] for student in ("stamped", "plain", "future", "garbled")}
    assert (times["stamped"].when, times["stamped"].source) == (datetime(2026, 3, 1, 12, 30), COLLECTED)
    assert all((times[s].when, times[s].source) == (None, UNKNOWN) for s in ("plain", "future", "garbled"))
    assert any("future/00_fixture: timestamp.txt says 2999-01-01" in p for p in found.problems)
    assert any("garbled/00_fixture: timestamp.txt is unreadable" in p for p in found.problems)


def test_an_lms_times_file_gives_the_times_of_zips_and_folders(tmp_path, course, make_zip):
    root = submitted(tmp_path, {"ada": "2026-03-01 12:30:00 UTC"})
    make_zip(root / "bob.zip", {"00_fixture/00_fixture.ipynb": NOTEBOOK.encode(),
                                "00_fixture/timestamp.txt": b"2020-01-01 00:00:00 UTC"})  # the student's own file
    times_file = tmp_path / "times.csv"
    times_file.write_text("student,assignment,time\nada,00_fixture,2026-03-02 08:00:00+01:00\n")
    found = discover(root, course, tmp_path / "unpacked", times_file)
    assert found.times["ada", "00_fixture"].when == datetime(2026, 3, 2, 7, 0)  # the LMS's, in UTC
    assert found.times["ada", "00_fixture"].source == "the times file times.csv"
    assert found.times["bob", "00_fixture"].when is None  # a timestamp.txt inside a zip is the student's
    times_file.write_text("student,time\nbob,someday\n")
    with pytest.raises(ValueError, match="times.csv, line 2: 'someday' is not a time"):
        read_times_file(times_file)


def test_a_flat_lms_download_is_matched_by_its_file_names(tmp_path, course):
    root = tmp_path / "download"
    root.mkdir()
    (root / "smithjane_12345_678901_00_fixture.ipynb").write_text("{}")  # replaced by her later copy below
    (root / "smithjane_late_12345_678902_00_fixture-1.ipynb").write_text(NOTEBOOK)
    (root / "doejohn_222_333_00_fixture.ipynb").write_text(NOTEBOOK)
    (root / "notes.ipynb").write_text("{}")
    found = discover(root, course, tmp_path / "unpacked")
    assert [(s.student, s.read()) for s in found.submissions] == [("doejohn", NOTEBOOK.encode()),
                                                                   ("smithjane", NOTEBOOK.encode())]
    assert found.problems == ["notes.ipynb: ignored (a notebook at the top of SUBMISSIONS must be named as an LMS "
                              "downloads it, <login>_<id>_<submission>_<notebook>.ipynb, or be moved to "
                              "<student>/<assignment>/<notebook>.ipynb)"]
    assert found.times["smithjane", "00_fixture"].source == UNKNOWN


@pytest.mark.parametrize("make, says", [(lambda root: None, "no submissions folder"),
                                        (lambda root: root.mkdir(), "holds no submissions")])
def test_a_missing_or_empty_folder_is_one_clear_error(tmp_path, course, make, says):
    make(tmp_path / "class")
    with pytest.raises((FileNotFoundError, ValueError), match=says):
        discover(tmp_path / "class", course, tmp_path / "unpacked")
