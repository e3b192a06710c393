"""Reading submitted files safely: each fault is a clear problem, nothing outside is read or
touched, no link is followed anywhere in a path, one student's files never stop the class, file
times are never evidence of when a submission was made, a student id is of a safe alphabet or
refused, and one assignment handed in twice gives one submission (the later by evidence, or none),
always with a reason, whatever order the files were written in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings

from autograder.course import Course
from autograder.intake import (
    COLLECTED,
    SHOWN,
    UNKNOWN,
    IntakeError,
    discover,
    links_below,
    parse_notebook,
    read_file,
    read_times_file,
    shown,
    unpack_zip,
    valid_id,
)
from autograder.tests.catalogue.kit import FIXTURE, student_copy, write
from autograder.tests.strategies import SLOW, hand_ins, ids, shuffles

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
    (json.dumps({"nbformat": 5, "cells": []}).encode(),
     "has nbformat 5; the tools read versions 3 and 4"),
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
        assert not mallory and found.problems == [
            "mallory: ignored (a symbolic link; links are not followed)"]
    else:
        with pytest.raises(IntakeError,
                           match="is a symbolic link; links in submissions are not followed"):
            mallory[0].read()
    assert [s.read() for s in found.submissions if s.student == "honest"] == [NOTEBOOK.encode()]


def test_a_link_met_while_opening_a_path_is_refused_even_if_it_appears_later(tmp_path):
    (tmp_path / "a" / "real").mkdir(parents=True)
    (tmp_path / "a" / "real" / "x.ipynb").write_text("{}")
    (tmp_path / "a" / "linked").symlink_to(tmp_path / "a" / "real")
    with pytest.raises(IntakeError, match="a/linked is a symbolic link"):
        read_file(tmp_path, ("a", "linked", "x.ipynb"))
    assert links_below(tmp_path, ("a",)) == [
        "linked is a symbolic link; links in submissions are not followed"]


def test_a_zip_unpacks_its_regular_files_below_its_folder(tmp_path, make_zip):
    archive = make_zip(tmp_path / "ada.zip",
                       {"ada/01/01.ipynb": b"{}", "ada/01/notes/a.txt": b"hi"})
    folder = unpack_zip(archive, tmp_path / "out" / "ada")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "ada/01/01.ipynb", "ada/01/notes/a.txt"]


@pytest.mark.parametrize("members, link, says", [
    ({"../escape.txt": b"x"}, None,
     "holds the path '../escape.txt', which leads outside its folder"),
    ({"/etc/cron.d/evil": b"x"}, None,
     "holds the path '/etc/cron.d/evil', which leads outside its folder"),
    ({"a/../../b": b"x"}, None, "leads outside its folder"),
    ({"ok.txt": b"x"}, "link", "holds 'link', which is a link or a special file"),
    ({"A": b"x", "A/x": b"y"}, None, "holds 'A' both as a file and as a folder"),
    ({"n" * 300: b"x"}, None, "holds a name longer than 255 bytes"),
])
def test_a_zip_that_cannot_be_unpacked_as_it_is_is_refused_whole(tmp_path, make_zip, members, link,
                                                                 says):
    archive = make_zip(tmp_path / "mallory.zip", {"fine.ipynb": b"{}", **members}, link)
    with pytest.raises(IntakeError) as refused:
        unpack_zip(archive, tmp_path / "out" / "mallory")
    assert says in str(refused.value)
    assert (not (tmp_path / "out").exists()
            and sorted(p.name for p in tmp_path.iterdir()) == ["mallory.zip"])


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


def test_one_students_broken_files_become_their_problem_and_the_class_goes_on(tmp_path, course,
                                                                              make_zip):
    root = submitted(tmp_path, {"honest": None})
    make_zip(root / "clash.zip", {"00_fixture/00_fixture.ipynb": b"{}",
                                  "00_fixture/00_fixture.ipynb/x": b"y"})
    (root / "odd" / "00_fixture").mkdir(parents=True)
    # A folder where the notebook should be.
    (root / "odd" / "00_fixture" / "00_fixture.ipynb").mkdir()
    os.mkfifo(root / "odd" / "00_fixture" / "notes")
    found = discover(root, course, tmp_path / "unpacked")
    assert any(p.startswith("clash.zip: not graded:") and "both as a file and as a folder" in p
               for p in found.problems)
    odd = next(s for s in found.submissions if s.student == "odd")
    with pytest.raises(IntakeError, match="00_fixture.ipynb"):
        odd.read()
    assert [s.read() for s in found.submissions if s.student == "honest"] == [NOTEBOOK.encode()]


def test_file_times_are_never_evidence_and_collect_s_timestamp_is(tmp_path, course):
    root = submitted(tmp_path, {"stamped": "2026-03-01 12:30:00.000000 UTC", "plain": None,
                                "future": "2999-01-01 00:00:00 UTC",
                                "garbled": "yesterday at noon"})
    for path in root.rglob("*.ipynb"):
        os.utime(path, (0, 0))  # 1970: a file time, which must not matter
    found = discover(root, course, tmp_path / "unpacked")
    times = {student: found.times[student, "00_fixture"]
             for student in ("stamped", "plain", "future", "garbled")}
    assert ((times["stamped"].when, times["stamped"].source)
            == (datetime(2026, 3, 1, 12, 30), COLLECTED))
    assert all((times[s].when, times[s].source) == (None, UNKNOWN)
               for s in ("plain", "future", "garbled"))
    assert any("future/00_fixture: timestamp.txt says 2999-01-01" in p for p in found.problems)
    assert any("garbled/00_fixture: timestamp.txt is unreadable" in p for p in found.problems)


def test_an_lms_times_file_gives_the_times_of_zips_and_folders(tmp_path, course, make_zip):
    root = submitted(tmp_path, {"ada": "2026-03-01 12:30:00 UTC"})
    make_zip(root / "bob.zip", {"00_fixture/00_fixture.ipynb": NOTEBOOK.encode(),
                                # the student's own file
                                "00_fixture/timestamp.txt": b"2020-01-01 00:00:00 UTC"})
    times_file = tmp_path / "times.csv"
    times_file.write_text("student,assignment,time\nada,00_fixture,2026-03-02 08:00:00+01:00\n")
    found = discover(root, course, tmp_path / "unpacked", times_file)
    assert found.times["ada", "00_fixture"].when == datetime(2026, 3, 2, 7, 0)  # the LMS's, in UTC
    assert found.times["ada", "00_fixture"].source == "the times file times.csv"
    # A timestamp.txt inside a zip is the student's.
    assert found.times["bob", "00_fixture"].when is None
    times_file.write_text("student,time\nbob,someday\n")
    with pytest.raises(ValueError, match="times.csv, line 2: 'someday' is not a time"):
        read_times_file(times_file)


def test_a_flat_lms_download_is_matched_by_its_file_names(tmp_path, course):
    root = tmp_path / "download"
    root.mkdir()
    # Replaced by her later copy below.
    (root / "smithjane_12345_678901_00_fixture.ipynb").write_text("{}")
    (root / "smithjane_late_12345_678902_00_fixture-1.ipynb").write_text(NOTEBOOK)
    (root / "doejohn_222_333_00_fixture.ipynb").write_text(NOTEBOOK)
    (root / "notes.ipynb").write_text("{}")
    found = discover(root, course, tmp_path / "unpacked")
    assert [(s.student, s.read()) for s in found.submissions] == [("doejohn", NOTEBOOK.encode()),
                                                                   ("smithjane", NOTEBOOK.encode())]
    assert found.problems == ["notes.ipynb: ignored (a notebook at the top of SUBMISSIONS must be "
                              "named as an LMS downloads it, "
                              "<login>_<id>_<submission>_<notebook>.ipynb, or be moved to "
                              "<student>/<assignment>/<notebook>.ipynb)",
                              "smithjane_12345_678901_00_fixture.ipynb: not graded: "
                              "smithjane_late_12345_678902_00_fixture-1.ipynb replaces it (a "
                              "later upload, by the LMS's numbering)"]
    assert found.times["smithjane", "00_fixture"].source == UNKNOWN


@pytest.mark.parametrize("make, says", [(lambda root: None, "no submissions folder"),
                                        (lambda root: root.mkdir(), "holds no submissions")])
def test_a_missing_or_empty_folder_is_one_clear_error(tmp_path, course, make, says):
    make(tmp_path / "class")
    with pytest.raises((FileNotFoundError, ValueError), match=says):
        discover(tmp_path / "class", course, tmp_path / "unpacked")


# --- student ids ---------------------------------------------------------------------------------

MARKUP = '"><img src=x onerror=alert(document.domain)>'
BAD_IDS = [MARKUP, "a'b", "a=b", "a&b", "a`b", "a b", "tab\there", "new\nline", "bell\x07", "-rf",
           "a\u202eb", "e\u0301", "a\\b", "a%2Fb", "x" * 129]


@pytest.mark.parametrize("layout", ["folder", "zip", "lms"])
@pytest.mark.parametrize("student", BAD_IDS, ids=ascii)
def test_a_student_id_outside_the_safe_alphabet_is_refused_and_named_escaped(tmp_path, course,
                                                                             make_zip, layout,
                                                                             student):
    root = submitted(tmp_path, {"honest": None})
    entry = {"folder": student, "zip": f"{student}.zip",
             "lms": f"{student}_7_900_00_fixture.ipynb"}[layout]
    if layout == "folder":
        write(NOTEBOOK, root / student / "00_fixture" / "00_fixture.ipynb")
    elif layout == "zip":
        make_zip(root / entry, {"00_fixture/00_fixture.ipynb": NOTEBOOK.encode()})
    else:
        (root / entry).write_text(NOTEBOOK)
    found = discover(root, course, tmp_path / "unpacked")
    assert found.students == ["honest"]  # nothing is graded for it
    [line] = found.problems
    assert line.startswith(f"{shown(entry)}: ignored (") and "not a student id" in line
    named = line.split(": ignored (")[0]
    # No markup, quote or control character.
    assert all(SHOWN.fullmatch(c) or c == "\\" for c in named), named
    assert not set(line) & set("<>\"'&=`\t\n\x07\u202e\u0301")


def test_markup_in_a_name_is_shown_as_escapes():
    assert shown(MARKUP) == "\\x22\\x3e\\x3cimg src\\x3dx onerror\\x3dalert(document.domain)\\x3e"
    assert shown("a\u202eb\U0001f600/") == "a\\u202eb\\U0001f600\\x2f"


@given(ids)
def test_an_accepted_id_is_letters_digits_and_five_marks_and_a_shown_name_has_no_markup(text):
    if valid_id(text):
        assert 1 <= len(text) <= 128 and not text.startswith((".", "-"))
        assert all(unicodedata.category(c)[0] in "LN" or c in "_.@+-" for c in text), ascii(text)
    assert all(SHOWN.fullmatch(c) or c == "\\" for c in shown(text))
    assert all(unicodedata.category(c)[0] in "LN" or c in "_.@+-,() \\" for c in shown(text))


@pytest.mark.parametrize("student", ["jane.doe@uni.example", "071-attacker-zip-file-and-folder",
                                     "müller", "a+b@x.example", "s_1", "_x", "0"])
def test_ids_as_nbgrader_and_lms_logins_have_them_are_accepted(tmp_path, course, student):
    found = discover(submitted(tmp_path, {student: None}), course, tmp_path / "unpacked")
    assert found.students == [student] and found.problems == []


# --- one assignment handed in twice --------------------------------------------------------------

def copy_of(label: str) -> str:
    """The fixture notebook marked as one copy of a student's work, to tell which copy was
    chosen."""
    notebook = json.loads(NOTEBOOK)
    notebook["metadata"]["handed_in"] = label
    return json.dumps(notebook)


def handed_in(submission) -> str | None:
    """Which copy a submission is, "refused: <why>", or None when nothing was handed in."""
    try:
        raw = submission.read()
    except IntakeError as refused:
        return f"refused: {refused}"
    return None if raw is None else json.loads(raw)["metadata"]["handed_in"]


def times_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A times file with the `file` column: (student, time, file) rows."""
    path.write_text("student,assignment,time,file\n"
                    + "".join(f"{s},,{t},{f}\n" for s, t, f in rows))
    return path


