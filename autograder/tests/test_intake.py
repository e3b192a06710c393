"""Reading submitted files safely: each fault is a clear IntakeError, and nothing outside is touched."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from autograder.intake import IntakeError, links_out, parse_notebook, read_file, submission_time, unpack_zip


def read_notebook(path):
    """A submitted file as the pipeline reads it: safely from disk, then parsed."""
    return parse_notebook(read_file(path), path.name)
from autograder.tests.catalogue.kit import FIXTURE, student_copy, write


@pytest.mark.parametrize("content, says", [
    (b"", "is empty (0 bytes)"),
    (b'{"cells": [', "is not valid JSON (line 1, column 12"),
    (b'{"cells": [], "nbformat": 4, "x": "\xff"}', "is not UTF-8 text (byte 0xff at position 35)"),
    (b"[1, 2]", "is JSON but not a notebook"),
    (json.dumps({"nbformat": 5, "cells": []}).encode(), "has nbformat 5; the tools read versions 3 and 4"),
])
def test_a_malformed_notebook_is_refused_with_the_reason(tmp_path, content, says):
    path = tmp_path / "lesson.ipynb"
    path.write_bytes(content)
    with pytest.raises(IntakeError, match=None) as refused:
        read_notebook(path)
    assert says in str(refused.value) and str(refused.value).startswith("lesson.ipynb ")


def test_a_good_notebook_reads_as_nbformat_4(tmp_path):
    path = write(nbformat.writes(student_copy(FIXTURE)), tmp_path / "lesson.ipynb")
    assert read_notebook(path).nbformat == 4


def test_a_symbolic_link_is_not_followed(tmp_path):
    secret = write(nbformat.writes(student_copy(FIXTURE)), tmp_path / "instructor" / "lesson.ipynb")
    link = tmp_path / "student" / "lesson.ipynb"
    link.parent.mkdir()
    link.symlink_to(secret)
    with pytest.raises(IntakeError, match="is a symbolic link; links in submissions are not followed"):
        read_notebook(link)
    assert links_out(tmp_path / "student") == ["lesson.ipynb is a symbolic link; links in submissions are not followed"]


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
])
def test_a_zip_leading_outside_its_folder_is_refused_whole(tmp_path, make_zip, members, link, says):
    archive = make_zip(tmp_path / "mallory.zip", {"fine.ipynb": b"{}", **members}, link)
    with pytest.raises(IntakeError) as refused:
        unpack_zip(archive, tmp_path / "out" / "mallory")
    assert says in str(refused.value)
    assert not (tmp_path / "out").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["mallory.zip"]


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    archive = tmp_path / "bob.zip"
    archive.write_bytes(b"not a zip")
    with pytest.raises(IntakeError, match="bob.zip is not a readable zip file"):
        unpack_zip(archive, tmp_path / "out")


def _folder(tmp_path: Path, stamp: str | None, changed: datetime) -> Path:
    folder = tmp_path / "ada" / "01"
    folder.mkdir(parents=True)
    notebook = folder / "01.ipynb"
    notebook.write_text("{}")
    os.utime(notebook, (changed.timestamp(), changed.timestamp()))
    if stamp is not None:
        (folder / "timestamp.txt").write_text(stamp)
    return folder


CHANGED = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 3, 5, tzinfo=timezone.utc)


def test_an_honest_timestamp_is_kept(tmp_path):
    folder = _folder(tmp_path, "2026-03-01 12:30:00.000000 UTC", CHANGED)  # nbgrader's format
    assert submission_time(folder, now=NOW) == (datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc), None)


@pytest.mark.parametrize("stamp, says", [
    ("2026-02-20 09:00:00+00:00", "which its files contradict"),  # backdated: before the notebook last changed
    ("2027-01-01 00:00:00+00:00", "which its files contradict"),  # in the future
    ("yesterday at noon", "timestamp.txt is unreadable"),
])
def test_a_forged_timestamp_gives_way_to_the_observed_time(tmp_path, stamp, says):
    when, problem = submission_time(_folder(tmp_path, stamp, CHANGED), now=NOW)
    assert when == CHANGED
    assert says in problem and "the observed time 2026-03-01 12:00:00 UTC is used" in problem


def test_without_a_timestamp_the_observed_time_is_used(tmp_path):
    assert submission_time(_folder(tmp_path, None, CHANGED), now=NOW) == (CHANGED, None)
    assert submission_time(_folder(tmp_path / "z", None, CHANGED), observed=NOW, now=NOW) == (NOW, None)


def test_timestamps_are_compared_in_utc(tmp_path):
    later = CHANGED + timedelta(hours=1)
    folder = _folder(tmp_path, later.astimezone(timezone(timedelta(hours=-5))).isoformat(), CHANGED)
    assert submission_time(folder, now=NOW) == (later, None)