LATER = "a later upload, by the LMS's numbering"


@pytest.mark.parametrize("files, graded", [
    # - sorts before .
    ({"ada_7_900_00_fixture.ipynb": "first", "ada_7_900_00_fixture-1.ipynb": "second"}, "second"),
    ({"ada_7_900_00_fixture-2.ipynb": "third", "ada_7_900_00_fixture-10.ipynb": "eleventh",
      "ada_7_900_00_fixture-9.ipynb": "tenth"}, "eleventh"),  # -10 sorts before -2 and -9
    # Canvas's number
    ({"ada_7_900_00_fixture-1.ipynb": "earlier", "ada_7_901_00_fixture.ipynb": "later"}, "later"),
    ({"ada_7_900_00_fixture.ipynb": "on time", "ada_late_7_905_00_fixture-1.ipynb": "late"},
     "late"),
])
def test_an_lms_file_handed_in_again_is_graded_from_the_latest_upload_with_a_line_for_each_other(
        tmp_path, course, files, graded):
    root = tmp_path / "download"
    root.mkdir()
    for name, label in files.items():
        (root / name).write_text(copy_of(label))
    found = discover(root, course, tmp_path / "unpacked")
    assert [(s.student, handed_in(s)) for s in found.submissions] == [("ada", graded)]
    latest = next(name for name, label in files.items() if label == graded)
    assert sorted(found.problems) == sorted(f"{name}: not graded: {latest} replaces it ({LATER})"
                                            for name, label in files.items() if label != graded)


def test_two_uploads_that_nothing_orders_are_both_refused(tmp_path, course):
    root = tmp_path / "download"
    root.mkdir()
    (root / "ada_7_900_00_fixture.ipynb").write_text(copy_of("one"))
    # The same number and no -N.
    (root / "ada_late_7_900_00_fixture.ipynb").write_text(copy_of("other"))
    found = discover(root, course, tmp_path / "unpacked")
    assert [handed_in(s) for s in found.submissions] == [
        "refused: uploaded 2 times with nothing to say which is the latest; none was graded"]
    assert found.problems == ["ada/00_fixture: not graded: ada_7_900_00_fixture.ipynb, "
                              "ada_late_7_900_00_fixture.ipynb are uploads of one notebook and "
                              "nothing says which is the latest"]


def test_a_times_file_that_names_the_files_decides_between_uploads(tmp_path, course):
    root = tmp_path / "download"
    root.mkdir()
    (root / "ada_7_900_00_fixture.ipynb").write_text(copy_of("first"))
    (root / "ada_7_901_00_fixture-1.ipynb").write_text(copy_of("second"))
    times = times_csv(tmp_path / "times.csv",
                      [("ada", "2026-03-01 12:00:00", "ada_7_900_00_fixture.ipynb"),
                       ("ada", "2026-03-01 11:00:00", "ada_7_901_00_fixture-1.ipynb")])
    found = discover(root, course, tmp_path / "unpacked", times)
    assert [handed_in(s) for s in found.submissions] == ["first"]
    assert found.problems == ["ada_7_901_00_fixture-1.ipynb: not graded: "
                              "ada_7_900_00_fixture.ipynb replaces it (later by the times file "
                              "times.csv)"]
    assert found.times["ada", "00_fixture"].when == datetime(2026, 3, 1, 12, 0)


@pytest.mark.parametrize("stamp, rows, graded, says", [
    (None, [], None,
     "(ada/ at an unknown time; ada.zip at an unknown time), and nothing says which is the later"),
    ("2026-03-01 12:00:00 UTC", [], None,
     "(ada/ at 2026-03-01 12:00:00 UTC by timestamp.txt, as nbgrader collect left it; ada.zip at "
     "an unknown time), and nothing says"),
    # A student-wide time tells no copy apart.
    (None, [("ada", "2026-03-01 12:00:00", "")], None, "nothing says"),
    (None, [("ada", "2026-03-01 12:00:00", "ada"), ("ada", "2026-03-01 13:00:00", "ada.zip")],
     "zip", "the latest, ada.zip, is graded"),
    ("2026-03-01 14:00:00 UTC", [("ada", "2026-03-01 13:00:00", "ada.zip")], "folder",
     "the latest, ada/, is graded"),
    # A tie.
    ("2026-03-01 13:00:00 UTC", [("ada", "2026-03-01 13:00:00", "ada.zip")], None, "nothing says"),
])
def test_a_folder_and_a_zip_of_one_id_give_one_submission_the_later_by_evidence_or_none(
        tmp_path, course, make_zip, stamp, rows, graded, says):
    root = submitted(tmp_path, {"bob": None})
    write(copy_of("folder"), root / "ada" / "00_fixture" / "00_fixture.ipynb")
    if stamp:
        (root / "ada" / "00_fixture" / "timestamp.txt").write_text(stamp)
    make_zip(root / "ada.zip", {"00_fixture/00_fixture.ipynb": copy_of("zip").encode()})
    found = discover(root, course, tmp_path / "unpacked",
                     times_csv(tmp_path / "times.csv", rows) if rows else None)
    [ada] = [s for s in found.submissions if s.student == "ada"]
    [line] = [p for p in found.problems if p.startswith("ada/00_fixture: ")]
    assert says in line
    if graded:
        assert handed_in(ada) == graded and "not graded" not in line
    else:
        assert (handed_in(ada).startswith("refused: handed in 2 times (ada/; ada.zip) with nothing "
                                          "to say which is the later")
                and line.startswith("ada/00_fixture: not graded: handed in 2"))
    assert [s.read() for s in found.submissions if s.student == "bob"] == [NOTEBOOK.encode()]


def test_an_lms_file_beside_a_folder_of_the_same_id_is_one_more_copy(tmp_path, course):
    root = submitted(tmp_path, {})
    write(copy_of("folder"), root / "ada" / "00_fixture" / "00_fixture.ipynb")
    (root / "ada" / "00_fixture" / "timestamp.txt").write_text("2026-03-01 12:00:00 UTC")
    (root / "ada_7_900_00_fixture.ipynb").write_text(copy_of("lms"))
    found = discover(root, course, tmp_path / "unpacked")
    assert handed_in(found.submissions[0]).startswith(
        "refused: handed in 2 times (ada/; ada_7_900_00_fixture.ipynb)")
    times = times_csv(tmp_path / "times.csv",
                      [("ada", "2026-03-01 12:30:00", "ada_7_900_00_fixture.ipynb")])
    found = discover(root, course, tmp_path / "unpacked-2", times)
    assert [handed_in(s) for s in found.submissions] == ["lms"]
    assert found.times["ada", "00_fixture"].when == datetime(2026, 3, 1, 12, 30)


def test_copies_that_hold_different_assignments_are_both_graded(tmp_path, make_zip):
    for lesson in ("00_fixture", "01_fixture"):
        (tmp_path / "course" / "solutions" / lesson).mkdir(parents=True)
        shutil.copy(FIXTURE, tmp_path / "course" / "solutions" / lesson / f"{lesson}.ipynb")
    root = submitted(tmp_path, {})
    write(copy_of("folder"), root / "ada" / "00_fixture" / "00_fixture.ipynb")
    make_zip(root / "ada.zip", {"01_fixture/01_fixture.ipynb": copy_of("zip").encode()})
    found = discover(root, Course(tmp_path / "course"), tmp_path / "unpacked")
    assert [(s.assignment, handed_in(s)) for s in found.submissions] == [("00_fixture", "folder"),
                                                                          ("01_fixture", "zip")]
    assert found.problems == []


def test_two_lms_users_under_one_name_are_refused_not_mixed(tmp_path, course):
    root = tmp_path / "download"
    root.mkdir()
    (root / "smithjane_101_900_00_fixture.ipynb").write_text(copy_of("one Jane"))
    (root / "smithjane_202_901_00_fixture.ipynb").write_text(copy_of("another Jane"))
    found = discover(root, course, tmp_path / "unpacked")
    assert handed_in(found.submissions[0]).startswith(
        "refused: the LMS download holds the files of 2 users")
    assert found.problems == ["smithjane: not graded: the LMS download holds the files of 2 users "
                              "(101, 202) under this one name; grade them apart"]


SHM = Path("/dev/shm")


def _plant(root: Path, files: list[tuple[str, str]]) -> None:
    for path, content in files:
        if path.endswith(".zip"):
            with zipfile.ZipFile(root / path, "w") as archive:
                archive.writestr("00_fixture/00_fixture.ipynb", content)
        else:
            write(content, root / path)


@settings(SLOW, max_examples=60)
@given(hand_ins("00_fixture", copy_of), shuffles)
def test_what_is_graded_does_not_depend_on_the_order_files_were_written_in(
        request, tmp_path_factory, course, class_, rnd):
    files, rows = class_
    if not files:
        return
    outcomes = []
    for order in (files, rnd.sample(files, len(files)), files[::-1]):
        # tmpfs lists a folder in the order its entries were made (ext4 in the order of their names'
        # hashes).
        tmp = Path(tempfile.mkdtemp(dir=SHM if SHM.is_dir() else tmp_path_factory.getbasetemp()))
        request.addfinalizer(lambda tmp=tmp: shutil.rmtree(tmp))
        (tmp / "submitted").mkdir()
        _plant(tmp / "submitted", order)
        times = times_csv(tmp / "times.csv", rnd.sample(rows, len(rows))) if rows else None
        found = discover(tmp / "submitted", course, tmp / "unpacked", times)
        outcomes.append(([(s.student, s.notebook, handed_in(s)) for s in found.submissions],
                         found.problems,
                         sorted((k, t.when, t.source) for k, t in found.times.items())))
        # One submission per student and notebook, and a reason for every copy set aside.
        assert len({(s.student, s.notebook) for s in found.submissions}) == len(found.submissions)
        for student in found.students:
            copies = {path.split("/")[0] for path, _ in files if path.startswith(student)}
            if len(copies) > 1:
                assert any(p.startswith(student) for p in found.problems), (student, copies)
    assert outcomes[0] == outcomes[1] == outcomes[2]



def test_a_times_file_reads_an_offset_of_hours_as_hours_not_seconds(tmp_path):
    """nbgrader's own parse_utc reads "+0100" as 100 seconds; an LMS means an hour."""
    times_file = tmp_path / "times.csv"
    times_file.write_text("student,time\nada,2026-12-07 10:00:00 +0100\n"
                          "bob,2026-12-07 10:00:00 -05:30\ncy,2026-12-07 10:00:00 UTC\n")
    times = {student: when for (student, _, _), (when, _) in read_times_file(times_file).items()}
    assert times == {"ada": datetime(2026, 12, 7, 9), "bob": datetime(2026, 12, 7, 15, 30),
                     "cy": datetime(2026, 12, 7, 10)}


def test_the_grading_engine_does_not_import_nbgrader():
    """Only the orchestrator reads submission times; a grading process would pay a second for it."""
    code = "import sys, autograder.engine; print('nbgrader' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
